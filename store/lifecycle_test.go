package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// deleteCase is one expected-version mode applied to a stream in a given
// state ("full": 3 events, "empty": created without events, "missing").
type deleteCase struct {
	name     string
	state    string
	expected store.ExpectedVersion
	wantErr  error
}

var deleteCases = []deleteCase{
	{name: "any", state: "full", expected: store.Any},
	{name: "exact match", state: "full", expected: store.Exact(3)},
	{name: "exact mismatch", state: "full", expected: store.Exact(2), wantErr: store.ErrWrongExpectedVersion},
	{name: "stream_exists", state: "full", expected: store.StreamExists},
	{name: "stream_exists on an empty stream", state: "empty", expected: store.StreamExists},
	{name: "no_stream on a stream with events", state: "full", expected: store.NoStream, wantErr: store.ErrStreamExists},
	{name: "no_stream on an empty stream", state: "empty", expected: store.NoStream},
	{name: "exact 0 on an empty stream", state: "empty", expected: store.Exact(0)},
	{name: "any on a missing stream", state: "missing", expected: store.Any, wantErr: store.ErrStreamNotFound},
	{name: "stream_exists on a missing stream", state: "missing", expected: store.StreamExists, wantErr: store.ErrStreamNotFound},
	{name: "no_stream on a missing stream", state: "missing", expected: store.NoStream, wantErr: store.ErrStreamNotFound},
	{name: "invalid", state: "full", expected: store.Exact(-7), wantErr: store.ErrInvalidExpectedVersion},
}

// prepare puts stream in the case's state.
func (c deleteCase) prepare(t *testing.T, b *bundle, stream string) {
	t.Helper()
	switch c.state {
	case "full":
		_, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(3, 1)...)
		require.NoError(t, err)
	case "empty":
		require.NoError(t, b.store.CreateStream(b.ctx, stream))
	}
}

func TestSoftDeleteExpectedVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, tc := range deleteCases {
		t.Run(tc.name, func(t *testing.T) {
			stream := fmt.Sprintf("soft-%d", i)
			tc.prepare(t, b, stream)
			_, err := b.store.DeleteStream(b.ctx, stream, tc.expected)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				if tc.state != "missing" {
					info, err := b.store.StreamInfo(b.ctx, stream)
					require.NoError(t, err)
					require.Equal(t, store.StatusActive, info.Status(), "a refused delete changes nothing")
				}
				return
			}
			require.NoError(t, err)
			_, err = b.store.ReadForward(b.ctx, stream, 0, 10)
			require.ErrorIs(t, err, store.ErrStreamDeleted)
			_, err = b.store.Append(b.ctx, stream, store.Any, rawEvent("test_event", 9))
			require.ErrorIs(t, err, store.ErrStreamDeleted)
			_, err = b.store.DeleteStream(b.ctx, stream, store.Any)
			require.ErrorIs(t, err, store.ErrStreamDeleted)
			info, err := b.store.StreamInfo(b.ctx, stream)
			require.NoError(t, err)
			require.Equal(t, store.StatusDeleted, info.Status())
			if tc.state == "full" {
				require.Equal(t, 3, countRows(t, b, stream), "soft delete keeps the events")
			}
		})
	}
}

func TestHardDeleteExpectedVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, tc := range deleteCases {
		t.Run(tc.name, func(t *testing.T) {
			stream := fmt.Sprintf("hard-%d", i)
			tc.prepare(t, b, stream)
			res, err := b.store.HardDeleteStream(b.ctx, stream, tc.expected, store.ConfirmHardDelete)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				if tc.state == "full" {
					require.Equal(t, 3, countRows(t, b, stream), "a refused delete changes nothing")
				}
				return
			}
			require.NoError(t, err)
			want := store.HardDeleteResult{}
			if tc.state == "full" {
				want = store.HardDeleteResult{Version: 3, EventsDeleted: 3}
			}
			require.Equal(t, want, res)
			_, err = b.store.StreamInfo(b.ctx, stream)
			require.ErrorIs(t, err, store.ErrStreamNotFound)
			require.Zero(t, countRows(t, b, stream))
		})
	}
}

