package game_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/store"
)

// TestRecoverModes: for each mode a realistic simulated game, complete and
// cut off mid-game, recovers from the store to exactly the state applying
// its events in memory gives.
func TestRecoverModes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	for i, mode := range modes() {
		full := game.Simulate(game.SimConfig{Seed: uint64(100 + i), Mode: mode})
		for _, tc := range []struct {
			name string
			stop int
		}{
			{"complete", 0},
			{"in progress", len(full) * 2 / 3},
		} {
			t.Run(fmt.Sprintf("%s/%s", mode, tc.name), func(t *testing.T) {
				t.Parallel()
				id := fmt.Sprintf("game-%s-%d", mode, tc.stop)
				evs := e.storeGame(t, game.SimConfig{Seed: uint64(100 + i), Mode: mode, GameID: id, StopAfter: tc.stop}, 7)
				want := replay(t, evs)

				res, err := game.Recover(e.ctx, e.store, id, game.RecoverOptions{})
				require.NoError(t, err)
				require.Equal(t, want, res.State)
				require.Equal(t, id, res.GameID)
				require.Equal(t, testGuild, res.GuildID)
				require.Equal(t, int64(len(evs)), res.Version)
				require.Equal(t, len(evs), res.Replayed)
				require.Zero(t, res.SnapshotVersion)
				require.NoError(t, res.SnapshotIgnored)
				require.Empty(t, res.Skipped)
				require.Equal(t, 1, res.Attempts)
				require.Equal(t, tc.stop == 0, res.State.Completed())
				require.Equal(t, tc.stop != 0, res.State.InProgress())
			})
		}
	}
}

// TestRecoverFromSnapshot: with a snapshot in the middle of the stream,
// recovery starts from it, replays only the events after it and reaches
// the same state as a full replay and as applying the events in memory.
func TestRecoverFromSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	for i, mode := range modes() {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			id := "game-" + string(mode)
			evs := e.storeGame(t, game.SimConfig{Seed: uint64(200 + i), Mode: mode, GameID: id}, 0)
			k := len(evs) / 2
			stored, err := game.SaveSnapshot(e.ctx, e.store, replay(t, evs[:k]), int64(k))
			require.NoError(t, err)
			require.True(t, stored)

			res, err := game.Recover(e.ctx, e.store, id, game.RecoverOptions{BatchSize: 5})
			require.NoError(t, err)
			require.Equal(t, replay(t, evs), res.State)
			require.Equal(t, int64(k), res.SnapshotVersion)
			require.NoError(t, res.SnapshotIgnored)
			require.Equal(t, len(evs)-k, res.Replayed)
			require.Equal(t, int64(len(evs)), res.Version)

			full, err := game.Recover(e.ctx, e.store, id, game.RecoverOptions{FullReplay: true})
			require.NoError(t, err)
			require.Equal(t, res.State, full.State)
			require.Zero(t, full.SnapshotVersion)
			require.Equal(t, len(evs), full.Replayed)
		})
	}
}

