package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/db"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// captureDB is a db.DBTX that records what a generated query hands pgx,
// and fails the query.
type captureDB struct {
	sql  string
	args []any
}

var errCaptured = errors.New("captured")

func (c *captureDB) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.sql, c.args = sql, args
	return pgconn.CommandTag{}, errCaptured
}

func (c *captureDB) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.sql, c.args = sql, args
	return nil, errCaptured
}

func (c *captureDB) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	c.sql, c.args = sql, args
	return capturedRow{}
}

type capturedRow struct{}

func (capturedRow) Scan(...any) error { return errCaptured }

func wireUUID(valid bool) pgtype.UUID {
	if !valid {
		return pgtype.UUID{}
	}
	return pgtype.UUID{Bytes: uuid.New(), Valid: true}
}

// TestWireParamsMatchPgx: the append statements' parameters, encoded by the
// store for its pool, are byte for byte what pgx makes of the arguments the
// generated queries pass it (through the statement's description on a real
// server), in the same formats; and a query tracer is told the same
// statement and arguments.
func TestWireParamsMatchPgx(t *testing.T) {
	pool := testdb.New(t)
	ctx := t.Context()
	conn, aerr := pool.Acquire(ctx)
	require.NoError(t, aerr)
	defer conn.Release()

	doc := func(s string) []byte { return []byte(s) }
	big := make([]byte, 0, 5000)
	big = append(big, `{"k":"`...)
	for range 4900 {
		big = append(big, 'x')
	}
	big = append(big, `"}`...)
	many := func(n int, metaEvery int) ([]pgtype.UUID, []string, []int32, [][]byte, [][]byte, []pgtype.UUID, []pgtype.UUID) {
		var ids, caus, corr []pgtype.UUID
		var types []string
		var vers []int32
		var data, meta [][]byte
		for i := range n {
			ids = append(ids, wireUUID(true))
			types = append(types, fmt.Sprintf("type_%d_é", i))
			vers = append(vers, int32(i+1))
			data = append(data, doc(fmt.Sprintf(`{"n":%d,"s":"ü\"\\"}`, i)))
			if metaEvery > 0 && i%metaEvery == 0 {
				meta = append(meta, doc(`{"actor":{"id":"42"}}`))
			} else {
				meta = append(meta, nil)
			}
			caus = append(caus, wireUUID(i%2 == 0))
			corr = append(corr, wireUUID(i%3 != 0))
		}
		return ids, types, vers, data, meta, caus, corr
	}

	var cases []any
	cases = append(cases,
		db.EventsAppendOneParams{GuildID: "guild-1", StreamID: "game-1", ExpectedVersion: -1, EventID: wireUUID(true),
			EventType: "guess_processed", EventVersion: 1, Data: doc(`{"a":1}`)},
		db.EventsAppendOneParams{GuildID: "güild", LockWait: "50ms", StreamID: "stream ✓", ExpectedVersion: 1 << 40,
			EventID: wireUUID(true), EventType: "t", EventVersion: 1 << 30, Data: big, Metadata: doc(`{"m":[1,2]}`),
			CausationID: wireUUID(true), CorrelationID: wireUUID(true), MaxStreamEvents: pgtype.Int8{Int64: 1000, Valid: true}},
	)
	for _, n := range []int{0, 1, 3, 257} {
		for _, metaEvery := range []int{0, 1, 2} {
			ids, types, vers, data, meta, caus, corr := many(n, metaEvery)
			cases = append(cases, db.EventsAppendParams{GuildID: "guild-1", LockWait: "", StreamID: "s-" + fmt.Sprint(n),
				ExpectedVersion: int64(n) - 4, EventIds: ids, EventTypes: types, EventVersions: vers, Data: data,
				Metadata: meta, CausationIds: caus, CorrelationIds: corr,
				MaxStreamEvents: pgtype.Int8{Int64: int64(n), Valid: n%2 == 1}, ProbeIds: metaEvery == 1})
			streams := []string{}
			var expected []int64
			var counts []int32
			for i := 0; i < n; i += 2 {
				streams = append(streams, fmt.Sprintf("stream-%d", i))
				expected = append(expected, int64(i)-2)
				counts = append(counts, int32(min(2, n-i)))
			}
			if n == 0 {
				streams, expected, counts = nil, nil, nil
			}
			cases = append(cases, db.EventsAppendBatchParams{GuildID: "guild-2", LockWait: "2s", StreamIds: streams,
				ExpectedVersions: expected, Counts: counts, EventIds: ids, EventTypes: types, EventVersions: vers,
				Data: data, Metadata: meta, CausationIds: caus, CorrelationIds: corr,
				MaxStreamEvents: pgtype.Int8{Int64: 7, Valid: metaEvery != 2}})
		}
	}
	cases = append(cases, db.EventsAppendParams{GuildID: "g", StreamID: "s", EventIds: []pgtype.UUID{},
		EventTypes: []string{}, EventVersions: []int32{}, Data: [][]byte{}, Metadata: [][]byte{},
		CausationIds: []pgtype.UUID{}, CorrelationIds: []pgtype.UUID{}})
	cases = append(cases, db.EventsAppendBatchParams{GuildID: "g", StreamIds: []string{}, ExpectedVersions: []int64{},
		Counts: []int32{}, EventIds: []pgtype.UUID{}, EventTypes: []string{}, EventVersions: []int32{}, Data: [][]byte{},
		Metadata: [][]byte{}, CausationIds: []pgtype.UUID{}, CorrelationIds: []pgtype.UUID{}})
	cases = append(cases, db.EventsAppendParams{GuildID: "g", StreamID: "s", EventIds: []pgtype.UUID{wireUUID(true)},
		EventTypes: []string{"t"}, EventVersions: []int32{1}, Data: [][]byte{big}, Metadata: [][]byte{big},
		CausationIds: []pgtype.UUID{{}}, CorrelationIds: []pgtype.UUID{{}}})

	q := new(captureDB)
	gen := db.New(q)
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d_%T", i, c), func(t *testing.T) {
			var err error
			switch p := c.(type) {
			case db.EventsAppendOneParams:
				_, err = gen.EventsAppendOne(ctx, p)
			case db.EventsAppendParams:
				_, err = gen.EventsAppend(ctx, p)
			case db.EventsAppendBatchParams:
				_, err = gen.EventsAppendBatch(ctx, p)
			}
			require.ErrorIs(t, err, errCaptured)
			sql, values, formats, args := store.WireParams(c)
			require.Equal(t, q.sql, sql)
			require.Equal(t, q.args, args, "the tracer's arguments")

			sd, err := conn.Conn().Prepare(ctx, "", q.sql)
			require.NoError(t, err)
			var eqb pgx.ExtendedQueryBuilder
			require.NoError(t, eqb.Build(conn.Conn().TypeMap(), sd, q.args))
			require.Equal(t, eqb.ParamFormats, formats)
			require.Equal(t, len(eqb.ParamValues), len(values))
			for j := range values {
				require.Equal(t, eqb.ParamValues[j], values[j], "parameter $%d", j+1)
			}
		})
	}
}

