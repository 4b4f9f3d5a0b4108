package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

const (
	guildA = "guild-a"
	guildB = "guild-b"
)

// appBundle is a database used by two stores: owner connects as the owner
// of the schema (the admin path, not subject to row-level security) and app
// as a login role that is a member of eventstore_app, the way an
// application connects in production.
type appBundle struct {
	owner     *store.Store
	ownerPool *pgxpool.Pool
	app       *store.Store
	appPool   *pgxpool.Pool
	role      string
}

func setupApp(t *testing.T, cfgs ...store.Config) *appBundle {
	t.Helper()
	var cfg store.Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	tdb := testdb.NewDB(t)
	admin := testdb.Connect(t, testdb.ServerURL(t))
	role := "es_app_" + randomSuffix()
	_, err := admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE eventstore_app`, role, role))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })

	pcfg, err := pgxpool.ParseConfig(tdb.URL)
	require.NoError(t, err)
	pcfg.ConnConfig.User, pcfg.ConnConfig.Password = role, role
	appPool, err := pgxpool.NewWithConfig(t.Context(), pcfg)
	require.NoError(t, err)
	t.Cleanup(appPool.Close)

	owner := store.New(tdb.Pool, cfg)
	t.Cleanup(owner.Close)
	app := store.New(appPool, cfg)
	t.Cleanup(app.Close)
	return &appBundle{owner: owner, ownerPool: tdb.Pool, app: app, appPool: appPool, role: role}
}

// countAll counts a stream's events as the owner.
func (b *appBundle) countAll(t *testing.T, streamID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.ownerPool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE stream_id = $1`, streamID).Scan(&n))
	return n
}

// appTx runs fn in a transaction on one of the app role's connections,
// scoped to guild (none when empty), and rolls it back.
func (b *appBundle) appTx(t *testing.T, guild string, fn func(tx pgx.Tx)) {
	t.Helper()
	tx, err := b.appPool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	if guild != "" {
		_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, guild)
		require.NoError(t, err)
	}
	fn(tx)
}

// sqlErr runs sql in its own savepoint so that the transaction survives the
// error, and returns the error mapped to the store's errors.
func sqlErr(t *testing.T, tx pgx.Tx, sql string, args ...any) error {
	t.Helper()
	sp, err := tx.Begin(t.Context())
	require.NoError(t, err)
	_, err = sp.Exec(t.Context(), sql, args...)
	_ = sp.Rollback(t.Context())
	return store.MapError(err)
}

func seedGuilds(t *testing.T, b *appBundle) {
	t.Helper()
	ctxA, ctxB := store.WithGuild(t.Context(), guildA), store.WithGuild(t.Context(), guildB)
	_, err := b.owner.Append(ctxA, "a-1", store.NoStream, rawEvents(2, 0)...)
	require.NoError(t, err)
	_, err = b.owner.Append(ctxB, "b-1", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)
}

