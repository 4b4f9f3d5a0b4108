package game_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
)

// killer makes reads of a stream fail as on a lost connection: after a
// successful read it marks a kill pending, and the next connection the
// store's pool hands out while one is pending has its backend terminated
// (from an admin connection) before the store uses it. It counts the
// failures that follow.
//
// Killing at the next acquisition, not at once: terminating every backend
// of the database after the read raced with connections the pool opened
// meanwhile (the notifier's, say), which survived and served the next read.
type killer struct {
	t     *testing.T
	admin *pgxpool.Pool
	// times is how many reads to follow with a kill (-1: every read).
	times    atomic.Int64
	pending  atomic.Bool
	kills    atomic.Int64
	failures atomic.Int64
}

// Observe implements store.Observer.
func (k *killer) Observe(ctx context.Context, o store.Observation) {
	if o.Class == store.ClassConnection {
		k.failures.Add(1)
		k.pending.Store(false)
	}
	if o.Op != store.OpReadForward || o.Err != nil || o.Events == 0 || k.times.Load() == 0 {
		return
	}
	k.times.Add(-1)
	k.pending.Store(true)
}

// prepare is the pool's PrepareConn: with a kill pending, it terminates
// conn's backend (and waits for it to end) before the store uses conn.
func (k *killer) prepare(ctx context.Context, conn *pgx.Conn) (bool, error) {
	if !k.pending.Load() {
		return true, nil
	}
	var killed bool
	err := k.admin.QueryRow(context.WithoutCancel(ctx), `SELECT pg_terminate_backend($1, 5000)`,
		int32(conn.PgConn().PID())).Scan(&killed)
	if err != nil {
		k.t.Errorf("terminate backend: %v", err)
	} else if killed {
		k.kills.Add(1)
	}
	return true, nil
}

// newKillerEnv returns an env whose store (configured by cfg) reports to
// a killer, and the killer.
func newKillerEnv(t *testing.T, cfg store.Config) (*env, *killer) {
	t.Helper()
	k := &killer{t: t, admin: testdb.Connect(t, testdb.ServerURL(t))}
	cfg.Observer = k
	pcfg, err := pgxpool.ParseConfig(testdb.NewDB(t).URL)
	require.NoError(t, err)
	pcfg.PrepareConn = k.prepare
	// No liveness ping on acquire (the pool pings a connection idle for a
	// second, which would replace a killed one unseen): a read on a killed
	// connection fails, as it would under a busy pool.
	pcfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), pcfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return newEnvOn(t, pool, cfg), k
}

// TestRecoverRetriesTransientFailures: a connection lost mid-recovery (the
// backend terminated by an administrator after the first page) makes the
// recovery start over and succeed; when every attempt loses its
// connection, recovery fails with store.ErrConnection after the allowed
// attempts and returns no state.
func TestRecoverRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	retry := store.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	tests := []struct {
		name string
		// storeRetry is the store's own policy; kills how many reads get
		// followed by a kill; opts the recovery's options.
		storeRetry store.RetryPolicy
		kills      int64
		opts       game.RecoverOptions
		// wantAttempts is the least number of recovery attempts: an
		// attempt whose read meets a killed connection starts over.
		wantAttempts int
		wantErr      error
	}{
		{"recovery starts over", store.RetryPolicy{MaxAttempts: 1}, 1,
			game.RecoverOptions{BatchSize: 5, Retry: retry}, 2, nil},
		{"recovery from a snapshot starts over", store.RetryPolicy{MaxAttempts: 1}, 1,
			game.RecoverOptions{BatchSize: 5, Retry: retry}, 2, nil},
		{"every attempt fails", store.RetryPolicy{MaxAttempts: 1}, -1,
			game.RecoverOptions{BatchSize: 5, Retry: retry}, 3, store.ErrConnection},
		{"retries disabled", store.RetryPolicy{MaxAttempts: 1}, 1,
			game.RecoverOptions{BatchSize: 5, Retry: store.RetryPolicy{MaxAttempts: 1}}, 1, store.ErrConnection},
		{"the store retries the read itself", store.RetryPolicy{BaseDelay: time.Millisecond}, 1,
			game.RecoverOptions{BatchSize: 5, Retry: store.RetryPolicy{MaxAttempts: 1}}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, k := newKillerEnv(t, store.Config{Retry: tt.storeRetry})
			evs := e.storeGame(t, game.SimConfig{Seed: 70, Mode: events.ModeKnockout, Teams: 5, GameID: "game-1"}, 0)
			require.Greater(t, len(evs), 20)
			snapshot := tt.name == "recovery from a snapshot starts over"
			if snapshot {
				_, err := game.SaveSnapshot(e.ctx, e.store, replay(t, evs[:8]), 8)
				require.NoError(t, err)
			}
			k.times.Store(tt.kills)

			res, err := game.Recover(e.ctx, e.store, "game-1", tt.opts)
			require.Positive(t, k.kills.Load(), "backends terminated")
			require.Positive(t, k.failures.Load(), "reads failed")
			require.GreaterOrEqual(t, res.Attempts, tt.wantAttempts)
			require.LessOrEqual(t, res.Attempts, max(tt.opts.Retry.MaxAttempts, 1))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Zero(t, res.State, "a half-read stream is never a state")
				return
			}
			require.NoError(t, err)
			require.Equal(t, replay(t, evs), res.State)
			if snapshot {
				require.Equal(t, int64(8), res.SnapshotVersion)
			}
		})
	}
}
