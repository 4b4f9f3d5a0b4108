package store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/gamebot/eventstore/translator"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

type scoredV1 struct {
	Score int `json:"score"`
}

func (scoredV1) EventType() string { return "scored" }
func (scoredV1) EventVersion() int { return 1 }

type scoredV2 struct {
	Score int `json:"score"`
	Bonus int `json:"bonus"`
}

func (scoredV2) EventType() string { return "scored" }
func (scoredV2) EventVersion() int { return 2 }

type scoredV3 struct {
	Points int `json:"points"`
	Bonus  int `json:"bonus"`
}

func (scoredV3) EventType() string { return "scored" }
func (scoredV3) EventVersion() int { return 3 }

// typedSetup returns a store whose serializer knows scored v1..v3 and whose
// translator migrates v1 -> v2 (bonus defaults to 5) -> v3 (score renamed).
func typedSetup(t *testing.T) *bundle {
	t.Helper()
	return setup(t, scoredConfig(t))
}

// scoredConfig is typedSetup's store configuration.
func scoredConfig(t *testing.T) store.Config {
	t.Helper()
	reg := serde.NewRegistry()
	require.NoError(t, reg.Register(scoredV1{}, scoredV2{}, scoredV3{}))
	tr := translator.New()
	require.NoError(t, tr.RegisterType("scored", 1, 2, 3))
	require.NoError(t, tr.RegisterMigration("scored", 1, 2, func(o map[string]any) (map[string]any, error) {
		o["bonus"] = 5
		return o, nil
	}))
	require.NoError(t, tr.RegisterMigration("scored", 2, 3, func(o map[string]any) (map[string]any, error) {
		o["points"] = o["score"]
		delete(o, "score")
		return o, nil
	}))
	require.NoError(t, tr.RegisterMigration("scored", 3, 2, func(o map[string]any) (map[string]any, error) {
		o["score"] = o["points"]
		delete(o, "points")
		return o, nil
	}))
	return store.Config{Serializer: serde.NewJSON(reg), Translator: tr}
}

func TestReadUpcastsToLatestVersion(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream,
		store.Event{Data: scoredV1{Score: 7}},
		store.Event{Data: scoredV2{Score: 8, Bonus: 1}},
		store.Event{Data: scoredV3{Points: 9, Bonus: 2}})
	require.NoError(t, err)

	recs, err := b.store.ReadForward(b.ctx, "s", 0, 10)
	require.NoError(t, err)
	require.Equal(t, []serde.Event{scoredV3{Points: 7, Bonus: 5}, scoredV3{Points: 8, Bonus: 1}, scoredV3{Points: 9, Bonus: 2}},
		[]serde.Event{recs[0].Event, recs[1].Event, recs[2].Event})
	require.Equal(t, 1, recs[0].StoredVersion)
	require.JSONEq(t, `{"score":7}`, string(recs[0].Data), "the raw record stays as stored")

	// The caller may ask for another version, downgrades included.
	v2, err := b.store.DecodeAs(recs[2], 2)
	require.NoError(t, err)
	require.Equal(t, scoredV2{Score: 9, Bonus: 2}, v2)
	v1, err := b.store.DecodeAs(recs[0], 1)
	require.NoError(t, err)
	require.Equal(t, scoredV1{Score: 7}, v1)
	_, err = b.store.DecodeAs(recs[2], 1)
	require.ErrorIs(t, err, translator.ErrNoPath)
}

// TestUndecodableEventsAreReportedNotLost: an unknown type or broken data
// gives a *DecodeError naming stream and version; the raw record is still
// returned, and the other events decode.
func TestUndecodableEventsAreReportedNotLost(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream,
		store.Event{Data: scoredV2{Score: 1}},
		store.Event{Data: serde.Raw{Type: "mystery", Version: 1, Data: json.RawMessage(`{"x":1}`)}},
		store.Event{Data: serde.Raw{Type: "scored", Version: 2, Data: json.RawMessage(`{"score":"not a number"}`)}},
		store.Event{Data: scoredV2{Score: 4}})
	require.NoError(t, err)

	recs, err := b.store.ReadForward(b.ctx, "s", 0, 10)
	require.Len(t, recs, 4)
	require.ErrorIs(t, err, store.ErrInvalidEventType)
	require.ErrorIs(t, err, store.ErrDeserializationFailed)
	var de *store.DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, int64(2), de.Record.Version)
	require.Contains(t, err.Error(), `"s" version 2`)
	require.NotNil(t, recs[0].Event)
	require.Nil(t, recs[1].Event)
	require.JSONEq(t, `{"x":1}`, string(recs[1].Data))
	require.Nil(t, recs[2].Event)
	require.NotNil(t, recs[3].Event)

	var got []int64
	var failed []int64
	for r, err := range b.store.Stream(b.ctx, "s", 0, 3) {
		got = append(got, r.Version)
		if err != nil {
			require.True(t, errors.As(err, &de))
			failed = append(failed, de.Record.Version)
		}
	}
	require.Equal(t, []int64{1, 2, 3, 4}, got, "the iterator goes on past undecodable events")
	require.Equal(t, []int64{2, 3}, failed)
}