func TestHardDeleteRemovesEverythingAndFreesTheID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const stream = "game-1"
	_, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(10, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "game-2", store.NoStream, rawEvents(2, 1)...)
	require.NoError(t, err)
	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: stream, Version: 6, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`{}`)})
	require.NoError(t, err)
	_, err = b.store.ArchiveBefore(b.ctx, stream, 7) // six archived, four hot
	require.NoError(t, err)
	require.NoError(t, b.store.SetStreamLimit(b.ctx, stream, 20))
	_, err = b.store.DeleteStream(b.ctx, stream, store.Exact(10)) // soft first: hard delete purges it
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `INSERT INTO eventstore.subscriptions (name, stream_id) VALUES ('on-game-1', $1), ('on-game-2', 'game-2'), ('on-feed', NULL)`, stream)
	require.NoError(t, err)

	_, err = b.store.HardDeleteStream(b.ctx, stream, store.Exact(10), "")
	require.ErrorIs(t, err, store.ErrConfirmationRequired)
	_, err = b.store.HardDeleteStream(b.ctx, stream, store.Exact(10), store.HardDeleteConfirmation("yes"))
	require.ErrorIs(t, err, store.ErrConfirmationRequired)
	_, err = b.pool.Exec(b.ctx, `SELECT * FROM eventstore.hard_delete_stream($1, NULL, 10)`, stream)
	require.ErrorIs(t, store.MapError(err), store.ErrConfirmationRequired, "SQL asks for the opt-in too")
	_, err = b.pool.Exec(b.ctx, `SELECT * FROM eventstore.hard_delete_stream($1, NULL, 10, false)`, stream)
	require.ErrorIs(t, store.MapError(err), store.ErrConfirmationRequired)
	_, err = b.store.HardDeleteStream(store.WithGuild(b.ctx, "guild-2"), stream, store.Any, store.ConfirmHardDelete)
	require.ErrorIs(t, err, store.ErrGuildMismatch)
	require.Equal(t, 4, countRows(t, b, stream), "nothing was deleted yet")

	res, err := b.store.HardDeleteStream(b.ctx, stream, store.Exact(10), store.ConfirmHardDelete)
	require.NoError(t, err)
	require.Equal(t, store.HardDeleteResult{Version: 10, EventsDeleted: 10}, res)

	var hot, archived, snapshots, streams int
	var subs []string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT
	    (SELECT count(*) FROM eventstore.events WHERE stream_id = $1),
	    (SELECT count(*) FROM eventstore.events_archive WHERE stream_id = $1),
	    (SELECT count(*) FROM eventstore.snapshots WHERE stream_id = $1),
	    (SELECT count(*) FROM eventstore.streams WHERE stream_id = $1),
	    (SELECT array_agg(name ORDER BY name) FROM eventstore.subscriptions)`, stream).
		Scan(&hot, &archived, &snapshots, &streams, &subs))
	require.Zero(t, hot+archived+snapshots+streams)
	require.Equal(t, []string{"on-feed", "on-game-2"}, subs, "only the deleted stream's subscription goes")
	require.Equal(t, 2, countRows(t, b, "game-2"), "other streams are untouched")

	// The id is free again: a new stream starts from version 1, with the
	// store's limit and no snapshot.
	res2, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvent("test_event", 100))
	require.NoError(t, err)
	require.Equal(t, int64(1), res2.Version)
	recs, err := b.store.ReadForward(b.ctx, stream, 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, 100, eventN(t, recs[0]))
	info, err := b.store.StreamInfo(b.ctx, stream)
	require.NoError(t, err)
	require.Zero(t, info.MaxEvents)
	_, err = b.store.ReadSnapshot(b.ctx, stream, store.AnySchemaVersion)
	require.ErrorIs(t, err, store.ErrSnapshotNotFound)

	// An archived stream can be hard-deleted too.
	_, err = b.store.ArchiveStream(b.ctx, "game-2", store.Any)
	require.NoError(t, err)
	res, err = b.store.HardDeleteStream(b.ctx, "game-2", store.Exact(2), store.ConfirmHardDelete)
	require.NoError(t, err)
	require.Equal(t, int64(2), res.EventsDeleted)
	require.Zero(t, countArchived(t, b, "game-2"))
}

func TestMaintenanceLeavesEventsGuarded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "game-2", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)

	// Archive and hard-delete in the caller's transaction, then try to
	// mutate events in that same transaction: the guard is back on.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) }()
	tctx := store.WithTx(b.ctx, tx)
	_, err = b.store.ArchiveStream(tctx, "game-1", store.Any)
	require.NoError(t, err)
	_, err = b.store.HardDeleteStream(tctx, "game-1", store.Any, store.ConfirmHardDelete)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, `SAVEPOINT probe`)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, `DELETE FROM eventstore.events WHERE stream_id = 'game-2'`)
	require.ErrorIs(t, store.MapError(err), store.ErrEventImmutable)
	_, err = tx.Exec(b.ctx, `ROLLBACK TO SAVEPOINT probe`)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, `DELETE FROM eventstore.events_archive`)
	require.ErrorIs(t, store.MapError(err), store.ErrEventImmutable)
	require.NoError(t, tx.Rollback(b.ctx))
	require.Equal(t, 3, countRows(t, b, "game-1"), "the rolled-back transaction removed nothing")
}

// appRolePool connects to the test database as a new login role that is a
// member of eventstore_app (and nothing else).
func appRolePool(t *testing.T, dbURL string) (*pgxpool.Pool, string) {
	t.Helper()
	admin := testdb.Connect(t, testdb.ServerURL(t))
	role := "es_lifecycle_app_" + randomSuffix()
	_, err := admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'app' IN ROLE eventstore_app`, role))
	require.NoError(t, err)
	cfg, err := pgxpool.ParseConfig(dbURL)
	require.NoError(t, err)
	cfg.ConnConfig.User, cfg.ConnConfig.Password = role, "app"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		_, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS `+role)
	})
	return pool, role
}

func TestMaintenanceIsAdminOnly(t *testing.T) {
	t.Parallel()
	tdb := testdb.NewDB(t)
	owner := store.New(tdb.Pool, store.Config{})
	t.Cleanup(owner.Close)
	ctx := store.WithGuild(t.Context(), testGuild)
	_, err := owner.Append(ctx, "game-1", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = owner.SaveSnapshot(ctx, store.Snapshot{StreamID: "game-1", Version: 3, Type: "t", SchemaVersion: 1, Data: json.RawMessage(`{}`)})
	require.NoError(t, err)

	pool, role := appRolePool(t, tdb.URL)
	app := store.New(pool, store.Config{})
	t.Cleanup(app.Close)

	// The application role cannot even execute the maintenance functions.
	ops := []struct {
		name string
		run  func() error
		sql  string
	}{
		{name: "hard delete", run: func() error {
			_, err := app.HardDeleteStream(ctx, "game-1", store.Any, store.ConfirmHardDelete)
			return err
		}, sql: `SELECT * FROM eventstore.hard_delete_stream('game-1', NULL, -1, true)`},
		{name: "archive", run: func() error {
			_, err := app.ArchiveStream(ctx, "game-1", store.Any)
			return err
		}, sql: `SELECT * FROM eventstore.archive_stream('game-1')`},
		{name: "archive before", run: func() error {
			_, err := app.ArchiveBefore(ctx, "game-1", 2)
			return err
		}, sql: `SELECT * FROM eventstore.move_to_archive('game-1', 2)`},
		{name: "archive completed", run: func() error {
			_, err := app.ArchiveCompleted(ctx, store.ArchiveCompletedOptions{AnyLastEvent: true})
			return err
		}, sql: `SELECT * FROM eventstore.archive_completed_streams('0', NULL)`},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			requireSQLState(t, op.run(), "42501")
			_, err := pool.Exec(t.Context(), op.sql)
			requireSQLState(t, err, "42501")
		})
	}

	// A role allowed to execute them is still refused unless it is an admin.
	_, err = tdb.Pool.Exec(t.Context(), fmt.Sprintf(`GRANT EXECUTE ON FUNCTION
	    eventstore.hard_delete_stream(text, text, bigint, boolean),
	    eventstore.archive_stream(text, bigint, bigint, text) TO %s`, role))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = tdb.Pool.Exec(context.Background(), fmt.Sprintf(`REVOKE EXECUTE ON FUNCTION
		    eventstore.hard_delete_stream(text, text, bigint, boolean),
		    eventstore.archive_stream(text, bigint, bigint, text) FROM %s`, role))
	})
	_, err = app.HardDeleteStream(ctx, "game-1", store.Any, store.ConfirmHardDelete)
	require.ErrorIs(t, err, store.ErrAdminRequired)
	_, err = app.ArchiveStream(ctx, "game-1", store.Any)
	require.ErrorIs(t, err, store.ErrAdminRequired)

	// Snapshots are the application's business: it reads and writes its
	// guild's through the guild-checked functions.
	snap, err := app.ReadSnapshot(ctx, "game-1", 1)
	require.NoError(t, err)
	require.Equal(t, int64(3), snap.Version)
	stored, err := app.SaveSnapshot(ctx, store.Snapshot{StreamID: "game-1", Version: 3, Type: "t", SchemaVersion: 2, Data: json.RawMessage(`{"a": 1}`)})
	require.NoError(t, err)
	require.True(t, stored)
	require.NoError(t, app.SetStreamLimit(ctx, "game-1", 50))
	_, err = app.ReadSnapshot(store.WithGuild(t.Context(), "guild-2"), "game-1", store.AnySchemaVersion)
	require.ErrorIs(t, err, store.ErrSnapshotNotFound, "row-level security hides another guild's snapshot")

	// Nothing was archived or deleted.
	recs, err := owner.ReadForward(ctx, "game-1", 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	var archived int
	require.NoError(t, tdb.Pool.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.events_archive`).Scan(&archived))
	require.Zero(t, archived)
}