// TestAppRoleGuildIsolation: connected as the application role with guild
// A in the context, nothing of guild B can be read, listed, appended to,
// deleted or seen in the feed, through the store or with raw SQL on the
// same connection; events cannot be written or changed directly at all.
func TestAppRoleGuildIsolation(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	seedGuilds(t, b)
	ctxA := store.WithGuild(t.Context(), guildA)

	t.Run("own guild is readable", func(t *testing.T) {
		recs, err := b.app.ReadForward(ctxA, "a-1", 0, 10)
		require.NoError(t, err)
		require.Len(t, recs, 2)
		info, err := b.app.StreamInfo(ctxA, "a-1")
		require.NoError(t, err)
		require.Equal(t, guildA, info.GuildID)
	})

	t.Run("other guild's stream is invisible", func(t *testing.T) {
		_, err := b.app.ReadForward(ctxA, "b-1", 0, 10)
		require.ErrorIs(t, err, store.ErrStreamNotFound)
		_, err = b.app.ReadBackward(ctxA, "b-1", store.End, 10)
		require.ErrorIs(t, err, store.ErrStreamNotFound)
		_, err = b.app.StreamInfo(ctxA, "b-1")
		require.ErrorIs(t, err, store.ErrStreamNotFound)
		for _, err := range b.app.Stream(ctxA, "b-1", 0, 10) {
			require.ErrorIs(t, err, store.ErrStreamNotFound)
		}
	})

	t.Run("feed shows only own guild", func(t *testing.T) {
		// The owner is the admin path: it sees every guild. The feed shows a
		// transaction once every older one in the cluster has ended (another
		// database's long transaction holds it back too), so wait for all
		// five events first.
		require.Eventually(t, func() bool {
			all, err := b.owner.ReadFeed(t.Context(), store.Checkpoint{}, store.FeedOptions{Limit: 100})
			require.NoError(t, err)
			return len(all.Events) == 5
		}, time.Minute, 10*time.Millisecond)
		page, err := b.app.ReadFeed(ctxA, store.Checkpoint{}, store.FeedOptions{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page.Events, 2)
		for _, r := range page.Events {
			require.Equal(t, guildA, r.GuildID)
		}
	})

	t.Run("no guild sees nothing", func(t *testing.T) {
		page, err := b.app.ReadFeed(t.Context(), store.Checkpoint{}, store.FeedOptions{Limit: 100})
		require.NoError(t, err)
		require.Empty(t, page.Events)
		_, err = b.app.ReadForward(t.Context(), "a-1", 0, 10)
		require.ErrorIs(t, err, store.ErrStreamNotFound)
	})

	t.Run("other guild's stream refuses writes", func(t *testing.T) {
		_, err := b.app.Append(ctxA, "b-1", store.Any, rawEvent("test_event", 9))
		require.ErrorIs(t, err, store.ErrGuildMismatch)
		_, err = b.app.DeleteStream(ctxA, "b-1", store.Any)
		require.ErrorIs(t, err, store.ErrGuildMismatch)
		require.Equal(t, 3, b.countAll(t, "b-1"))
		info, err := b.owner.StreamInfo(t.Context(), "b-1")
		require.NoError(t, err)
		require.Nil(t, info.DeletedAt)
	})

	t.Run("raw SQL with guild A", func(t *testing.T) {
		b.appTx(t, guildA, func(tx pgx.Tx) {
			var events, foreign int
			require.NoError(t, tx.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE guild_id = $1) FROM eventstore.events`, guildB).Scan(&events, &foreign))
			require.Equal(t, 2, events)
			require.Zero(t, foreign)
			rows, err := tx.Query(t.Context(), `SELECT stream_id FROM eventstore.streams ORDER BY stream_id`)
			require.NoError(t, err)
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.Equal(t, []string{"a-1"}, ids)
			var visible bool
			require.NoError(t, tx.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM eventstore.events WHERE stream_id = 'b-1')`).Scan(&visible))
			require.False(t, visible)

			appendB := `SELECT * FROM eventstore.append_events('b-1', $1, -1, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`
			require.ErrorIs(t, sqlErr(t, tx, appendB, guildB), store.ErrGuildMismatch)
			require.ErrorIs(t, sqlErr(t, tx, appendB, guildA), store.ErrGuildMismatch, "the stream belongs to guild B")
			appendOneB := `SELECT * FROM eventstore.append_event('b-1', $1, $2, gen_random_uuid(), 't', 1, '{}')`
			for _, expected := range []int64{-1, -3, 3} {
				require.ErrorIs(t, sqlErr(t, tx, appendOneB, guildB, expected), store.ErrGuildMismatch)
				require.ErrorIs(t, sqlErr(t, tx, appendOneB, guildA, expected), store.ErrGuildMismatch, "the stream belongs to guild B")
			}
			require.ErrorIs(t, sqlErr(t, tx, `SELECT eventstore.delete_stream('b-1', NULL, -1)`), store.ErrGuildMismatch)
		})
	})

	t.Run("raw SQL cannot change events", func(t *testing.T) {
		b.appTx(t, guildA, func(tx pgx.Tx) {
			for name, sql := range map[string]string{
				"update events":      `UPDATE eventstore.events SET data = '{}'`,
				"delete events":      `DELETE FROM eventstore.events`,
				"truncate events":    `TRUNCATE eventstore.events`,
				"insert event":       `INSERT INTO eventstore.events (stream_id, stream_version, event_id, event_type, event_version, guild_id, data) VALUES ('a-1', 3, gen_random_uuid(), 't', 1, 'guild-a', '{}')`,
				"update streams":     `UPDATE eventstore.streams SET version = 0`,
				"insert stream":      `INSERT INTO eventstore.streams (stream_id, guild_id) VALUES ('a-9', 'guild-a')`,
				"lock a stream row":  `SELECT 1 FROM eventstore.streams FOR UPDATE`,
				"write a checkpoint": `UPDATE eventstore.subscriptions SET handled_count = 0`,
				"lock events":        `LOCK TABLE eventstore.events IN EXCLUSIVE MODE`,
				"internal helper":    `SELECT eventstore.lock_stream('a-1', 'guild-a', -1, true)`,
			} {
				err := sqlErr(t, tx, sql)
				require.ErrorIs(t, err, store.ErrPermissionDenied, name)
				var pgErr *pgconn.PgError
				require.ErrorAs(t, err, &pgErr, name)
				require.Equal(t, "42501", pgErr.Code, name)
			}
		})
		require.Equal(t, 2, b.countAll(t, "a-1"))
		require.Equal(t, 3, b.countAll(t, "b-1"))
	})

	t.Run("raw SQL without a guild", func(t *testing.T) {
		b.appTx(t, "", func(tx pgx.Tx) {
			var n int
			require.NoError(t, tx.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.events`).Scan(&n))
			require.Zero(t, n)
			require.NoError(t, tx.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.streams`).Scan(&n))
			require.Zero(t, n)
			err := sqlErr(t, tx, `SELECT * FROM eventstore.append_events('a-9', 'guild-a', -1, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`)
			require.ErrorIs(t, err, store.ErrGuildRequired)
			for _, stream := range []string{"a-1", "a-9"} {
				err = sqlErr(t, tx, `SELECT * FROM eventstore.append_event($1, 'guild-a', -1, gen_random_uuid(), 't', 1, '{}')`, stream)
				require.ErrorIs(t, err, store.ErrGuildRequired, stream)
			}
			require.ErrorIs(t, sqlErr(t, tx, `SELECT eventstore.create_stream('a-9', 'guild-a')`), store.ErrGuildRequired)
		})
		require.Zero(t, b.countAll(t, "a-9"))
	})
}

