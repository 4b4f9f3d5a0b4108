package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
)

// emptyTestDB creates an empty database of the test's own and returns a
// pool on it (the package's test harness imports store, so internal tests
// make their databases themselves).
func emptyTestDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`")
	}
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	name := "eventstore_internal_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	_, err = admin.Exec(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		_ = admin.Close(context.Background())
	})
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// holdMigrationLock takes the migration lock the way another process's
// migration would, and returns the function that releases it.
func holdMigrationLock(t *testing.T, pool *pgxpool.Pool, timing lockTiming) func() error {
	t.Helper()
	sqlDB := stdlib.OpenDBFromPool(pool)
	unlock, err := lockMigrations(t.Context(), sqlDB, timing)
	require.NoError(t, err)
	return func() error {
		defer sqlDB.Close()
		return unlock()
	}
}

// TestMigrateLockTimeout: while another migration holds the lock (renewing
// its lease, here more often than the lease runs out), Migrate waits for
// its lock timeout, then fails with an error that names the holder, having
// applied nothing. Once the lock is released, Migrate applies everything.
func TestMigrateLockTimeout(t *testing.T) {
	t.Parallel()
	pool := emptyTestDB(t)
	release := holdMigrationLock(t, pool, lockTiming{
		retry: 100 * time.Millisecond, timeout: time.Second,
		lease: 2 * time.Second, heartbeat: 200 * time.Millisecond,
	})
	// The wait outlasts the holder's lease: only its heartbeat keeps the lock.
	waiter := lockTiming{retry: 100 * time.Millisecond, timeout: 3 * time.Second, lease: 2 * time.Second, heartbeat: 200 * time.Millisecond}

	start := time.Now()
	applied, err := migrateUp(t.Context(), pool, waiter)
	elapsed := time.Since(start)
	require.Error(t, err)
	require.Empty(t, applied)
	host, _ := os.Hostname()
	require.ErrorContains(t, err, "migrate up: the migration lock is held by "+fmt.Sprintf("%s-%d-", host, os.Getpid()))
	require.ErrorContains(t, err, "gave up after 3s")
	require.GreaterOrEqual(t, elapsed, 2*time.Second, "waited about the lock timeout")
	require.Less(t, elapsed, 30*time.Second, "gave up long before goose's default wait")
	var schema bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eventstore')`).Scan(&schema))
	require.False(t, schema, "nothing applied")

	require.NoError(t, release())
	applied, err = migrateUp(t.Context(), pool, waiter)
	require.NoError(t, err)
	require.NotEmpty(t, applied)
}

// TestMigrateTakesOverExpiredLease: a holder that stopped renewing its
// lease (a crashed process) blocks migrations only until the lease ends.
func TestMigrateTakesOverExpiredLease(t *testing.T) {
	t.Parallel()
	pool := emptyTestDB(t)
	require.NoError(t, holdMigrationLock(t, pool, defaultLockTiming())()) // creates the lock table
	_, err := pool.Exec(t.Context(), `UPDATE goose_lock SET locked = true, locked_by = 'crashed-host-1',
		lease_expires_at = now() + interval '2 seconds'`)
	require.NoError(t, err)

	start := time.Now()
	applied, err := migrateUp(t.Context(), pool, lockTiming{
		retry: 200 * time.Millisecond, timeout: 10 * time.Second, lease: 2 * time.Second, heartbeat: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "waited for the lease to end")
}

// TestMigrationLockTimingDefaults: the default timing lets a
// migration started right after a crash wait the crashed holder's lease
// out instead of failing, and renews the lease several times per lease.
func TestMigrationLockTimingDefaults(t *testing.T) {
	t.Parallel()
	d := defaultLockTiming()
	require.Less(t, d.lease, d.timeout)
	require.LessOrEqual(t, 3*d.heartbeat, d.lease)
	require.GreaterOrEqual(t, d.lease, time.Second, "goose stores the lease in whole seconds")
}