// requireSQLState checks that err carries a PostgreSQL error with code.
func requireSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want SQLSTATE %s, got %v", code, err)
	require.Equal(t, code, pgErr.Code, pgErr.Message)
}

func TestArchivedStreamReadableByApp(t *testing.T) {
	t.Parallel()
	tdb := testdb.NewDB(t)
	owner := store.New(tdb.Pool, store.Config{})
	t.Cleanup(owner.Close)
	ctx := store.WithGuild(t.Context(), testGuild)
	_, err := owner.Append(ctx, "game-1", store.NoStream, rawEvents(20, 1)...)
	require.NoError(t, err)
	_, err = owner.Append(store.WithGuild(t.Context(), "guild-2"), "game-2", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)
	for _, id := range []string{"game-1", "game-2"} {
		_, err = owner.ArchiveStream(t.Context(), id, store.Any)
		require.NoError(t, err)
	}

	pool, _ := appRolePool(t, tdb.URL)
	app := store.New(pool, store.Config{})
	t.Cleanup(app.Close)
	recs, err := app.ReadForward(ctx, "game-1", 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, 20)

	// Another guild's archived events stay invisible, even in raw SQL.
	_, err = app.ReadForward(ctx, "game-2", 0, 100)
	require.ErrorIs(t, err, store.ErrStreamNotFound)
	var n int
	err = pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, testGuild); err != nil {
			return err
		}
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.events_archive`).Scan(&n)
	})
	require.NoError(t, err)
	require.Equal(t, 20, n)
}
