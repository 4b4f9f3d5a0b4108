package store_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// traces records what a Tracer reports.
type traces struct {
	mu  sync.Mutex
	all []store.QueryTrace
}

func (tr *traces) add(_ context.Context, q store.QueryTrace) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.all = append(tr.all, q)
}

// find returns the traces of kind whose SQL contains sql.
func (tr *traces) find(kind store.TraceKind, sql string) []store.QueryTrace {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []store.QueryTrace
	for _, q := range tr.all {
		if q.Kind == kind && strings.Contains(q.SQL, sql) {
			out = append(out, q)
		}
	}
	return out
}

func (tr *traces) reset() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.all = nil
}

// tracedPool returns a pool on a fresh database with a Tracer installed.
func tracedPool(t *testing.T, tracer *store.Tracer) *pgxpool.Pool {
	t.Helper()
	tdb := testdb.NewDB(t)
	cfg, err := pgxpool.ParseConfig(tdb.URL)
	require.NoError(t, err)
	tracer.Install(cfg)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// TestTracerSeesEveryCall: the store's appends (one statement that sets the
// guild), its batches (guild setting + statement), plain queries, COPY FROM, prepares and connects are all reported, with
// the guild of the call's context.
func TestTracerSeesEveryCall(t *testing.T) {
	t.Parallel()
	tr := &traces{}
	pool := tracedPool(t, &store.Tracer{TraceFunc: tr.add})
	s := store.New(pool, store.Config{DisableNotify: true})
	t.Cleanup(s.Close)
	ctx := store.WithGuild(t.Context(), testGuild)

	t.Run("append is one statement", func(t *testing.T) {
		tr.reset()
		_, err := s.Append(ctx, "traced", store.NoStream, rawEvents(2, 0)...)
		require.NoError(t, err)
		app := tr.find(store.TraceQuery, "eventstore.append_events(")
		require.Len(t, app, 1, "one round trip")
		require.Contains(t, app[0].SQL, "set_config('eventstore.guild_id'", "the statement sets the guild itself")
		require.Equal(t, 13, app[0].Args, "the append's twelve and the lock wait")
		require.Equal(t, "SELECT 1", app[0].Command)
		require.NoError(t, app[0].Err)
		require.Equal(t, testGuild, app[0].GuildID)
		require.NotZero(t, app[0].PID)
		require.Empty(t, tr.find(store.TraceBatch, ""), "no batch")
		require.Len(t, tr.find(store.TraceQuery, ""), 1, "no other statement")
	})

	t.Run("read is one batch", func(t *testing.T) {
		tr.reset()
		recs, err := s.ReadForward(ctx, "traced", 1, 10)
		require.NoError(t, err)
		require.Len(t, recs, 2)
		batches := tr.find(store.TraceBatch, "")
		require.Len(t, batches, 1, "one round trip")
		require.Equal(t, 2, batches[0].BatchSize)
		require.NoError(t, batches[0].Err)
		require.Equal(t, testGuild, batches[0].GuildID)
		require.NotZero(t, batches[0].PID)
		guc := tr.find(store.TraceBatchQuery, "set_config('eventstore.guild_id'")
		require.Len(t, guc, 1)
		require.Equal(t, 1, guc[0].Args)
		require.Empty(t, tr.find(store.TraceQuery, ""), "no statement outside the batch")
	})

	t.Run("failed statement", func(t *testing.T) {
		tr.reset()
		_, err := s.Append(ctx, "traced", store.NoStream, rawEvent("test_event", 9))
		require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
		app := tr.find(store.TraceQuery, "eventstore.append_event(")
		require.Len(t, app, 1)
		require.ErrorIs(t, store.MapError(app[0].Err), store.ErrWrongExpectedVersion)
	})

	t.Run("a single event is one lean statement", func(t *testing.T) {
		for v := range 2 { // a new stream, then an existing one
			tr.reset()
			_, err := s.Append(ctx, "traced-one", store.Exact(int64(v)), rawEvent("test_event", v))
			require.NoError(t, err)
			app := tr.find(store.TraceQuery, "eventstore.append_event(")
			require.Len(t, app, 1, "one round trip")
			require.Contains(t, app[0].SQL, "set_config('eventstore.guild_id'", "the statement sets the guild itself")
			require.Equal(t, 12, app[0].Args, "the event's eleven and the lock wait")
			require.NoError(t, app[0].Err)
			require.Len(t, tr.find(store.TraceQuery, ""), 1, "no other statement")
		}

		// A replay at an exact version no longer passes the lean path's
		// check, and append_event's append_events recognises it; one at
		// any version fails the lean statement on the stored id, and the
		// store asks append_events, with the probe.
		ev := withID(rawEvent("test_event", 2))
		first, err := s.Append(ctx, "traced-one", store.Exact(2), ev)
		require.NoError(t, err)
		tr.reset()
		again, err := s.Append(ctx, "traced-one", store.Exact(2), ev)
		require.NoError(t, err)
		require.Equal(t, first, again)
		require.Len(t, tr.find(store.TraceQuery, ""), 1, "one statement")
		require.Len(t, tr.find(store.TraceQuery, "eventstore.append_event("), 1)

		tr.reset()
		again, err = s.Append(ctx, "traced-one", store.Any, ev)
		require.NoError(t, err)
		require.Equal(t, first, again)
		lean := tr.find(store.TraceQuery, "eventstore.append_event(")
		require.Len(t, lean, 1)
		require.ErrorIs(t, store.MapError(lean[0].Err), store.ErrDuplicateEvent)
		probe := tr.find(store.TraceQuery, "eventstore.append_events(")
		require.Len(t, probe, 1, "the replay is decided by append_events")
		require.NoError(t, probe[0].Err)

		// In a caller's transaction the probe runs first.
		tr.reset()
		require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
			_, err := s.Append(ctx, "traced-one", store.Exact(3), rawEvent("test_event", 3))
			return err
		}))
		require.Empty(t, tr.find(store.TraceQuery, "eventstore.append_event("))
		require.Len(t, tr.find(store.TraceQuery, "eventstore.append_events("), 1)
	})

	t.Run("query without a guild", func(t *testing.T) {
		tr.reset()
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.events`).Scan(&n))
		q := tr.find(store.TraceQuery, "SELECT count(*) FROM eventstore.events")
		require.Len(t, q, 1)
		require.Empty(t, q[0].GuildID)
		require.Equal(t, int64(1), q[0].Rows)
	})

	t.Run("copy", func(t *testing.T) {
		tr.reset()
		conn, err := pool.Acquire(t.Context())
		require.NoError(t, err)
		defer conn.Release()
		_, err = conn.Exec(t.Context(), `CREATE TEMP TABLE copied (n int, label text)`)
		require.NoError(t, err)
		n, err := conn.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"n", "label"},
			pgx.CopyFromRows([][]any{{1, "a"}, {2, "b"}, {3, "c"}}))
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		cp := tr.find(store.TraceCopyFrom, `COPY "copied" ("n", "label") FROM STDIN`)
		require.Len(t, cp, 1)
		require.Equal(t, int64(3), cp[0].Rows)
		require.Equal(t, testGuild, cp[0].GuildID)
		require.Positive(t, cp[0].Duration)
	})

	t.Run("batch of the application", func(t *testing.T) {
		tr.reset()
		batch := &pgx.Batch{}
		batch.Queue(`SELECT 1`)
		batch.Queue(`SELECT 2`)
		batch.Queue(`SELECT 3`)
		require.NoError(t, pool.SendBatch(t.Context(), batch).Close())
		b := tr.find(store.TraceBatch, "")
		require.Len(t, b, 1)
		require.Equal(t, 3, b[0].BatchSize)
		require.Len(t, tr.find(store.TraceBatchQuery, "SELECT "), 3)
	})

	t.Run("prepare and connect", func(t *testing.T) {
		tr.reset()
		conn, err := pgx.ConnectConfig(t.Context(), pool.Config().ConnConfig)
		require.NoError(t, err)
		defer func() { _ = conn.Close(context.Background()) }()
		_, err = conn.Prepare(t.Context(), "traced_stmt", `SELECT $1::int + 1`)
		require.NoError(t, err)
		require.Len(t, tr.find(store.TraceConnect, ""), 1)
		require.Len(t, tr.find(store.TracePrepare, `SELECT $1::int + 1`), 1)
	})
}

// TestTracerInstallKeepsExistingTracer: Install chains a tracer already on
// the configuration instead of replacing it.
func TestTracerInstallKeepsExistingTracer(t *testing.T) {
	t.Parallel()
	first, second := &traces{}, &traces{}
	tdb := testdb.NewDB(t)
	cfg, err := pgxpool.ParseConfig(tdb.URL)
	require.NoError(t, err)
	(&store.Tracer{TraceFunc: first.add}).Install(cfg)
	(&store.Tracer{TraceFunc: second.add}).Install(cfg)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(t.Context(), `SELECT 42`)
	require.NoError(t, err)
	require.Len(t, first.find(store.TraceQuery, "SELECT 42"), 1)
	require.Len(t, second.find(store.TraceQuery, "SELECT 42"), 1)
}

// TestTracerLogs: with a Logger, every call is logged with its kind, SQL,
// guild and outcome, and argument values are never logged.
func TestTracerLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pool := tracedPool(t, &store.Tracer{Logger: logger})
	s := store.New(pool, store.Config{DisableNotify: true})
	t.Cleanup(s.Close)
	ctx := store.WithGuild(t.Context(), testGuild)
	_, err := s.Append(ctx, "logged", store.NoStream, store.Event{Data: rawData("secret_event", `{"password": "hunter2"}`)})
	require.NoError(t, err)
	_, err = s.Append(ctx, "logged", store.NoStream, store.Event{Data: rawData("secret_event", `{"password": "hunter2"}`)})
	require.Error(t, err)

	lines := buf.lines("kind=query")
	require.Len(t, lines, 2)
	require.Contains(t, strings.Join(lines, "\n"), "guild_id=guild-1")
	failed := buf.lines("level=INFO")
	require.NotEmpty(t, failed)
	require.Contains(t, strings.Join(failed, "\n"), "ES003")
	require.NotContains(t, buf.String(), "hunter2")
}