// TestWireStatementPreparedAgain: when a connection loses the store's
// prepared append statements (pgx's DeallocateAll, DEALLOCATE ALL or
// DISCARD ALL on it), the next appends on it prepare them again and
// succeed, single, batched and coalesced.
func TestWireStatementPreparedAgain(t *testing.T) {
	pool := testdb.ConnectWith(t, testdb.NewDB(t).URL, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 1 // every statement on the one connection
		// The statements prepared on each connection: pgx's default mode,
		// whatever TEST_QUERY_EXEC_MODE says.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	})
	s := store.New(pool, store.Config{DisableNotify: true})
	t.Cleanup(s.Close)
	require.True(t, store.PreparesAppends(s))
	ctx := store.WithGuild(t.Context(), testGuild)

	appendAll := func(round int) {
		t.Helper()
		stream := fmt.Sprintf("again-%d", round)
		res, err := s.Append(ctx, stream, store.NoStream, rawEvent("test_event", 1))
		require.NoError(t, err)
		require.Equal(t, int64(1), res.Version)
		res, err = s.Append(ctx, stream, store.Exact(1), rawEvents(3, 2)...)
		require.NoError(t, err)
		require.Equal(t, int64(4), res.Version)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = s.Append(ctx, fmt.Sprintf("%s-%d", stream, i), store.NoStream, rawEvent("test_event", i))
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
	appendAll(0)
	forget := []func(c *pgxpool.Conn) error{
		func(c *pgxpool.Conn) error { return c.Conn().DeallocateAll(t.Context()) },
		func(c *pgxpool.Conn) error {
			_, err := c.Conn().PgConn().Exec(t.Context(), "DEALLOCATE ALL").ReadAll()
			return err
		},
	}
	for round, f := range forget {
		c, err := pool.Acquire(t.Context())
		require.NoError(t, err)
		require.NoError(t, f(c))
		c.Release()
		appendAll(round + 1)
	}
	got, err := s.ReadForward(ctx, "again-2", 0, 10)
	require.NoError(t, err)
	require.Len(t, got, 4)
}

// TestAppendsWithoutStatementCache: on a pool whose connections do not keep
// pgx's statement cache (the simple protocol, describe-only caching or
// plain execution, as behind a transaction pooler), the store sends its
// appends unnamed, and they behave the same.
func TestAppendsWithoutStatementCache(t *testing.T) {
	tdb := testdb.NewDB(t)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			pool := testdb.ConnectWith(t, tdb.URL, func(cfg *pgxpool.Config) {
				cfg.ConnConfig.DefaultQueryExecMode = mode
			})
			s := store.New(pool, store.Config{DisableNotify: true})
			t.Cleanup(s.Close)
			require.False(t, store.PreparesAppends(s))
			ctx := store.WithGuild(t.Context(), testGuild)
			stream := "nocache-" + mode.String()
			_, err := s.Append(ctx, stream, store.NoStream, rawEvent("test_event", 1))
			require.NoError(t, err)
			res, err := s.Append(ctx, stream, store.Exact(1), rawEvents(3, 2)...)
			require.NoError(t, err)
			require.Equal(t, int64(4), res.Version)
			_, err = s.Append(ctx, stream, store.Exact(1), rawEvent("test_event", 9))
			var conflict *store.VersionConflictError
			require.ErrorAs(t, err, &conflict)
			var wg sync.WaitGroup
			errs := make([]error, 6)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = s.Append(ctx, fmt.Sprintf("%s-%d", stream, i), store.NoStream, rawEvents(1+i%2, i)...)
				})
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			got, err := s.ReadForward(ctx, stream, 0, 10)
			require.NoError(t, err)
			require.Len(t, got, 4)

			// In a caller's transaction, on its connection.
			require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.Append(ctx, stream, store.Exact(4), rawEvent("test_event", 5)); err != nil {
					return err
				}
				_, err := s.Append(ctx, stream, store.Exact(5), rawEvents(2, 6)...)
				return err
			}))
			got, err = s.ReadForward(ctx, stream, 0, 10)
			require.NoError(t, err)
			require.Len(t, got, 7)
		})
	}
}

