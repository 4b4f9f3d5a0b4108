package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// injections are SQL injection attempts: quote breaking, comments, stacked
// statements, dollar quoting, format() directives, look-alike quotes, a
// sleep (so an executed payload shows in the time taken) and a guild
// switch.
var injections = []string{
	`'; DROP TABLE eventstore.events; --`,
	`x'); DELETE FROM eventstore.streams; --`,
	`' OR '1'='1`,
	`" OR ""="`,
	`$$; DROP SCHEMA eventstore CASCADE; $$`,
	`$x$ || pg_sleep(10) || $x$`,
	`' || pg_sleep(10) || '`,
	`'||(SELECT string_agg(stream_id, ',') FROM eventstore.streams)||'`,
	`%s %L %I %1$s %%`,
	`\'; TRUNCATE eventstore.events; --`,
	`*/ DROP TABLE eventstore.streams; /*`,
	`1; UPDATE eventstore.streams SET version = 0`,
	`Robert'); DROP TABLE students;--`,
	"\u02bc; DROP TABLE eventstore.events; --",
	"\uff07; DELETE FROM eventstore.events; --",
	`'; SELECT set_config('eventstore.guild_id', 'guild-victim', false); --`,
	`'; SET ROLE postgres; --`,
	`E'\x27' OR 1=1`,
	"\"; DROP TABLE eventstore.events; --\n",
	`$1 $2 ?`,
}

// slowLimit flags an operation slow enough to suggest an injected
// pg_sleep(10) ran.
const slowLimit = 5 * time.Second