// TestRecoverSnapshotSkipsCoveredEvents: events the snapshot covers are
// not read again (a damaged one there does not matter), except when a
// causation id reaches behind the snapshot: then the covered events' ids
// are read to check it, and a forward reference is still caught.
func TestRecoverSnapshotSkipsCoveredEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	tests := []struct {
		name string
		// corrupt damages the stream of n events with a snapshot at k.
		corrupt func(t *testing.T, id string, k int64)
		// wantRule is "" when recovery from the snapshot succeeds.
		wantRule string
	}{
		{"undecodable event before the snapshot", func(t *testing.T, id string, k int64) {
			e.admin(t, `UPDATE eventstore.events SET data = '[]' WHERE stream_id = $1 AND stream_version = 3`, id)
		}, ""},
		{"causation reaching behind the snapshot", func(t *testing.T, id string, k int64) {
			e.admin(t, `UPDATE eventstore.events SET causation_id = $2 WHERE stream_id = $1 AND stream_version = $3`,
				id, e.eventID(t, id, 2), k+2)
		}, ""},
		{"causation to a command named before the snapshot", func(t *testing.T, id string, k int64) {
			cmd := uuid.New() // a command, not an event
			e.admin(t, `UPDATE eventstore.events SET metadata = jsonb_build_object('command_id', $2::text)
				WHERE stream_id = $1 AND stream_version = 2`, id, cmd.String())
			e.admin(t, `UPDATE eventstore.events SET causation_id = $2 WHERE stream_id = $1 AND stream_version = $3`,
				id, cmd, k+3)
		}, ""},
		{"causation pointing forward after the snapshot", func(t *testing.T, id string, k int64) {
			e.admin(t, `UPDATE eventstore.events SET causation_id = $2 WHERE stream_id = $1 AND stream_version = $3`,
				id, e.eventID(t, id, k+4), k+2)
		}, game.RuleCausation},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("game-%d", i)
			evs := e.storeGame(t, game.SimConfig{Seed: uint64(300 + i), Mode: events.ModeKnockout, GameID: id}, 0)
			k := len(evs) / 2
			_, err := game.SaveSnapshot(e.ctx, e.store, replay(t, evs[:k]), int64(k))
			require.NoError(t, err)
			tt.corrupt(t, id, int64(k))

			res, err := game.Recover(e.ctx, e.store, id, game.RecoverOptions{BatchSize: 4})
			if tt.wantRule != "" {
				var re *game.RecoveryError
				require.ErrorAs(t, err, &re)
				require.Equal(t, tt.wantRule, re.Rule)
				require.Equal(t, int64(k+2), re.StreamVersion)
				require.Zero(t, res.State)
				return
			}
			require.NoError(t, err)
			require.Equal(t, int64(k), res.SnapshotVersion)
			require.Equal(t, replay(t, evs), res.State)
		})
	}
}

// TestRecoverIgnoresUnusableSnapshots: a snapshot of another schema
// version, of another type, or whose state does not fit the stream is not
// used; recovery replays the whole stream and says why.
func TestRecoverIgnoresUnusableSnapshots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	tests := []struct {
		name string
		// snap returns the snapshot to store for a game whose first k events give st.
		snap func(st game.State, k int64) store.Snapshot
		want error
	}{
		{"newer schema version", func(st game.State, k int64) store.Snapshot {
			s := gameSnapshot(t, st, k)
			s.SchemaVersion = game.SnapshotSchemaVersion + 1
			return s
		}, store.ErrSnapshotTooNew},
		{"another snapshot type", func(st game.State, k int64) store.Snapshot {
			s := gameSnapshot(t, st, k)
			s.Type = "leaderboard"
			return s
		}, game.ErrInvalidSnapshot},
		{"state of another game", func(st game.State, k int64) store.Snapshot {
			st.GameID = "game-other"
			return gameSnapshot(t, st, k)
		}, game.ErrInvalidSnapshot},
		{"state of another guild", func(st game.State, k int64) store.Snapshot {
			st.GuildID = "guild-2"
			return gameSnapshot(t, st, k)
		}, game.ErrInvalidSnapshot},
		{"state breaking an invariant", func(st game.State, k int64) store.Snapshot {
			team := st.Teams["team-1"]
			team.Score = -5
			st.Teams["team-1"] = team
			return gameSnapshot(t, st, k)
		}, game.ErrInvalidState},
		{"event count differing from the version", func(st game.State, k int64) store.Snapshot {
			return gameSnapshot(t, st, k+1)
		}, game.ErrInvalidSnapshot},
		{"unknown field", func(st game.State, k int64) store.Snapshot {
			s := gameSnapshot(t, st, k)
			s.Data = json.RawMessage(`{"game_id":"x","score_board":[]}`)
			return s
		}, game.ErrInvalidSnapshot},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("game-%d", i)
			evs := e.storeGame(t, game.SimConfig{Seed: uint64(400 + i), Mode: events.ModeRace, GameID: id}, 0)
			k := int64(len(evs) / 2)
			snap := tt.snap(replay(t, evs[:k]).Clone(), k)
			snap.StreamID = id
			stored, err := e.store.SaveSnapshot(e.ctx, snap)
			require.NoError(t, err)
			require.True(t, stored)

			res, err := game.Recover(e.ctx, e.store, id, game.RecoverOptions{})
			require.NoError(t, err)
			require.ErrorIs(t, res.SnapshotIgnored, tt.want)
			require.Zero(t, res.SnapshotVersion)
			require.Equal(t, len(evs), res.Replayed)
			require.Equal(t, replay(t, evs), res.State)
		})
	}
}

