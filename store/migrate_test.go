package store_test

import (
	"context"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
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

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	pool := emptyDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := store.Migrate(t.Context(), pool)
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
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