// TestAppRoleWritesOwnGuild: the application role appends, creates and
// deletes streams of its own guild through the store.
func TestAppRoleWritesOwnGuild(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	ctxA := store.WithGuild(t.Context(), guildA)

	res, err := b.app.Append(ctxA, "a-1", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Version)
	require.NoError(t, b.app.CreateStream(ctxA, "a-2"))
	v, err := b.app.DeleteStream(ctxA, "a-2", store.Exact(0))
	require.NoError(t, err)
	require.Zero(t, v)

	info, err := b.owner.StreamInfo(t.Context(), "a-1")
	require.NoError(t, err)
	require.Equal(t, guildA, info.GuildID)
	require.Equal(t, 3, b.countAll(t, "a-1"))

	// Guild B's view of the same database holds none of it.
	ctxB := store.WithGuild(t.Context(), guildB)
	_, err = b.app.ReadForward(ctxB, "a-1", 0, 10)
	require.ErrorIs(t, err, store.ErrStreamNotFound)
	_, err = b.app.Append(ctxB, "a-1", store.Any, rawEvent("test_event", 1))
	require.ErrorIs(t, err, store.ErrGuildMismatch)
	require.Equal(t, 3, b.countAll(t, "a-1"))
}

// TestWriteWithoutGuild: a write without a guild in the context is refused
// with ErrGuildRequired before any SQL runs, for the owner and the
// application role alike, and nothing is stored.
func TestWriteWithoutGuild(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	for name, s := range map[string]*store.Store{"owner": b.owner, "app": b.app} {
		t.Run(name, func(t *testing.T) {
			stream := "no-guild-" + name
			_, err := s.Append(t.Context(), stream, store.Any, rawEvent("test_event", 1))
			require.ErrorIs(t, err, store.ErrGuildRequired)
			require.ErrorIs(t, s.CreateStream(t.Context(), stream), store.ErrGuildRequired)
			err = s.InTx(t.Context(), func(ctx context.Context) error {
				_, err := s.Append(ctx, stream, store.Any, rawEvent("test_event", 2))
				return err
			})
			require.ErrorIs(t, err, store.ErrGuildRequired)
			require.Zero(t, b.countAll(t, stream))
			_, err = b.owner.StreamInfo(t.Context(), stream)
			require.ErrorIs(t, err, store.ErrStreamNotFound)
		})
	}
}