// schemaObjects lists the schema's relations and functions, so a test can
// tell that nothing was dropped or created.
func schemaObjects(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT 'rel ' || c.relname || ' ' || c.relkind::text FROM pg_class c
		  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'eventstore'
		UNION ALL
		SELECT 'fn ' || p.oid::regprocedure::text FROM pg_proc p
		  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'eventstore'
		UNION ALL
		SELECT 'schema ' || nspname FROM pg_namespace
		ORDER BY 1`)
	require.NoError(t, err)
	objs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return objs
}

func countAll(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM eventstore."+table).Scan(&n))
	return n
}

func injectEvent(typ string, data any, meta map[string]string) store.Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return store.Event{ID: uuid.New(), Data: serde.Raw{Type: typ, Version: 1, Data: b}, Metadata: meta}
}

// TestInjectionIsInert sends every injection attempt through every string
// input of the store: stream ids, event types, event data keys and values,
// metadata keys and values, guild ids, feed filters (stream prefix, event
// types, guild), stream listing filters and cursors, snapshot types,
// persistent subscription names, and the stream id of soft and hard
// deletes. Each is stored and read back verbatim, or refused by
// validation with a typed error; no table or function is dropped or
// created, no row appears beyond the ones appended, and no injected
// pg_sleep runs.
func TestInjectionIsInert(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	s := r.check
	before := schemaObjects(t, r.pool)
	base := t.Context()
	stored, streams := 0, 0

	timed := func(t *testing.T, what string, fn func() error) error {
		t.Helper()
		start := time.Now()
		err := fn()
		require.Less(t, time.Since(start), slowLimit, "%s took long: did an injected pg_sleep run?", what)
		return err
	}
	for i, p := range injections {
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			ctx := store.WithGuild(base, guild)

			// Stream id.
			err := timed(t, "append", func() error {
				_, err := s.Append(ctx, p, store.NoStream, injectEvent("inj", map[string]string{"v": "x"}, nil))
				return err
			})
			if err != nil {
				require.ErrorIs(t, err, store.ErrInvalidStreamID)
			} else {
				stored, streams = stored+1, streams+1
				recs, err := s.ReadForward(ctx, p, 1, 10)
				require.NoError(t, err)
				require.Len(t, recs, 1)
				require.Equal(t, p, recs[0].StreamID)
				info, err := s.StreamInfo(ctx, p)
				require.NoError(t, err)
				require.Equal(t, p, info.StreamID)
				for _, ev := range feedWith(t, s, store.FeedFilter{StreamPrefix: p}) {
					require.True(t, strings.HasPrefix(ev.StreamID, p), "feed filtered by prefix %q returned %q", p, ev.StreamID)
				}
				list, err := s.ListStreams(ctx, store.ListOptions{Prefix: p, Limit: 100})
				require.NoError(t, err)
				require.NotEmpty(t, list.Streams)
				for _, st := range list.Streams {
					require.True(t, strings.HasPrefix(st.StreamID, p), "listing by prefix %q returned %q", p, st.StreamID)
				}
				_, err = s.SaveSnapshot(ctx, store.Snapshot{StreamID: p, Version: 1, Type: p, SchemaVersion: 1, Data: json.RawMessage(`{}`)})
				require.NoError(t, err)
				snap, err := s.ReadSnapshot(ctx, p, store.AnySchemaVersion)
				require.NoError(t, err)
				require.Equal(t, p, snap.Type)
				_, err = s.DeleteStream(ctx, p, store.Exact(1))
				require.NoError(t, err)
				res, err := s.HardDeleteStream(ctx, p, store.Any, store.ConfirmHardDelete)
				require.NoError(t, err)
				require.Equal(t, int64(1), res.EventsDeleted)
				stored, streams = stored-1, streams-1
			}

			// Event type, data and metadata, in a stream of its own.
			stream := fmt.Sprintf("inj-%02d", i)
			ev := injectEvent(p, map[string]any{"v": p, p: p}, map[string]string{p: p, "k": p})
			err = timed(t, "append", func() error {
				_, err := s.Append(ctx, stream, store.NoStream, ev)
				return err
			})
			if err != nil {
				require.ErrorIs(t, err, store.ErrInvalidEventType)
				ev = injectEvent("inj", map[string]any{"v": p, p: p}, map[string]string{p: p, "k": p})
				_, err = s.Append(ctx, stream, store.NoStream, ev)
			}
			if err != nil {
				// Metadata must be valid UTF-8 without NUL; the payloads are.
				t.Fatalf("append data and metadata %q: %v", p, err)
			}
			stored, streams = stored+1, streams+1
			recs, err := s.ReadForward(ctx, stream, 1, 10)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			require.Equal(t, ev.Data.EventType(), recs[0].Type)
			require.JSONEq(t, string(ev.Data.(serde.Raw).Data), string(recs[0].Data))
			require.Equal(t, ev.Metadata, recs[0].Metadata.Strings())
			for _, e := range feedWith(t, s, store.FeedFilter{EventTypes: []string{ev.Data.EventType()}}) {
				require.Equal(t, ev.Data.EventType(), e.Type)
			}

			// Guild id.
			gstream := fmt.Sprintf("inj-guild-%02d", i)
			gctx := store.WithGuild(base, p)
			err = timed(t, "append with guild", func() error {
				_, err := s.Append(gctx, gstream, store.NoStream, injectEvent("inj", map[string]string{"v": "g"}, nil))
				return err
			})
			if err != nil {
				require.ErrorIs(t, err, store.ErrInvalidGuildID)
			} else {
				stored, streams = stored+1, streams+1
				info, err := s.StreamInfo(gctx, gstream)
				require.NoError(t, err)
				require.Equal(t, p, info.GuildID)
				for _, e := range feedWith(t, s, store.FeedFilter{GuildID: p}) {
					require.Equal(t, p, e.GuildID)
				}
				list, err := s.ListStreams(gctx, store.ListOptions{GuildID: p, Limit: 100})
				require.NoError(t, err)
				require.Len(t, list.Streams, 1)
				require.Equal(t, gstream, list.Streams[0].StreamID)
			}

			// A listing cursor is opaque: a forged one is refused.
			_, err = s.ListStreams(ctx, store.ListOptions{Cursor: p})
			require.ErrorIs(t, err, store.ErrInvalidArgument)

			// Persistent subscription name.
			sub, err := s.Subscribe(ctx, store.SubscriptionOptions{Name: p, Start: store.FromEnd()},
				func(context.Context, store.Recorded) error { return nil })
			if err != nil {
				require.ErrorIs(t, err, store.ErrInvalidArgument)
			} else {
				require.Eventually(t, func() bool {
					infos, err := s.SubscriptionInfo(ctx, p)
					return err == nil && len(infos) == 1 && infos[0].Name == p
				}, 10*time.Second, 10*time.Millisecond)
				require.NoError(t, sub.Stop())
				require.NoError(t, s.DeleteSubscription(ctx, p))
			}
		})
	}

	require.Equal(t, before, schemaObjects(t, r.pool), "the schema changed")
	require.Equal(t, stored, countAll(t, r.pool, "events"), "events stored")
	require.Equal(t, streams, countAll(t, r.pool, "streams"), "streams stored")
	require.Zero(t, countAll(t, r.pool, "subscriptions"))
	require.Zero(t, countAll(t, r.pool, "snapshots"))
}

// feedWith reads the feed with filter once it delivers at least one
// event (its horizon is cluster-wide: a transaction of another test may
// hold a fresh event back for a moment).
func feedWith(t *testing.T, s *store.Store, filter store.FeedFilter) []store.Recorded {
	t.Helper()
	var events []store.Recorded
	require.Eventually(t, func() bool {
		page, err := s.ReadFeed(t.Context(), store.Checkpoint{}, store.FeedOptions{Limit: 1000, Filter: filter})
		require.NoError(t, err)
		events = page.Events
		return len(events) > 0
	}, 2*time.Minute, 5*time.Millisecond, "the feed filtered by %+v delivers nothing", filter)
	return events
}

// appRole is a login role that is a member of eventstore_app, the way the
// application connects in production, with a pool and a store on the rig's
// database.
type appRole struct {
	name  string
	pool  *pgxpool.Pool
	store *store.Store
}

func newAppRole(t *testing.T, r *rig) *appRole {
	t.Helper()
	name := "es_rel_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	_, err := r.admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE eventstore_app`, name, name))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = r.admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+name) })
	cfg, err := pgxpool.ParseConfig(r.url)
	require.NoError(t, err)
	cfg.ConnConfig.User, cfg.ConnConfig.Password = name, name
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{})
	t.Cleanup(s.Close)
	return &appRole{name: name, pool: pool, store: s}
}