func TestAppendRefusesUnknownTypesWithTypedSerializer(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	type other struct{ serde.Raw }
	_, err := b.store.Append(b.ctx, "s", store.NoStream, store.Event{Data: other{serde.Raw{Type: "unknown", Version: 1}}})
	require.ErrorIs(t, err, store.ErrInvalidEventType)
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM eventstore.streams`).Scan(&n))
	require.Zero(t, n)
}

// TestLargeBatchesKeepOrder: large batches are encoded and decoded on
// several goroutines; the results, the upcasting and the errors are those
// of one-by-one processing: every event in its place, the first bad event
// reported first.
func TestLargeBatchesKeepOrder(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	const n = 1000
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = store.Event{Data: scoredV1{Score: i + 1}}
	}
	broken := map[int]bool{211: true, 702: true, 703: true, 998: true}
	for i := range broken {
		evs[i] = store.Event{Data: serde.Raw{Type: "scored", Version: 2, Data: json.RawMessage(`{"score":"x"}`)}}
	}

	// Encoding: the first invalid event wins, whichever goroutine meets it.
	bad := slices.Clone(evs)
	bad[640] = store.Event{Data: scoredV1{Score: 1}, ID: uuid.New()}
	bad[900] = store.Event{Data: nil}
	bad[950] = store.Event{Data: scoredV1{Score: 2}, ID: bad[640].ID}
	bad[300] = store.Event{Data: serde.Raw{Version: 1, Data: json.RawMessage(`{}`)}}
	_, err := b.store.Append(b.ctx, "big", store.NoStream, bad...)
	require.ErrorIs(t, err, store.ErrInvalidEventType)
	require.Contains(t, err.Error(), "event 301 of 1000")
	bad[300] = evs[300]
	_, err = b.store.Append(b.ctx, "big", store.NoStream, bad...)
	require.ErrorIs(t, err, store.ErrInvalidEventData)
	require.Contains(t, err.Error(), "event 901 of 1000")
	bad[900] = evs[900]
	_, err = b.store.Append(b.ctx, "big", store.NoStream, bad...)
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	require.Contains(t, err.Error(), "event 951 of 1000")

	res, err := b.store.Append(b.ctx, "big", store.NoStream, evs...)
	require.NoError(t, err)
	require.Equal(t, int64(n), res.Version)

	recs, err := b.store.ReadForward(b.ctx, "big", 1, n)
	require.Len(t, recs, n)
	failed := decodeFailures(err)
	require.Equal(t, []int64{212, 703, 704, 999}, failed)
	var de *store.DecodeError
	require.ErrorAs(t, err, &de)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
		if broken[i] {
			require.Nil(t, r.Event)
			continue
		}
		require.Equal(t, scoredV3{Points: i + 1, Bonus: 5}, r.Event, "upcast v1 -> v3")
	}
}

// decodeFailures returns the versions of the *DecodeErrors in err's tree,
// depth first, in order.
func decodeFailures(err error) []int64 {
	var de *store.DecodeError
	switch e := err.(type) {
	case nil:
		return nil
	case *store.DecodeError:
		return []int64{e.Record.Version}
	case interface{ Unwrap() []error }:
		var out []int64
		for _, one := range e.Unwrap() {
			out = append(out, decodeFailures(one)...)
		}
		return out
	case interface{ Unwrap() error }:
		return decodeFailures(e.Unwrap())
	}
	if errors.As(err, &de) {
		return []int64{de.Record.Version}
	}
	return nil
}
