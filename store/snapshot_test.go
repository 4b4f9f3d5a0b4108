package store_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// sumState is the fold the snapshot tests use: the sum of the events' n,
// how many events were applied and the last version seen.
type sumState struct {
	Sum   int   `json:"sum"`
	Count int   `json:"count"`
	Last  int64 `json:"last"`
}

func (s sumState) apply(t *testing.T, r store.Recorded) sumState {
	t.Helper()
	require.Equal(t, s.Last+1, r.Version, "events arrive in order, without gaps")
	return sumState{Sum: s.Sum + eventN(t, r), Count: s.Count + 1, Last: r.Version}
}

// replay folds streamID from version from onto st through the Stream iterator.
func replay(t *testing.T, b *bundle, streamID string, st sumState, from int64) sumState {
	t.Helper()
	for r, err := range b.store.Stream(b.ctx, streamID, from, 128) {
		require.NoError(t, err)
		st = st.apply(t, r)
	}
	return st
}

// sumEvents appends count events whose n values are not a plain sequence,
// so a fold that skipped or repeated one would notice.
func sumEvents(count int) []store.Event {
	evs := make([]store.Event, count)
	for i := range evs {
		evs[i] = rawEvent("scored", (i*7919)%1000-300)
	}
	return evs
}

func TestSnapshotPlusTailEqualsFullReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const stream = "game-snap"
	_, err := b.store.Append(b.ctx, stream, store.NoStream, sumEvents(1000)...)
	require.NoError(t, err)

	full := replay(t, b, stream, sumState{}, 0)
	require.Equal(t, 1000, full.Count)

	// Snapshot the state after the first 500 events.
	var at500 sumState
	recs, err := b.store.ReadForward(b.ctx, stream, 1, 500)
	require.NoError(t, err)
	for _, r := range recs {
		at500 = at500.apply(t, r)
	}
	data, err := json.Marshal(at500)
	require.NoError(t, err)
	stored, err := b.store.SaveSnapshot(b.ctx, store.Snapshot{
		StreamID: stream, Version: 500, Type: "sum_state", SchemaVersion: 1, Data: data,
		Metadata: map[string]string{"by": "test"},
	})
	require.NoError(t, err)
	require.True(t, stored)

	rebuild := func(t *testing.T) sumState {
		t.Helper()
		snap, err := b.store.ReadSnapshot(b.ctx, stream, 1)
		require.NoError(t, err)
		require.Equal(t, int64(500), snap.Version)
		require.Equal(t, "sum_state", snap.Type)
		require.Equal(t, testGuild, snap.GuildID)
		require.Equal(t, map[string]string{"by": "test"}, snap.Metadata)
		require.False(t, snap.CreatedAt.IsZero())
		var st sumState
		require.NoError(t, json.Unmarshal(snap.Data, &st))
		return replay(t, b, stream, st, snap.Version+1)
	}
	require.Equal(t, full, rebuild(t))

	// Once the snapshot covers them, the first 500 events may leave the hot
	// table; both ways of rebuilding still agree.
	res, err := b.store.ArchiveBefore(b.ctx, stream, 501)
	require.NoError(t, err)
	require.Equal(t, int64(500), res.EventsArchived)
	require.Equal(t, 500, countRows(t, b, stream))
	require.Equal(t, full, rebuild(t))
	require.Equal(t, full, replay(t, b, stream, sumState{}, 0))
}

func TestSnapshotRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(10, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "gone", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = b.store.DeleteStream(b.ctx, "gone", store.Exact(3))
	require.NoError(t, err)
	_, err = b.store.Append(store.WithGuild(b.ctx, "guild-2"), "theirs", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)

	snap := func(stream string, version int64) store.Snapshot {
		return store.Snapshot{StreamID: stream, Version: version, Type: "sum_state", SchemaVersion: 1, Data: json.RawMessage(`{"sum": 1}`)}
	}
	tests := []struct {
		name    string
		snap    store.Snapshot
		noGuild bool
		wantErr error
	}{
		{name: "beyond the stream version", snap: snap("game-1", 11), wantErr: store.ErrSnapshotBeyondStream},
		{name: "missing stream", snap: snap("nope", 1), wantErr: store.ErrStreamNotFound},
		{name: "soft-deleted stream", snap: snap("gone", 3), wantErr: store.ErrStreamDeleted},
		{name: "another guild's stream", snap: snap("theirs", 1), wantErr: store.ErrGuildMismatch},
		{name: "no guild in context", snap: snap("game-1", 1), noGuild: true, wantErr: store.ErrGuildRequired},
		{name: "version zero", snap: snap("game-1", 0), wantErr: store.ErrInvalidArgument},
		{name: "empty type", snap: store.Snapshot{StreamID: "game-1", Version: 1, SchemaVersion: 1, Data: json.RawMessage(`{}`)}, wantErr: store.ErrInvalidArgument},
		{name: "schema version zero", snap: store.Snapshot{StreamID: "game-1", Version: 1, Type: "t", Data: json.RawMessage(`{}`)}, wantErr: store.ErrInvalidArgument},
		{name: "invalid JSON", snap: store.Snapshot{StreamID: "game-1", Version: 1, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`{`)}, wantErr: store.ErrInvalidArgument},
		{name: "null data", snap: store.Snapshot{StreamID: "game-1", Version: 1, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`null`)}, wantErr: store.ErrInvalidArgument},
		{name: "invalid stream id", snap: snap("$all", 1), wantErr: store.ErrInvalidStreamID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := b.ctx
			if tt.noGuild {
				ctx = t.Context()
			}
			_, err := b.store.SaveSnapshot(ctx, tt.snap)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM eventstore.snapshots`).Scan(&n))
	require.Zero(t, n, "no refused snapshot was stored")

	// The version check is SQL's own: a direct call is refused with ES011.
	_, err = b.pool.Exec(b.ctx, `SELECT * FROM eventstore.record_snapshot('game-1', NULL, 11, 't', 1, '{}')`)
	require.ErrorIs(t, store.MapError(err), store.ErrSnapshotBeyondStream)
	require.ErrorContains(t, err, "beyond the stream's version 10")
}

func TestSnapshotKeepsTheMostUseful(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(100, 1)...)
	require.NoError(t, err)

	save := func(version int64, schema int) bool {
		t.Helper()
		stored, err := b.store.SaveSnapshot(b.ctx, store.Snapshot{
			StreamID: "game-1", Version: version, Type: "sum_state", SchemaVersion: schema, Data: json.RawMessage(`{"v": 1}`),
		})
		require.NoError(t, err)
		return stored
	}
	held := func() (int64, int) {
		t.Helper()
		snap, err := b.store.ReadSnapshot(b.ctx, "game-1", store.AnySchemaVersion)
		require.NoError(t, err)
		return snap.Version, snap.SchemaVersion
	}

	steps := []struct {
		name       string
		version    int64
		schema     int
		wantStored bool
		wantHeld   [2]int64
	}{
		{name: "first snapshot", version: 50, schema: 1, wantStored: true, wantHeld: [2]int64{50, 1}},
		{name: "later version replaces", version: 80, schema: 1, wantStored: true, wantHeld: [2]int64{80, 1}},
		{name: "same version replaces", version: 80, schema: 1, wantStored: true, wantHeld: [2]int64{80, 1}},
		{name: "older version is kept out", version: 60, schema: 1, wantStored: false, wantHeld: [2]int64{80, 1}},
		{name: "newer schema replaces even at an older version", version: 40, schema: 2, wantStored: true, wantHeld: [2]int64{40, 2}},
		{name: "older schema is kept out even at a later version", version: 100, schema: 1, wantStored: false, wantHeld: [2]int64{40, 2}},
	}
	for _, st := range steps {
		require.Equal(t, st.wantStored, save(st.version, st.schema), st.name)
		v, s := held()
		require.Equal(t, st.wantHeld, [2]int64{v, int64(s)}, st.name)
	}
}

func TestSnapshotSchemaVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(10, 1)...)
	require.NoError(t, err)
	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{
		StreamID: "game-1", Version: 7, Type: "sum_state", SchemaVersion: 2, Data: json.RawMessage(`{"sum": 28}`),
	})
	require.NoError(t, err)

	tests := []struct {
		name     string
		current  int
		wantErr  error
		notErr   error
		wantSnap bool
	}{
		{name: "same schema", current: 2},
		{name: "any schema", current: store.AnySchemaVersion},
		{name: "reader is newer: outdated", current: 3, wantErr: store.ErrSnapshotOutdated, notErr: store.ErrSnapshotTooNew},
		{name: "reader is older: too new", current: 1, wantErr: store.ErrSnapshotTooNew, notErr: store.ErrSnapshotOutdated},
		{name: "negative", current: -1, wantErr: store.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, err := b.store.ReadSnapshot(b.ctx, "game-1", tt.current)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, int64(7), snap.Version)
				require.JSONEq(t, `{"sum": 28}`, string(snap.Data))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			if tt.notErr != nil {
				require.NotErrorIs(t, err, tt.notErr)
				var se *store.SnapshotSchemaError
				require.True(t, errors.As(err, &se))
				require.Equal(t, 2, se.Snapshot.SchemaVersion, "the stored snapshot travels with the error")
				require.Equal(t, int64(7), se.Snapshot.Version)
				require.JSONEq(t, `{"sum": 28}`, string(se.Snapshot.Data))
				require.Equal(t, tt.current, se.Current)
			}
		})
	}
}

func TestSnapshotDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)
	_, err = b.store.ReadSnapshot(b.ctx, "game-1", 1)
	require.ErrorIs(t, err, store.ErrSnapshotNotFound)

	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: "game-1", Version: 5, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`[1, 2]`)})
	require.NoError(t, err)

	deleted, err := b.store.DeleteSnapshot(store.WithGuild(b.ctx, "guild-2"), "game-1")
	require.NoError(t, err)
	require.False(t, deleted, "another guild cannot delete it")

	deleted, err = b.store.DeleteSnapshot(b.ctx, "game-1")
	require.NoError(t, err)
	require.True(t, deleted)
	_, err = b.store.ReadSnapshot(b.ctx, "game-1", 1)
	require.ErrorIs(t, err, store.ErrSnapshotNotFound)
	deleted, err = b.store.DeleteSnapshot(b.ctx, "game-1")
	require.NoError(t, err)
	require.False(t, deleted)

	// A soft-deleted stream's snapshot is not handed out.
	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: "game-1", Version: 5, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`[1, 2]`)})
	require.NoError(t, err)
	_, err = b.store.DeleteStream(b.ctx, "game-1", store.Exact(5))
	require.NoError(t, err)
	_, err = b.store.ReadSnapshot(b.ctx, "game-1", 1)
	require.ErrorIs(t, err, store.ErrStreamDeleted)
}