// exec runs sql as the app role in a transaction scoped to guildID (none
// when empty), rolled back afterwards, and returns the error mapped to the
// store's errors.
func (a *appRole) exec(t *testing.T, guildID, sql string, args ...any) error {
	t.Helper()
	tx, err := a.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	if guildID != "" {
		_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, guildID)
		require.NoError(t, err)
	}
	_, err = tx.Exec(t.Context(), sql, args...)
	return store.MapError(err)
}

// count runs a count query as the app role, scoped to guildID.
func (a *appRole) count(t *testing.T, guildID, sql string) int {
	t.Helper()
	var n int
	err := pgx.BeginFunc(t.Context(), a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, guildID); err != nil {
			return err
		}
		return tx.QueryRow(t.Context(), sql).Scan(&n)
	})
	require.NoError(t, err, sql)
	return n
}

// TestAppRoleCatalog checks the privileges of eventstore_app in the
// catalog, by rule rather than by a list, so that objects added later are
// held to the same rules:
//   - the role holds no privilege on any table but SELECT (so it can take
//     no row lock, and no table lock beyond ACCESS SHARE), and every table
//     it may read has row-level security enabled;
//   - every view it may read is security_invoker (otherwise the view would
//     read as its owner, past row-level security);
//   - it cannot execute maintenance functions (those calling
//     require_admin) or the internal helpers;
//   - every SECURITY DEFINER function it can execute checks the guild
//     (calls check_guild_context);
//   - every function pins search_path with pg_temp last;
//   - no function of the schema and no query of the store takes an
//     advisory lock (any role can take any advisory lock).
func TestAppRoleCatalog(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := t.Context()

	type rel struct {
		name, kind              string
		rls, invoker            bool
		read, write, subscripts bool
	}
	rows, err := r.pool.Query(ctx, `
		SELECT c.relname, c.relkind::text, c.relrowsecurity,
		       coalesce('security_invoker=true' = ANY (c.reloptions), false),
		       has_table_privilege('eventstore_app', c.oid, 'SELECT'),
		       has_table_privilege('eventstore_app', c.oid, 'INSERT') OR has_table_privilege('eventstore_app', c.oid, 'UPDATE')
		         OR has_table_privilege('eventstore_app', c.oid, 'DELETE') OR has_table_privilege('eventstore_app', c.oid, 'TRUNCATE')
		         OR has_table_privilege('eventstore_app', c.oid, 'REFERENCES') OR has_table_privilege('eventstore_app', c.oid, 'TRIGGER')
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'eventstore' AND c.relkind IN ('r', 'p', 'v', 'm')`)
	require.NoError(t, err)
	var rels []rel
	for rows.Next() {
		var x rel
		require.NoError(t, rows.Scan(&x.name, &x.kind, &x.rls, &x.invoker, &x.read, &x.write))
		rels = append(rels, x)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, rels)
	for _, x := range rels {
		switch x.kind {
		case "r", "p":
			require.False(t, x.write, "eventstore_app holds a privilege beyond SELECT on table %s", x.name)
			if x.read || x.write {
				require.True(t, x.rls, "eventstore_app may read table %s, which has no row-level security", x.name)
			}
		case "v", "m":
			require.False(t, x.write, "eventstore_app may write view %s", x.name)
			if x.read {
				require.True(t, x.invoker, "eventstore_app may read view %s, which is not security_invoker", x.name)
			}
		}
	}

	type fn struct {
		sig, src                string
		definer, exec, pinsPath bool
	}
	rows, err = r.pool.Query(ctx, `
		SELECT p.oid::regprocedure::text, p.prosrc, p.prosecdef,
		       has_function_privilege('eventstore_app', p.oid, 'EXECUTE'),
		       coalesce(EXISTS (SELECT 1 FROM unnest(p.proconfig) c
		                         WHERE c LIKE 'search_path=%' AND c LIKE '%pg_temp' AND c NOT LIKE '%pg_temp,%'), false)
		  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		 WHERE n.nspname = 'eventstore'`)
	require.NoError(t, err)
	var fns []fn
	for rows.Next() {
		var x fn
		require.NoError(t, rows.Scan(&x.sig, &x.src, &x.definer, &x.exec, &x.pinsPath))
		fns = append(fns, x)
	}
	require.NoError(t, rows.Err())
	admin := 0
	for _, x := range fns {
		require.True(t, x.pinsPath, "%s does not pin search_path with pg_temp last", x.sig)
		require.NotContains(t, strings.ToLower(x.src), "advisory", "%s uses an advisory lock", x.sig)
		name := x.sig[:strings.IndexByte(x.sig, '(')]
		isAdmin := strings.Contains(x.src, "require_admin(") || !x.definer && strings.HasPrefix(name, "eventstore.check_guild")
		if isAdmin {
			admin++
			require.False(t, x.exec, "eventstore_app may execute %s", x.sig)
		}
		if x.definer && x.exec {
			require.Contains(t, x.src, "check_guild_context(", "SECURITY DEFINER %s runs as the owner without checking the guild", x.sig)
		}
	}
	require.Positive(t, admin, "no maintenance function found")

	// The store's own queries take no advisory lock either.
	queries, err := fs.Glob(os.DirFS("../../sql/queries"), "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, queries)
	for _, q := range queries {
		b, err := os.ReadFile(filepath.Join("../../sql/queries", q))
		require.NoError(t, err)
		require.NotContains(t, strings.ToLower(string(b)), "advisory", "query file %s uses an advisory lock", q)
	}
}

// TestAppRoleBoundaries checks, connected as a member of eventstore_app,
// that events cannot be changed even with the mutation switch the
// maintenance functions use, that DDL is refused, that another guild's
// rows are invisible through tables, views and read functions, that an
// injected guild id reads nothing, and that maintenance (hard delete,
// archive) needs an administrator, which the owner is.
func TestAppRoleBoundaries(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := newAppRole(t, r)
	ctxA, ctxB := store.WithGuild(t.Context(), "guild-a"), store.WithGuild(t.Context(), "guild-b")
	_, err := r.check.Append(ctxA, "a-1", store.NoStream, injectEvent("inj", map[string]int{"n": 1}, nil), injectEvent("inj", map[string]int{"n": 2}, nil))
	require.NoError(t, err)
	_, err = r.check.Append(ctxB, "b-1", store.NoStream, injectEvent("inj", map[string]int{"n": 1}, nil))
	require.NoError(t, err)
	before := schemaObjects(t, r.pool)

	t.Run("events cannot be changed", func(t *testing.T) {
		for _, sql := range []string{
			`UPDATE eventstore.events SET data = '{}'`,
			`DELETE FROM eventstore.events`,
			`TRUNCATE eventstore.events`,
			`INSERT INTO eventstore.events (stream_id, stream_version, event_id, event_type, event_version, guild_id, data)
			 VALUES ('a-1', 3, gen_random_uuid(), 'x', 1, 'guild-a', '{}')`,
			`UPDATE eventstore.streams SET version = 0`,
			`DELETE FROM eventstore.streams`,
			`INSERT INTO eventstore.streams (stream_id, guild_id) VALUES ('a-2', 'guild-a')`,
			`UPDATE eventstore.events_archive SET data = '{}'`,
		} {
			for _, mutation := range []bool{false, true} {
				q := sql
				if mutation {
					q = `SELECT set_config('eventstore.allow_event_mutation', 'on', true); ` + sql
				}
				err := app.exec(t, "guild-a", q)
				require.ErrorIs(t, err, store.ErrPermissionDenied, q)
			}
		}
	})

	t.Run("DDL is refused", func(t *testing.T) {
		for _, sql := range []string{
			`CREATE TABLE eventstore.evil (x int)`,
			`DROP TABLE eventstore.events`,
			`ALTER TABLE eventstore.events DISABLE ROW LEVEL SECURITY`,
			`ALTER TABLE eventstore.events DISABLE TRIGGER events_immutable`,
			`DROP POLICY events_guild_isolation ON eventstore.events`,
			`CREATE POLICY open ON eventstore.events USING (true)`,
			`CREATE FUNCTION eventstore.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
			`CREATE OR REPLACE FUNCTION eventstore.is_admin() RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
			`DROP FUNCTION eventstore.append_events`,
			`ALTER FUNCTION eventstore.hard_delete_stream(text, text, bigint, boolean) SECURITY DEFINER`,
			`DROP SCHEMA eventstore CASCADE`,
		} {
			require.ErrorIs(t, app.exec(t, "guild-a", sql), store.ErrPermissionDenied, sql)
		}
		require.Equal(t, before, schemaObjects(t, r.pool))
		// GRANT without the grant option is only a warning: nothing is granted.
		require.NoError(t, app.exec(t, "guild-a", `GRANT UPDATE, DELETE ON eventstore.events TO eventstore_app`))
		var granted bool
		require.NoError(t, r.pool.QueryRow(t.Context(),
			`SELECT has_table_privilege('eventstore_app', 'eventstore.events', 'UPDATE, DELETE')`).Scan(&granted))
		require.False(t, granted)
	})

	t.Run("other guilds are invisible", func(t *testing.T) {
		for _, sql := range []string{
			`SELECT count(*) FROM eventstore.events`,
			`SELECT count(*) FROM eventstore.streams`,
			`SELECT count(*) FROM eventstore.recent_events`,
			`SELECT count(*) FROM eventstore.stream_summary`,
			`SELECT count(*) FROM eventstore.read_feed('0', 0, 100)`,
		} {
			require.Equal(t, 0, app.count(t, "guild-c", sql), "guild-c: %s", sql)
			require.Equal(t, 0, app.count(t, "", sql), "no guild: %s", sql)
			require.Equal(t, 0, app.count(t, `guild-a' OR '1'='1`, sql), "injected guild: %s", sql)
			// The feed delivers once the cluster-wide horizon has passed.
			require.Eventually(t, func() bool { return app.count(t, "guild-a", sql) > 0 },
				2*time.Minute, 5*time.Millisecond, "guild-a: %s", sql)
		}
		require.Equal(t, 2, app.count(t, "guild-a", `SELECT count(*) FROM eventstore.events`))
		require.Equal(t, 0, app.count(t, "guild-a", `SELECT count(*) FROM eventstore.events WHERE guild_id = 'guild-b'`))
		require.ErrorIs(t, app.exec(t, "guild-a", `SELECT * FROM eventstore.read_stream('b-1', 1, 100)`), store.ErrStreamNotFound)

		_, err := app.store.ReadForward(ctxA, "b-1", 1, 10)
		require.ErrorIs(t, err, store.ErrStreamNotFound)
		_, err = app.store.Append(ctxA, "b-1", store.Any, injectEvent("inj", map[string]int{"n": 9}, nil))
		require.Error(t, err)
		require.Equal(t, 1, countAll(t, r.pool, "events WHERE stream_id = 'b-1'"))
		page, err := app.store.ReadFeed(ctxA, store.Checkpoint{}, store.FeedOptions{Limit: 100})
		require.NoError(t, err)
		for _, ev := range page.Events {
			require.Equal(t, "guild-a", ev.GuildID)
		}
		// A guild argument naming another guild than the transaction's is refused.
		err = app.exec(t, "guild-a", `SELECT * FROM eventstore.append_events('b-1', 'guild-b', -1, ARRAY[gen_random_uuid()], ARRAY['x'], ARRAY[1], ARRAY['{}'::jsonb])`)
		require.ErrorIs(t, err, store.ErrGuildMismatch)
		err = app.exec(t, "", `SELECT * FROM eventstore.append_events('b-1', 'guild-b', -1, ARRAY[gen_random_uuid()], ARRAY['x'], ARRAY[1], ARRAY['{}'::jsonb])`)
		require.ErrorIs(t, err, store.ErrGuildRequired)
	})

	t.Run("maintenance needs an administrator", func(t *testing.T) {
		_, err := app.store.HardDeleteStream(ctxA, "a-1", store.Any, store.ConfirmHardDelete)
		require.True(t, errors.Is(err, store.ErrAdminRequired) || errors.Is(err, store.ErrPermissionDenied), "hard delete as app: %v", err)
		_, err = app.store.ArchiveStream(ctxA, "a-1", store.Any)
		require.True(t, errors.Is(err, store.ErrAdminRequired) || errors.Is(err, store.ErrPermissionDenied), "archive as app: %v", err)
		for _, sql := range []string{
			`SELECT * FROM eventstore.hard_delete_stream('a-1', 'guild-a', -1, true)`,
			`SELECT * FROM eventstore.archive_stream('a-1', -1, NULL, 'guild-a')`,
			`SELECT eventstore.move_to_archive('a-1', 2)`,
		} {
			require.ErrorIs(t, app.exec(t, "guild-a", sql), store.ErrPermissionDenied, sql)
		}
		require.Equal(t, 2, countAll(t, r.pool, "events WHERE stream_id = 'a-1'"))

		// The owner is an administrator.
		res, err := r.check.HardDeleteStream(ctxA, "a-1", store.Exact(2), store.ConfirmHardDelete)
		require.NoError(t, err)
		require.Equal(t, int64(2), res.EventsDeleted)
		require.Zero(t, countAll(t, r.pool, "events WHERE stream_id = 'a-1'"))
	})
}
