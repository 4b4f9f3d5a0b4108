package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// nestedMeta is metadata no flat string map can hold.
const nestedMeta = `{"actor": {"id": "42", "roles": ["host", "player"]}, "n": 5, "ratio": 0.25, "ok": true, "none": null, "big": 12345678901234567890, "s": "text"}`

// TestMetadataRoundTrips: any JSON object given as metadata comes back with
// every value and type, through every read path, on events and snapshots;
// flat string maps keep working as before.
func TestMetadataRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := b.ctx
	nested := store.Event{Data: rawData("meta", `{"n": 1}`), RawMetadata: json.RawMessage(nestedMeta)}
	flat := store.Event{Data: rawData("meta", `{"n": 2}`), Metadata: map[string]string{"command_id": "c-1", "user": "u"}}
	none := store.Event{Data: rawData("meta", `{"n": 3}`)}
	res, err := b.store.Append(ctx, "meta", store.NoStream, nested, flat, none)
	require.NoError(t, err)

	check := func(path string, recs []store.Recorded) {
		t.Helper()
		require.Len(t, recs, 3, path)
		require.JSONEq(t, nestedMeta, string(recs[0].Metadata), path)
		var m struct {
			Actor struct {
				ID    string   `json:"id"`
				Roles []string `json:"roles"`
			} `json:"actor"`
			N   int         `json:"n"`
			OK  bool        `json:"ok"`
			Big json.Number `json:"big"`
		}
		require.NoError(t, recs[0].Metadata.Decode(&m), path)
		require.Equal(t, "42", m.Actor.ID, path)
		require.Equal(t, []string{"host", "player"}, m.Actor.Roles, path)
		require.Equal(t, 5, m.N, path)
		require.True(t, m.OK, path)
		require.Equal(t, "12345678901234567890", m.Big.String(), path, "large numbers keep every digit")
		for key, want := range map[string]string{"s": "text", "n": "5", "ok": "true", "none": "null",
			"big": "12345678901234567890", "actor": `{"id": "42", "roles": ["host", "player"]}`} {
			got, found := recs[0].Metadata.Get(key)
			require.True(t, found, "%s: %s", path, key)
			require.Equal(t, want, got, "%s: %s", path, key)
		}
		_, found := recs[0].Metadata.Get("missing")
		require.False(t, found, path)

		require.Equal(t, map[string]string{"command_id": "c-1", "user": "u"}, recs[1].Metadata.Strings(), path)
		require.JSONEq(t, `{"command_id": "c-1", "user": "u"}`, string(recs[1].Metadata), path)
		user, found := recs[1].Metadata.Get("user")
		require.True(t, found, path)
		require.Equal(t, "u", user, path)
		require.Nil(t, recs[2].Metadata, path)
		require.Nil(t, recs[2].Metadata.Strings(), path)
		_, found = recs[2].Metadata.Get("user")
		require.False(t, found, path)
		var untouched map[string]any
		require.NoError(t, recs[2].Metadata.Decode(&untouched), path)
		require.Nil(t, untouched, path)
	}

	fwd, err := b.store.ReadForward(ctx, "meta", 0, 10)
	require.NoError(t, err)
	check("ReadForward", fwd)

	back, err := b.store.ReadBackward(ctx, "meta", -1, 10)
	require.NoError(t, err)
	check("ReadBackward", []store.Recorded{back[2], back[1], back[0]})

	var streamed []store.Recorded
	for r, err := range b.store.Stream(ctx, "meta", 0, 2) {
		require.NoError(t, err)
		streamed = append(streamed, r)
	}
	check("Stream", streamed)

	// The feed's horizon is cluster-wide: another test's open transaction
	// holds the appends back for a while.
	var page store.FeedPage
	require.Eventually(t, func() bool {
		page, err = b.store.ReadFeed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 10})
		return err == nil && len(page.Events) == 3
	}, 30*time.Second, 5*time.Millisecond)
	check("ReadFeed", page.Events)

	var fed []store.Recorded
	for r, err := range b.store.Feed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 2}) {
		require.NoError(t, err)
		fed = append(fed, r)
		if r.GlobalPosition == res.LastPosition {
			break
		}
	}
	check("Feed", fed)

	got := make(chan store.Recorded, 3)
	sub, err := b.store.Subscribe(ctx, store.SubscriptionOptions{StreamID: "meta"}, func(_ context.Context, r store.Recorded) error {
		got <- r
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Stop() })
	var delivered []store.Recorded
	for range 3 {
		select {
		case r := <-got:
			delivered = append(delivered, r)
		case <-time.After(30 * time.Second):
			t.Fatal("the subscription did not deliver the three events")
		}
	}
	check("Subscribe", delivered)

	// Snapshots: both shapes.
	_, err = b.store.SaveSnapshot(ctx, store.Snapshot{StreamID: "meta", Version: 3, Type: "state", SchemaVersion: 1,
		Data: json.RawMessage(`{"s": 1}`), RawMetadata: json.RawMessage(nestedMeta)})
	require.NoError(t, err)
	snap, err := b.store.ReadSnapshot(ctx, "meta", 1)
	require.NoError(t, err)
	require.JSONEq(t, nestedMeta, string(snap.RawMetadata))
	_, err = b.store.SaveSnapshot(ctx, store.Snapshot{StreamID: "meta", Version: 3, Type: "state", SchemaVersion: 1,
		Data: json.RawMessage(`{"s": 2}`), Metadata: map[string]string{"k": "v"}})
	require.NoError(t, err)
	snap, err = b.store.ReadSnapshot(ctx, "meta", 1)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, snap.Metadata)
	require.JSONEq(t, `{"k": "v"}`, string(snap.RawMetadata))
}

