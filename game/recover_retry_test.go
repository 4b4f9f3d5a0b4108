package game_test

import (
	"context"
	"sync"
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

// killer terminates the backends of the store's database from an admin
// connection after successful reads of a stream, so that the next read
// fails as on a lost connection. It counts the failures it caused.
type killer struct {
	t        *testing.T
	admin    *pgxpool.Pool
	database string
	// times is how many reads to follow with a kill (-1: every read).
	times    atomic.Int64
	kills    atomic.Int64
	failures atomic.Int64
	// gate holds back the store's connection acquisitions while a kill
	// runs, so that a read the recovery issues meanwhile (the stream
	// iterator reads ahead) meets the killed connections instead of
	// finishing before the kill lands.
	gate sync.RWMutex
}

// Observe implements store.Observer.
func (k *killer) Observe(ctx context.Context, o store.Observation) {
	if o.Class == store.ClassConnection {
		k.failures.Add(1)
	}
	if o.Op != store.OpReadForward || o.Err != nil || o.Events == 0 || k.times.Load() == 0 {
		return
	}
	k.times.Add(-1)
	k.gate.Lock()
	defer k.gate.Unlock()
	var n int
	err := k.admin.QueryRow(context.WithoutCancel(ctx), `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, k.database).Scan(&n)
	if err != nil {
		k.t.Errorf("terminate backends: %v", err)
		return
	}
	k.kills.Add(int64(n))
}

// newKillerEnv returns an env whose store (configured by cfg) reports to
// a killer, and the killer.
func newKillerEnv(t *testing.T, cfg store.Config) (*env, *killer) {
	t.Helper()
	k := &killer{t: t, admin: testdb.Connect(t, testdb.ServerURL(t))}
	cfg.Observer = k
	pcfg, err := pgxpool.ParseConfig(testdb.NewDB(t).URL)
	require.NoError(t, err)
	pcfg.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) {
		k.gate.RLock()
		defer k.gate.RUnlock()
		return true, nil
	}
	// No liveness ping on acquire (the pool pings a connection idle for a
	// second, which would replace a killed one unseen): a read on a killed
	// connection fails, as it would under a busy pool.
	pcfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), pcfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := newEnvOn(t, pool, cfg)
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT current_database()`).Scan(&k.database))
	return e, k
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
		// wantAttempts is the least number of recovery attempts: a kill
		// ends every connection of the pool, and an attempt that finds
		// another dead one starts over again.
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