// TestGuildMismatchOwner: a stream belongs to the guild that created it,
// for the owner too: appending with another guild is refused and stores
// nothing, through the store and in raw SQL whose transaction guild differs
// from the guild written to.
func TestGuildMismatchOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "owned", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)

	other := store.WithGuild(t.Context(), "guild-2")
	_, err = b.store.Append(other, "owned", store.Any, rawEvent("test_event", 2))
	require.ErrorIs(t, err, store.ErrGuildMismatch)
	_, err = b.store.DeleteStream(other, "owned", store.Any)
	require.ErrorIs(t, err, store.ErrGuildMismatch)

	tx, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', 'guild-2', true)`)
	require.NoError(t, err)
	err = sqlErr(t, tx, `SELECT * FROM eventstore.append_events('fresh', $1, -1, ARRAY[$2::uuid], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`,
		testGuild, uuid.New())
	require.ErrorIs(t, err, store.ErrGuildMismatch, "the transaction's guild is guild-2")
	require.NoError(t, tx.Rollback(t.Context()))

	require.Equal(t, 1, countRows(t, b, "owned"))
	require.Zero(t, countRows(t, b, "fresh"))
}

// TestSecurityMigrationDown: rolling back to the tables and roles removes
// every later function and keeps the tables' policies and grants; rolling
// back to 0 removes the schema and keeps the cluster-wide role; migrating
// up again restores everything.
func TestSecurityMigrationDown(t *testing.T) {
	t.Parallel()
	pool := emptyDatabase(t)
	ctx := t.Context()
	_, err := store.Migrate(ctx, pool)
	require.NoError(t, err)

	type state struct {
		rls, canSelect, definer, role bool
		functions, policies           int
	}
	read := func() state {
		var st state
		require.NoError(t, pool.QueryRow(ctx, `
			SELECT coalesce((SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass('eventstore.events')), false),
			       to_regclass('eventstore.events') IS NOT NULL AND has_table_privilege('eventstore_app', 'eventstore.events', 'SELECT'),
			       coalesce((SELECT bool_or(prosecdef) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			                  WHERE p.proname = 'append_events' AND n.nspname = 'eventstore'), false),
			       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eventstore_app'),
			       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'eventstore'),
			       (SELECT count(*) FROM pg_policies WHERE schemaname = 'eventstore'
			           AND policyname IN ('events_guild_isolation', 'streams_guild_isolation'))`).
			Scan(&st.rls, &st.canSelect, &st.definer, &st.role, &st.functions, &st.policies))
		return st
	}
	up := read()
	require.True(t, up.rls && up.canSelect && up.definer && up.role)
	require.Equal(t, 2, up.policies)

	// Down to the tables and roles: every later function is gone, the
	// tables keep their row-level security and grants.
	_, err = store.MigrateDown(ctx, pool, 1)
	require.NoError(t, err)
	first := read()
	require.True(t, first.rls && first.canSelect && !first.definer && first.role)
	require.Less(t, first.functions, up.functions)

	_, err = store.MigrateDown(ctx, pool, 0)
	require.NoError(t, err)
	require.Equal(t, state{role: true}, read(), "down to 0 removes the schema and keeps the cluster-wide role")

	_, err = store.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, up, read())
}