// TestRawMetadataRefused: metadata that is not a JSON object, or given in
// both fields, is refused before anything is sent.
func TestRawMetadataRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, ev := range map[string]store.Event{
		"array":   {Data: rawData("x", `{}`), RawMetadata: json.RawMessage(`["a"]`)},
		"string":  {Data: rawData("x", `{}`), RawMetadata: json.RawMessage(`"a"`)},
		"invalid": {Data: rawData("x", `{}`), RawMetadata: json.RawMessage(`{"a":}`)},
		"both":    {Data: rawData("x", `{}`), RawMetadata: json.RawMessage(`{"a":1}`), Metadata: map[string]string{"a": "1"}},
		"utf8":    {Data: rawData("x", `{}`), RawMetadata: json.RawMessage("{\"a\":\"\xff\"}")},
	} {
		_, err := b.store.Append(b.ctx, "refused-"+name, store.NoStream, ev)
		require.ErrorIs(t, err, store.ErrInvalidEventData, name)
		_, err = b.store.StreamInfo(b.ctx, "refused-"+name)
		require.ErrorIs(t, err, store.ErrStreamNotFound, name)
	}
	_, err := b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: "s", Version: 1, Type: "t", SchemaVersion: 1,
		Data: json.RawMessage(`{}`), RawMetadata: json.RawMessage(`[1]`)})
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}

// TestMetadataMethods: Get, Strings, Decode and the JSON form of a
// Metadata, without a database.
func TestMetadataMethods(t *testing.T) {
	t.Parallel()
	m := store.Metadata(`{"user": "u-1", "esc\"aped": "q\u00e9", "n": 5, "o": {"a": null}}`)
	for key, want := range map[string]string{"user": "u-1", `esc"aped`: "qé", "n": "5", "o": `{"a": null}`} {
		got, found := m.Get(key)
		require.True(t, found, key)
		require.Equal(t, want, got, key)
	}
	_, found := m.Get("missing")
	require.False(t, found)
	require.Equal(t, map[string]string{"user": "u-1", `esc"aped`: "qé", "n": "5", "o": `{"a": null}`}, m.Strings())

	// An object no flat map holds exactly (a duplicate key) reads as
	// encoding/json reads it: the last value wins.
	dup := store.Metadata(`{"k": "first", "k": "last"}`)
	got, found := dup.Get("k")
	require.True(t, found)
	require.Equal(t, "last", got)

	var none store.Metadata
	_, found = none.Get("user")
	require.False(t, found)
	require.Nil(t, none.Strings())
	require.Empty(t, none.String())

	// A Recorded marshals its metadata as the object, and back.
	rec := store.Recorded{StreamID: "s", Metadata: m}
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	require.Contains(t, string(b), `"Metadata":{"user":"u-1"`)
	var back store.Recorded
	require.NoError(t, json.Unmarshal(b, &back))
	require.JSONEq(t, string(m), string(back.Metadata))
	b, err = json.Marshal(store.Recorded{})
	require.NoError(t, err)
	require.Contains(t, string(b), `"Metadata":null`)
	back = store.Recorded{Metadata: m}
	require.NoError(t, json.Unmarshal(b, &back))
	require.Nil(t, back.Metadata)
	require.Error(t, json.Unmarshal([]byte(`{"Metadata": [1]}`), &back))
}