// gameSnapshot returns st as a game snapshot at version k of st's stream.
func gameSnapshot(t *testing.T, st game.State, k int64) store.Snapshot {
	t.Helper()
	data, err := json.Marshal(st)
	require.NoError(t, err)
	return store.Snapshot{StreamID: st.GameID, Version: k, Type: game.SnapshotType,
		SchemaVersion: game.SnapshotSchemaVersion, Data: data}
}

// TestRecoverStreamErrors: streams that hold no game, or that the caller
// may not recover, fail with precise errors.
func TestRecoverStreamErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	require.NoError(t, e.store.CreateStream(e.ctx, "game-empty"))
	e.storeGame(t, game.SimConfig{Seed: 1, GameID: "game-deleted", StopAfter: 4}, 0)
	_, err := e.store.DeleteStream(e.ctx, "game-deleted", store.Any)
	require.NoError(t, err)
	e.storeGame(t, game.SimConfig{Seed: 2, GameID: "game-1", StopAfter: 4}, 0)
	headless := game.Simulate(game.SimConfig{Seed: 3, GameID: "game-headless", GuildID: testGuild, StopAfter: 6})
	_, err = game.AppendGame(e.ctx, e.store, headless[1:], 0)
	require.NoError(t, err)

	tests := []struct {
		name     string
		gameID   string
		opts     game.RecoverOptions
		guild    string
		want     error
		wantRule string
	}{
		{"missing stream", "game-missing", game.RecoverOptions{}, testGuild, store.ErrStreamNotFound, ""},
		{"deleted stream", "game-deleted", game.RecoverOptions{}, testGuild, store.ErrStreamDeleted, ""},
		{"empty stream", "game-empty", game.RecoverOptions{}, testGuild, game.ErrGameNotStarted, game.RuleFirstEvent},
		{"empty stream, skipping", "game-empty", game.RecoverOptions{OnInvalid: game.SkipAndReport}, testGuild,
			game.ErrGameNotStarted, game.RuleFirstEvent},
		{"no game_started", "game-headless", game.RecoverOptions{}, testGuild, game.ErrInvalidEvent, game.RuleFirstEvent},
		{"no game_started, skipping", "game-headless", game.RecoverOptions{OnInvalid: game.SkipAndReport}, testGuild,
			game.ErrInvalidEvent, game.RuleFirstEvent},
		// Reads are scoped to the context's guild: another guild's game is not there.
		{"context of another guild", "game-1", game.RecoverOptions{}, "guild-2", store.ErrStreamNotFound, ""},
		{"unknown policy", "game-1", game.RecoverOptions{OnInvalid: 7}, testGuild, store.ErrInvalidArgument, ""},
		{"batch too large", "game-1", game.RecoverOptions{BatchSize: 20_000}, testGuild, store.ErrInvalidBatchSize, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := game.Recover(store.WithGuild(t.Context(), tt.guild), e.store, tt.gameID, tt.opts)
			require.ErrorIs(t, err, tt.want)
			require.Zero(t, res.State)
			require.Empty(t, res.Skipped)
			var re *game.RecoveryError
			if tt.wantRule == "" {
				require.False(t, errors.As(err, &re), "not a recovery error: %v", err)
				return
			}
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantRule, re.Rule)
			require.False(t, re.Resumable)
			require.Equal(t, tt.gameID, re.GameID)
		})
	}
}