// TestWireLentBufferTakenBackOnlyWhenLetGo: a write buffer lent to a
// connection before a large statement goes back to the store's pool only
// once the connection's frontend has let go of it, and a connection that
// keeps it (its statement never went out) goes on sending correct
// statements from it.
func TestWireLentBufferTakenBackOnlyWhenLetGo(t *testing.T) {
	ctx := t.Context()
	pool := testdb.New(t)
	c, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer c.Release()
	conn := c.Conn().PgConn()
	big := []byte(strings.Repeat("x", 100_000))
	length := func(ctx context.Context) (string, error) {
		rr := conn.ExecParams(ctx, "SELECT length($1::text)", [][]byte{big}, nil, nil, nil)
		var got string
		for rr.NextRow() {
			got = string(rr.Values()[0])
		}
		_, err := rr.Close()
		return got, err
	}

	release := store.LendWrite(ctx, conn, len(big)+1000)
	got, err := length(ctx)
	require.NoError(t, err)
	require.Equal(t, "100000", got)
	require.True(t, release(), "the buffer lent for a statement that went out was not taken back")

	cancelled, cancel := context.WithCancel(ctx)
	release = store.LendWrite(ctx, conn, len(big)+1000)
	cancel()
	_, err = length(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, release(), "the buffer lent for a statement that never went out was taken back from the connection")

	for range 3 { // from the buffer the frontend kept, then from lent ones again
		release = store.LendWrite(ctx, conn, len(big)+1000)
		got, err = length(ctx)
		require.NoError(t, err)
		require.Equal(t, "100000", got)
		release()
	}
	var one int
	require.NoError(t, c.QueryRow(ctx, "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}
