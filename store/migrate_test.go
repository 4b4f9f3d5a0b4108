package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3/lock"
	"github.com/stretchr/testify/require"
)

// emptyDatabase creates an unmigrated database on the test server and
// returns a pool on it.
func emptyDatabase(t *testing.T) *pgxpool.Pool {
	t.Helper()
	admin := testdb.Connect(t, testdb.ServerURL(t))
	name := "es_migrate_" + randomSuffix()
	_, err := admin.Exec(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return testdb.Connect(t, connString(admin, name))
}

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	pool := emptyDatabase(t)
	ctx := t.Context()

	applied, err := store.Migrate(ctx, pool)
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	require.Equal(t, int64(1), applied[0])

	again, err := store.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, again, "a second Migrate applies nothing")

	st, err := store.MigrateStatus(ctx, pool)
	require.NoError(t, err)
	require.Len(t, st, len(applied))
	for _, m := range st {
		require.True(t, m.Applied, m.Name)
	}

	s := store.New(pool, store.Config{})
	defer s.Close()
	gctx := store.WithGuild(ctx, "g")
	_, err = s.Append(gctx, "s-1", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)

	rolled, err := store.MigrateDown(ctx, pool, 0)
	require.NoError(t, err)
	require.Len(t, rolled, len(applied))
	var exists bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eventstore')`).Scan(&exists))
	require.False(t, exists, "down to 0 removes the schema")

	reapplied, err := store.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, applied, reapplied)
	_, err = s.Append(gctx, "s-1", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err, "the stream is gone after a reset, so no_stream passes again")
}

// TestConcurrentMigrate starts Migrate several times at once, some calls
// sharing a pool and some with pools of their own (like processes starting
// together): every call succeeds and each migration is applied exactly once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	pool := emptyDatabase(t)
	const callers = 4
	type result struct {
		applied []int64
		err     error
	}
	results := make(chan result, callers)
	for i := range callers {
		p := pool
		if i%2 == 1 {
			p = testdb.Connect(t, pool.Config().ConnString())
		}
		go func() {
			applied, err := store.Migrate(t.Context(), p)
			results <- result{applied, err}
		}()
	}
	var applied []int64
	for range callers {
		r := <-results
		require.NoError(t, r.err)
		applied = append(applied, r.applied...)
	}
	st, err := store.MigrateStatus(t.Context(), pool)
	require.NoError(t, err)
	var want []int64
	for _, m := range st {
		require.True(t, m.Applied, m.Name)
		want = append(want, m.Version)
	}
	slices.Sort(applied)
	require.Equal(t, want, applied, "each migration applied by exactly one caller")
	var twice int
	require.NoError(t, pool.QueryRow(t.Context(), `
		SELECT count(*) FROM (SELECT version_id FROM goose_db_version
		 WHERE version_id > 0 GROUP BY version_id HAVING count(*) > 1) twice`).Scan(&twice))
	require.Zero(t, twice, "no version recorded twice")
}

// TestMigrateOnOneConnection: Migrate and MigrateDown need no more than one
// connection of the pool (the lock is taken before goose reserves its own).
func TestMigrateOnOneConnection(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(emptyDatabase(t).Config().ConnString())
	require.NoError(t, err)
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	applied, err := store.Migrate(ctx, pool)
	require.NoError(t, err)
	rolled, err := store.MigrateDown(ctx, pool, 0)
	require.NoError(t, err)
	require.Len(t, rolled, len(applied))
}

// TestMigrateLockIsNotTheAppRoles: the migration lock is a row of a table
// only the migrating role may write, not an advisory lock that any role can
// take. A session of the application role holding the advisory lock id
// goose used does not stall Migrate, and the application role can neither
// read nor take the lock row.
func TestMigrateLockIsNotTheAppRoles(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	// Something to apply: Migrate takes the lock only then.
	st, err := store.MigrateStatus(t.Context(), b.ownerPool)
	require.NoError(t, err)
	newest := st[len(st)-1].Version
	_, err = store.MigrateDown(t.Context(), b.ownerPool, st[len(st)-2].Version)
	require.NoError(t, err)

	app, err := b.appPool.Acquire(t.Context())
	require.NoError(t, err)
	defer app.Release()
	var locked bool
	require.NoError(t, app.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, lock.DefaultLockID).Scan(&locked))
	require.True(t, locked)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	applied, err := store.Migrate(ctx, b.ownerPool)
	require.NoError(t, err, "an advisory lock held by the application role must not stall Migrate")
	require.Equal(t, []int64{newest}, applied)

	var table string
	require.NoError(t, b.ownerPool.QueryRow(t.Context(), `SELECT to_regclass('goose_lock')::text`).Scan(&table))
	for _, role := range []string{"eventstore_app", b.role} {
		for _, priv := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"} {
			var has bool
			require.NoError(t, b.ownerPool.QueryRow(t.Context(),
				`SELECT has_table_privilege($1, $2::regclass, $3)`, role, table, priv).Scan(&has))
			require.False(t, has, "%s has %s on %s", role, priv, table)
		}
	}
	for _, sql := range []string{
		`SELECT * FROM ` + table,
		`UPDATE ` + table + ` SET locked = true, locked_by = 'app', lease_expires_at = now() + interval '1 hour'`,
		`INSERT INTO ` + table + ` (lock_id, locked, locked_by, lease_expires_at) VALUES (4097083626, true, 'app', now() + interval '1 hour')`,
		`DELETE FROM ` + table,
	} {
		_, err := app.Exec(t.Context(), sql)
		require.ErrorIs(t, store.MapError(err), store.ErrPermissionDenied, sql)
	}
}

func TestEventsAreImmutable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(2, 1)...)
	require.NoError(t, err)
	for _, sql := range []string{
		`UPDATE eventstore.events SET data = '{"n": 99}'`,
		`DELETE FROM eventstore.events`,
		`TRUNCATE eventstore.events`,
	} {
		_, err := b.pool.Exec(b.ctx, sql)
		require.ErrorIs(t, store.MapError(err), store.ErrEventImmutable, sql)
	}
	require.Equal(t, 2, countRows(t, b, "game-1"))
	recs, err := b.store.ReadForward(b.ctx, "game-1", 0, 10)
	require.NoError(t, err)
	require.Equal(t, 1, eventN(t, recs[0]))
}
