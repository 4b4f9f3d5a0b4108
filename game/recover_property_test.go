package game_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/store"
)

// TestRecoverProperty: random valid games — every mode, random team and
// round counts, cut off at random points or complete, stored in random
// batch sizes, some with a snapshot at a random version — always recover
// to the state applying their events in memory gives, through a
// snapshot or not.
func TestRecoverProperty(t *testing.T) {
	t.Parallel()
	const gamesPerMode = 40
	for _, mode := range modes() {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, store.Config{})
			for seed := range uint64(gamesPerMode) {
				rng := rand.New(rand.NewPCG(seed, 0xfeed))
				cfg := game.SimConfig{
					Seed:       seed,
					Mode:       mode,
					GameID:     fmt.Sprintf("game-%d", seed),
					Teams:      1 + rng.IntN(6),
					Rounds:     1 + rng.IntN(4),
					MaxGuesses: rng.IntN(7),
				}
				if n := len(game.Simulate(cfg)); rng.IntN(3) > 0 {
					cfg.StopAfter = 1 + rng.IntN(n)
				}
				evs := e.storeGame(t, cfg, 1+rng.IntN(20))
				want := replay(t, evs)
				snapAt := 0
				if rng.IntN(2) == 0 {
					snapAt = 1 + rng.IntN(len(evs))
					_, err := game.SaveSnapshot(e.ctx, e.store, replay(t, evs[:snapAt]), int64(snapAt))
					require.NoError(t, err)
				}
				desc := fmt.Sprintf("%+v, %d events, snapshot at %d", cfg, len(evs), snapAt)

				res, err := game.Recover(e.ctx, e.store, cfg.GameID, game.RecoverOptions{BatchSize: 1 + rng.IntN(50)})
				require.NoError(t, err, desc)
				require.Equal(t, want, res.State, desc)
				require.Equal(t, int64(snapAt), res.SnapshotVersion, desc)
				require.Equal(t, len(evs)-snapAt, res.Replayed, desc)
				require.Equal(t, int64(len(evs)), res.Version, desc)

				full, err := game.Recover(e.ctx, e.store, cfg.GameID, game.RecoverOptions{FullReplay: true})
				require.NoError(t, err, desc)
				require.Equal(t, want, full.State, desc)
			}
		})
	}
}