// TestAppRoleSubscriptionIsolation: the application role sees the
// persistent subscriptions of its guild only, cannot write the table at
// all, and through the subscription functions changes only its guild's;
// store-wide subscriptions (no guild) are the administrators'.
func TestAppRoleSubscriptionIsolation(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	for _, row := range []struct {
		name  string
		guild any
	}{{"a-scores", guildA}, {"b-scores", guildB}, {"all-scores", nil}} {
		_, err := b.ownerPool.Exec(t.Context(),
			`INSERT INTO eventstore.subscriptions (name, guild_id) VALUES ($1, $2)`, row.name, row.guild)
		require.NoError(t, err)
	}
	ctxA := store.WithGuild(t.Context(), guildA)

	subs, err := b.app.Subscriptions(ctxA)
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Equal(t, "a-scores", subs[0].Name)
	none, err := b.app.Subscriptions(t.Context())
	require.NoError(t, err)
	require.Empty(t, none, "without a guild the application role sees no subscription")
	all, err := b.owner.Subscriptions(t.Context())
	require.NoError(t, err)
	require.Len(t, all, 3, "the owner sees every subscription")

	b.appTx(t, guildA, func(tx pgx.Tx) {
		for name, sql := range map[string]string{
			"update own guild's":  `UPDATE eventstore.subscriptions SET handled_count = 7`,
			"insert own guild's":  `INSERT INTO eventstore.subscriptions (name, guild_id) VALUES ('a-new', 'guild-a')`,
			"insert other guild":  `INSERT INTO eventstore.subscriptions (name, guild_id) VALUES ('b-new', 'guild-b')`,
			"delete":              `DELETE FROM eventstore.subscriptions`,
			"lock the table":      `LOCK TABLE eventstore.subscriptions IN ACCESS EXCLUSIVE MODE`,
			"lock a row":          `SELECT 1 FROM eventstore.subscriptions FOR KEY SHARE`,
			"register store-wide": `SELECT * FROM eventstore.subscription_register('all-new', 0, 1, NULL, '0', 0, 0, '{}', NULL)`,
		} {
			err := sqlErr(t, tx, sql)
			require.True(t, errors.Is(err, store.ErrPermissionDenied) || errors.Is(err, store.ErrGuildMismatch), "%s: %v", name, err)
		}
		for name, sql := range map[string]string{
			"squat another guild's name": `SELECT * FROM eventstore.subscription_register('b-scores', 0, 1, NULL, '0', 0, 0, '{}', 'guild-a')`,
			"squat a store-wide name":    `SELECT * FROM eventstore.subscription_register('all-scores', 0, 1, NULL, '0', 0, 0, '{}', 'guild-a')`,
		} {
			require.ErrorIs(t, sqlErr(t, tx, sql), store.ErrSubscriptionNameTaken, name)
		}
		var deleted int
		require.NoError(t, tx.QueryRow(t.Context(), `SELECT eventstore.subscription_delete('b-scores')`).Scan(&deleted))
		require.Zero(t, deleted, "another guild's subscription is not found")
		require.NoError(t, tx.QueryRow(t.Context(), `SELECT eventstore.subscription_delete('a-scores')`).Scan(&deleted))
		require.Equal(t, 1, deleted)
		require.NoError(t, tx.Commit(t.Context()))
	})

	rows, err := b.ownerPool.Query(t.Context(), `SELECT name FROM eventstore.subscriptions ORDER BY name`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"all-scores", "b-scores"}, names)
}

