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
		require.JSONEq(t, nestedMeta, string(recs[0].RawMetadata), path)
		var m struct {
			Actor struct {
				ID    string   `json:"id"`
				Roles []string `json:"roles"`
			} `json:"actor"`
			N   int         `json:"n"`
			OK  bool        `json:"ok"`
			Big json.Number `json:"big"`
		}
		require.NoError(t, recs[0].DecodeMetadata(&m), path)
		require.Equal(t, "42", m.Actor.ID, path)
		require.Equal(t, []string{"host", "player"}, m.Actor.Roles, path)
		require.Equal(t, 5, m.N, path)
		require.True(t, m.OK, path)
		require.Equal(t, "12345678901234567890", m.Big.String(), path, "large numbers keep every digit")

		require.Equal(t, map[string]string{"command_id": "c-1", "user": "u"}, recs[1].Metadata, path)
		require.JSONEq(t, `{"command_id": "c-1", "user": "u"}`, string(recs[1].RawMetadata), path)
		require.Nil(t, recs[2].Metadata, path)
		require.Nil(t, recs[2].RawMetadata, path)
		var untouched map[string]any
		require.NoError(t, recs[2].DecodeMetadata(&untouched), path)
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
