package game_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/store"
)

// spans records, per stream, when the first store operation on it began
// and the last one ended, from the store's observations.
type spans struct {
	mu    sync.Mutex
	first map[string]time.Time
	last  map[string]time.Time
}

// Observe implements store.Observer.
func (s *spans) Observe(_ context.Context, o store.Observation) {
	if o.StreamID == "" {
		return
	}
	end := time.Now()
	start := end.Add(-o.Duration)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.first[o.StreamID]; !ok || start.Before(f) {
		s.first[o.StreamID] = start
	}
	if end.After(s.last[o.StreamID]) {
		s.last[o.StreamID] = end
	}
}

// reset forgets every span.
func (s *spans) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.first)
	clear(s.last)
}

// maxOverlap returns the largest number of streams whose spans overlap.
func (s *spans) maxOverlap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	for id, start := range s.first {
		n := 0
		for other, ostart := range s.first {
			if other == id || (!ostart.After(start) && s.last[other].After(start)) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// TestRecoverAll: at start-up the bot recovers every in-progress game of
// its guild — not completed ones, not other guilds' games, not deleted
// streams, not streams outside the prefix — at most Concurrency at a
// time, each reported with its state or its own error.
func TestRecoverAll(t *testing.T) {
	t.Parallel()
	obs := &spans{first: map[string]time.Time{}, last: map[string]time.Time{}}
	e := newEnv(t, store.Config{Observer: obs})

	want := map[string]game.State{}
	for i, mode := range modes() {
		for j := range 3 {
			id := fmt.Sprintf("game-%s-%d", mode, j)
			cfg := game.SimConfig{Seed: uint64(10*i + j), Mode: mode, GameID: id}
			if j > 0 {
				cfg.StopAfter = 2 + 3*j
			}
			evs := e.storeGame(t, cfg, 5)
			if st := replay(t, evs); st.InProgress() {
				want[id] = st
			}
		}
	}
	require.Len(t, want, 6, "two games in progress per mode")
	// A game that lost an event, and a stream whose game never started.
	e.storeGame(t, game.SimConfig{Seed: 50, GameID: "game-gap", StopAfter: 9}, 0)
	e.admin(t, `DELETE FROM eventstore.events WHERE stream_id = 'game-gap' AND stream_version = 4`)
	require.NoError(t, e.store.CreateStream(e.ctx, "game-empty"))
	// Not recovered: a deleted stream, another guild's game, a stream outside the prefix.
	e.storeGame(t, game.SimConfig{Seed: 51, GameID: "game-deleted", StopAfter: 5}, 0)
	_, err := e.store.DeleteStream(e.ctx, "game-deleted", store.Any)
	require.NoError(t, err)
	other := store.WithGuild(t.Context(), "guild-2")
	_, err = game.AppendGame(other, e.store, game.Simulate(game.SimConfig{Seed: 52, GameID: "game-guild-2", GuildID: "guild-2", StopAfter: 5}), 0)
	require.NoError(t, err)
	e.storeGame(t, game.SimConfig{Seed: 53, GameID: "lobby-1", StopAfter: 5}, 0)

	obs.reset()
	results, err := game.RecoverAll(t.Context(), e.store, testGuild, game.RecoverOptions{Concurrency: 2, Prefix: "game-", BatchSize: 3})
	require.ErrorIs(t, err, game.ErrSequenceGap)
	require.ErrorIs(t, err, game.ErrGameNotStarted)

	got := map[string]game.Result{}
	for _, r := range results {
		got[r.GameID] = r
	}
	require.Len(t, results, len(want)+2, "games in progress")
	for id, st := range want {
		r, ok := got[id]
		require.True(t, ok, id)
		require.NoError(t, r.Err, id)
		require.Equal(t, st, r.State, id)
		require.Equal(t, testGuild, r.GuildID)
	}
	require.ErrorIs(t, got["game-gap"].Err, game.ErrSequenceGap)
	require.Zero(t, got["game-gap"].State)
	require.ErrorIs(t, got["game-empty"].Err, game.ErrGameNotStarted)
	overlap := obs.maxOverlap()
	require.LessOrEqual(t, overlap, 2, "games recovered at once")
	t.Logf("at most %d games recovered at once", overlap)

	// Without the prefix the lobby stream counts as a game too.
	results, err = game.RecoverAll(t.Context(), e.store, testGuild, game.RecoverOptions{})
	require.Error(t, err)
	require.Len(t, results, len(want)+3)
}

// TestRecoverAllSkipAndReport: the policy applies to every game, and the
// skipped events are reported per game.
func TestRecoverAllSkipAndReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	evs := e.storeGame(t, game.SimConfig{Seed: 60, Mode: events.ModeRace, GameID: "game-1", StopAfter: 12}, 0)
	e.copyEvent(t, "game-1", 12, map[string]string{"event_type": `'word_spelled'`})
	clean := e.storeGame(t, game.SimConfig{Seed: 61, GameID: "game-2", StopAfter: 8}, 0)

	results, err := game.RecoverAll(t.Context(), e.store, testGuild, game.RecoverOptions{OnInvalid: game.SkipAndReport})
	require.NoError(t, err)
	require.Len(t, results, 2)
	require.Equal(t, "game-1", results[0].GameID)
	require.Equal(t, replay(t, evs), results[0].State)
	require.Len(t, results[0].Skipped, 1)
	require.Equal(t, int64(13), results[0].Skipped[0].StreamVersion)
	require.ErrorIs(t, results[0].Skipped[0], game.ErrCorruptEvent)
	require.Equal(t, replay(t, clean), results[1].State)
	require.Empty(t, results[1].Skipped)
}

// TestRecoverAllCancelled: when the context is cancelled while the games
// are being recovered, every game not yet recovered is reported with the
// context's error and no state.
func TestRecoverAllCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The first game's in-progress check is the moment the bot is stopped.
	stop := store.ObserverFunc(func(_ context.Context, o store.Observation) {
		if o.Op == store.OpReadBackward {
			cancel()
		}
	})
	e := newEnv(t, store.Config{Observer: stop})
	for i := range 3 {
		e.storeGame(t, game.SimConfig{Seed: uint64(i), GameID: fmt.Sprintf("game-%d", i), StopAfter: 6}, 0)
	}
	_, err := game.RecoverAll(ctx, e.store, "", game.RecoverOptions{})
	require.ErrorIs(t, err, store.ErrInvalidGuildID)

	results, err := game.RecoverAll(ctx, e.store, testGuild, game.RecoverOptions{Concurrency: 1})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, results, 3)
	for _, r := range results {
		require.ErrorIs(t, r.Err, context.Canceled, r.GameID)
		require.Zero(t, r.State)
	}
}
