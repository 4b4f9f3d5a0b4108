package store_test

import (
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestOutdatedSchemaIsTyped: a store on a database whose schema lacks what
// this build calls (never migrated, or migrated by an older build) gets
// ErrSchemaOutdated, naming the missing object and the way out, from every
// call, instead of PostgreSQL's bare "does not exist".
func TestOutdatedSchemaIsTyped(t *testing.T) {
	t.Parallel()
	ctx := store.WithGuild(t.Context(), "g")

	t.Run("never migrated", func(t *testing.T) {
		t.Parallel()
		s := store.New(emptyDatabase(t), store.Config{})
		defer s.Close()
		_, err := s.Append(ctx, "s-1", store.NoStream, rawEvent("test_event", 1))
		require.ErrorIs(t, err, store.ErrSchemaOutdated)
		require.ErrorContains(t, err, "eventstore")
		require.ErrorContains(t, err, "migrate up")
		_, err = s.ReadForward(ctx, "s-1", 0, 10)
		require.ErrorIs(t, err, store.ErrSchemaOutdated)
	})

	t.Run("migrated by an older build", func(t *testing.T) {
		t.Parallel()
		pool := emptyDatabase(t)
		_, err := store.Migrate(t.Context(), pool)
		require.NoError(t, err)
		s := store.New(pool, store.Config{})
		defer s.Close()
		_, err = s.Append(ctx, "s-1", store.NoStream, rawEvent("test_event", 1))
		require.NoError(t, err)

		// 00009 added append_event, which a single append calls.
		_, err = store.MigrateDown(t.Context(), pool, 8)
		require.NoError(t, err)
		_, err = s.Append(ctx, "s-1", store.Exact(1), rawEvent("test_event", 1))
		require.ErrorIs(t, err, store.ErrSchemaOutdated)
		require.ErrorContains(t, err, "append_event")
		require.ErrorContains(t, err, "migrate up")
		// Nothing was stored.
		evs, err := s.ReadForward(ctx, "s-1", 0, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
	})
}

// TestCheckSchema: CheckSchema names every function of the store's schema
// that the database lacks, and passes on a database at the newest
// migration.
func TestCheckSchema(t *testing.T) {
	t.Parallel()
	pool := emptyDatabase(t)
	s := store.New(pool, store.Config{})
	defer s.Close()

	err := s.CheckSchema(t.Context())
	require.ErrorIs(t, err, store.ErrSchemaOutdated)
	require.ErrorContains(t, err, "no eventstore schema")

	_, err = store.Migrate(t.Context(), pool)
	require.NoError(t, err)
	require.NoError(t, s.CheckSchema(t.Context()))

	_, err = store.MigrateDown(t.Context(), pool, 8)
	require.NoError(t, err)
	err = s.CheckSchema(t.Context())
	require.ErrorIs(t, err, store.ErrSchemaOutdated)
	require.ErrorContains(t, err, "eventstore.append_event")

	_, err = store.MigrateDown(t.Context(), pool, 6)
	require.NoError(t, err)
	err = s.CheckSchema(t.Context())
	require.ErrorIs(t, err, store.ErrSchemaOutdated)
	require.ErrorContains(t, err, "eventstore.append_event")
	require.ErrorContains(t, err, "eventstore.dead_letter_record", "00007's functions are missing too")

	_, err = store.Migrate(t.Context(), pool)
	require.NoError(t, err)
	require.NoError(t, s.CheckSchema(t.Context()))
}

// TestSchemaFunctionsAreTheMigratedOnes: the functions CheckSchema reads
// from the migrations are exactly those of a migrated database, so that
// none goes unchecked; and the application role may run the check.
func TestSchemaFunctionsAreTheMigratedOnes(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	rows, err := b.ownerPool.Query(t.Context(),
		`SELECT DISTINCT proname::text FROM pg_proc WHERE pronamespace = 'eventstore'::regnamespace ORDER BY 1`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Greater(t, len(names), 40)
	require.Equal(t, names, store.SchemaFunctions())
	require.NoError(t, b.app.CheckSchema(t.Context()))
}
