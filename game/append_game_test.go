package game_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/store"
)

// TestAppendGame: a simulated game is stored in batches as one stream
// named by the game id, with the causal links recovery checks: the first
// event caused by a command its metadata names, every later one by the
// event before it, one correlation id per round.
func TestAppendGame(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	for _, batch := range []int{0, 1, 4, 1000} {
		for _, mode := range modes() {
			id := fmt.Sprintf("game-%s-%d", mode, batch)
			evs := game.Simulate(game.SimConfig{Seed: 80, Mode: mode, GameID: id, GuildID: testGuild})
			res, err := game.AppendGame(t.Context(), e.store, evs, batch) // the guild comes from the events
			require.NoError(t, err)
			require.Equal(t, int64(len(evs)), res.Version)

			recs, err := e.store.ReadForward(e.ctx, id, 1, 1000)
			require.NoError(t, err)
			require.Len(t, recs, len(evs))
			rounds := map[int]uuid.UUID{}
			for i, r := range recs {
				require.Equal(t, evs[i], r.Event)
				require.NotEqual(t, uuid.Nil, r.CorrelationID)
				round := evs[i].GameBase().RoundNumber
				if corr, ok := rounds[round]; ok {
					require.Equal(t, corr, r.CorrelationID, "event %d of round %d", i+1, round)
				} else {
					for other, corr := range rounds {
						require.NotEqual(t, corr, r.CorrelationID, "rounds %d and %d", other, round)
					}
					rounds[round] = r.CorrelationID
				}
				if i == 0 {
					cmd, found := r.Metadata.Get(game.CommandIDKey)
					require.True(t, found)
					require.Equal(t, r.CausationID.String(), cmd)
					continue
				}
				require.Equal(t, recs[i-1].ID, r.CausationID)
				require.Empty(t, r.Metadata)
			}
		}
	}
}

// TestAppendGameRefuses: nothing is stored for an empty list, a nil event
// or events of two games; a game cannot be stored twice.
func TestAppendGameRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	a := game.Simulate(game.SimConfig{Seed: 1, GameID: "game-a", StopAfter: 3})
	b := game.Simulate(game.SimConfig{Seed: 1, GameID: "game-b", StopAfter: 3})
	tests := []struct {
		name string
		evs  []events.GameEvent
		want error
	}{
		{"no events", nil, store.ErrInvalidArgument},
		{"nil event", []events.GameEvent{a[0], nil}, store.ErrInvalidArgument},
		{"two games", append(a[:2:2], b[2]), game.ErrForeignEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := game.AppendGame(e.ctx, e.store, tt.evs, 0)
			require.ErrorIs(t, err, tt.want)
			_, err = e.store.StreamInfo(e.ctx, "game-a")
			require.ErrorIs(t, err, store.ErrStreamNotFound)
		})
	}
	t.Run("twice", func(t *testing.T) {
		t.Parallel()
		_, err := game.AppendGame(e.ctx, e.store, b, 2)
		require.NoError(t, err)
		_, err = game.AppendGame(e.ctx, e.store, b, 2)
		require.ErrorIs(t, err, store.ErrStreamExists)
	})
}

// TestSaveSnapshot: a state is snapshotted at the stream version it
// reflects and recovery starts from it; states that would mislead
// recovery are refused before anything is sent.
func TestSaveSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	evs := e.storeGame(t, game.SimConfig{Seed: 90, Mode: events.ModeRace, GameID: "game-1"}, 0)
	st := replay(t, evs[:10])

	broken := st.Clone()
	broken.Round = -1
	tests := []struct {
		name    string
		st      game.State
		version int64
	}{
		{"not started", game.State{}, 0},
		{"version not the state's", st, 11},
		{"broken state", broken, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := game.SaveSnapshot(e.ctx, e.store, tt.st, tt.version)
			require.ErrorIs(t, err, game.ErrInvalidSnapshot)
			_, err = e.store.ReadSnapshot(e.ctx, "game-1", game.SnapshotSchemaVersion)
			require.ErrorIs(t, err, store.ErrSnapshotNotFound)
		})
	}

	stored, err := game.SaveSnapshot(t.Context(), e.store, st, 10) // the guild comes from the state
	require.NoError(t, err)
	require.True(t, stored)
	snap, err := e.store.ReadSnapshot(e.ctx, "game-1", game.SnapshotSchemaVersion)
	require.NoError(t, err)
	require.Equal(t, int64(10), snap.Version)
	require.Equal(t, game.SnapshotType, snap.Type)

	res, err := game.Recover(e.ctx, e.store, "game-1", game.RecoverOptions{})
	require.NoError(t, err)
	require.Equal(t, int64(10), res.SnapshotVersion)
	require.Equal(t, replay(t, evs), res.State)
}