// TestAppRolePersistentSubscription: the app role runs a persistent
// subscription of its own guild, checkpoints it, and resumes after it.
func TestAppRolePersistentSubscription(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	ctx := store.WithGuild(t.Context(), guildA)
	_, err := b.app.Append(ctx, "a-1", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)

	run := func(want int) []int {
		var mu sync.Mutex
		var got []int
		done := make(chan struct{})
		sub, err := b.app.Subscribe(ctx, store.SubscriptionOptions{
			Name: "guild-a-poster", Start: store.FromOrigin(), Filter: store.FeedFilter{GuildID: guildA},
			PollInterval: 50 * time.Millisecond,
		}, func(_ context.Context, r store.Recorded) error {
			var v struct{ N int }
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, v.N)
			if len(got) == want {
				close(done)
			}
			return nil
		})
		require.NoError(t, err)
		select {
		case <-done:
		case <-sub.Done():
			t.Fatalf("subscription stopped: %v", sub.Wait())
		case <-time.After(20 * time.Second):
			t.Fatalf("timed out with %v", got)
		}
		require.NoError(t, sub.Stop())
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	require.Equal(t, []int{1, 2, 3, 4, 5}, run(5))
	_, err = b.app.Append(ctx, "a-1", store.Exact(5), rawEvents(2, 6)...)
	require.NoError(t, err)
	require.Equal(t, []int{6, 7}, run(2), "resumes after the stored checkpoint")
}

// TestAppRoleBatchArrayBounds: arrays with a lower bound other than 1 are
// legal SQL, and a caller holding the application role may pass them to
// append_batch. Whatever their bounds, each call's events go to the stream
// its checks were made on: never to another guild's stream id (which would
// take that stream's next version and stall its writers), nor to one of
// the caller's own streams at a version its row does not have.
func TestAppRoleBatchArrayBounds(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	seedGuilds(t, b) // a-1 (guild A) at version 2, b-1 (guild B) at version 3
	ctxA, ctxB := store.WithGuild(t.Context(), guildA), store.WithGuild(t.Context(), guildB)
	_, err := b.owner.Append(ctxA, "a-9", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)

	for _, streams := range []string{`[0:1]={b-1,a-9}`, `[0:1]={a-1,a-9}`, `[2:3]={b-1,a-9}`} {
		// Committed (when it stores anything), and checked as the owner,
		// who sees every guild's rows.
		tx, err := b.appPool.Begin(t.Context())
		require.NoError(t, err)
		_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, guildA)
		require.NoError(t, err)
		_, _ = tx.Exec(t.Context(), `SELECT count(*)
  FROM eventstore.append_batch($1, $2::text[], ARRAY[-1, -1]::bigint[], ARRAY[1, 1],
       ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY['test_event', 'test_event'], ARRAY[1, 1],
       ARRAY['{}', '{}']::jsonb[])`, guildA, streams) // refused or not: what counts is what it stored
		_ = tx.Commit(t.Context())
		var n int
		require.NoError(t, b.ownerPool.QueryRow(t.Context(),
			`SELECT count(*) FROM eventstore.events e JOIN eventstore.streams s USING (stream_id)
			  WHERE e.stream_version > s.version OR e.guild_id <> s.guild_id`).Scan(&n))
		require.Zero(t, n, "%s: an event beyond its stream's version or in another guild's stream", streams)
	}
	require.Equal(t, 3, b.countAll(t, "b-1"))
	res, err := b.owner.Append(ctxB, "b-1", store.Exact(3), rawEvent("test_event", 4))
	require.NoError(t, err, "guild B's stream takes its next version")
	require.Equal(t, int64(4), res.Version)
}
