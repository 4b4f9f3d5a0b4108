package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TraceKind says what kind of database call a QueryTrace describes.
type TraceKind string

// Trace kinds.
const (
	// TraceQuery: Query, QueryRow or Exec.
	TraceQuery TraceKind = "query"
	// TraceBatch: a whole SendBatch, after its statements.
	TraceBatch TraceKind = "batch"
	// TraceBatchQuery: one statement of a batch.
	TraceBatchQuery TraceKind = "batch_query"
	// TraceCopyFrom: CopyFrom (COPY … FROM STDIN).
	TraceCopyFrom TraceKind = "copy_from"
	// TracePrepare: preparing a statement.
	TracePrepare TraceKind = "prepare"
	// TraceConnect: opening a connection.
	TraceConnect TraceKind = "connect"
)

// QueryTrace describes one database call seen by a Tracer. Argument values
// are never recorded, only their number.
type QueryTrace struct {
	// Kind is the kind of call.
	Kind TraceKind
	// SQL is the statement (for TraceCopyFrom a COPY statement naming the
	// table and columns; empty for TraceBatch and TraceConnect).
	SQL string
	// Args is the number of arguments.
	Args int
	// BatchSize is the number of statements of a batch (TraceBatch).
	BatchSize int
	// Command is the command tag ("SELECT 1", "COPY 3", …) and Rows the
	// number of rows it reports.
	Command string
	Rows    int64
	// Duration is the call's duration. For TraceBatchQuery it is the time
	// from when pgx began reading the statement's result.
	Duration time.Duration
	// Err is the call's error, nil on success.
	Err error
	// GuildID is the guild carried by the call's context ("" when none).
	GuildID string
	// PID is the server process id of the connection (0 when unknown).
	PID uint32
}

// Tracer is a pgx tracer that reports every database call: queries,
// batches and each of their statements, COPY FROM, prepares and connects,
// so no statement of the store (or of the application sharing the pool) is
// invisible. Install it on the pool's configuration before creating the
// pool:
//
//	cfg, _ := pgxpool.ParseConfig(url)
//	(&store.Tracer{Logger: logger}).Install(cfg)
//	pool, _ := pgxpool.NewWithConfig(ctx, cfg)
//
// The zero Tracer does nothing. It is safe for concurrent use.
type Tracer struct {
	// Logger, when set, receives one record per call: at Debug, or at Info
	// when the call failed.
	Logger *slog.Logger
	// TraceFunc, when set, receives every trace. It must be safe for
	// concurrent use and return quickly.
	TraceFunc func(ctx context.Context, t QueryTrace)
}

// Install makes t the tracer of cfg's connections, alongside a tracer
// already installed there.
func (t *Tracer) Install(cfg *pgxpool.Config) {
	if cfg.ConnConfig.Tracer != nil {
		cfg.ConnConfig.Tracer = multitracer.New(cfg.ConnConfig.Tracer, t)
		return
	}
	cfg.ConnConfig.Tracer = t
}

// Compile-time checks: Tracer covers every pgx tracer interface.
var (
	_ pgx.QueryTracer    = (*Tracer)(nil)
	_ pgx.BatchTracer    = (*Tracer)(nil)
	_ pgx.CopyFromTracer = (*Tracer)(nil)
	_ pgx.PrepareTracer  = (*Tracer)(nil)
	_ pgx.ConnectTracer  = (*Tracer)(nil)
)

type traceStartKey struct{}

// traceStart is what a Trace…Start call leaves in the context for its end.
type traceStart struct {
	at    time.Time
	sql   string
	args  int
	batch int
}

func withTraceStart(ctx context.Context, st traceStart) context.Context {
	st.at = time.Now()
	return context.WithValue(ctx, traceStartKey{}, st)
}

func traceStartFrom(ctx context.Context) traceStart {
	st, _ := ctx.Value(traceStartKey{}).(traceStart)
	return st
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return withTraceStart(ctx, traceStart{sql: data.SQL, args: len(data.Args)})
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *Tracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	st := traceStartFrom(ctx)
	t.emit(ctx, QueryTrace{
		Kind: TraceQuery, SQL: st.sql, Args: st.args,
		Command: data.CommandTag.String(), Rows: data.CommandTag.RowsAffected(),
		Duration: since(st.at), Err: data.Err, PID: pid(conn),
	})
}

// TraceBatchStart implements pgx.BatchTracer.
func (t *Tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	return withTraceStart(ctx, traceStart{batch: n})
}

// TraceBatchQuery implements pgx.BatchTracer.
func (t *Tracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	t.emit(ctx, QueryTrace{
		Kind: TraceBatchQuery, SQL: data.SQL, Args: len(data.Args),
		Command: data.CommandTag.String(), Rows: data.CommandTag.RowsAffected(),
		Duration: since(data.ReadStartTime), Err: data.Err, PID: pid(conn),
	})
}

// TraceBatchEnd implements pgx.BatchTracer.
func (t *Tracer) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	st := traceStartFrom(ctx)
	t.emit(ctx, QueryTrace{Kind: TraceBatch, BatchSize: st.batch, Duration: since(st.at), Err: data.Err, PID: pid(conn)})
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (t *Tracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	cols := make([]string, len(data.ColumnNames))
	for i, c := range data.ColumnNames {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", data.TableName.Sanitize(), strings.Join(cols, ", "))
	return withTraceStart(ctx, traceStart{sql: sql})
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (t *Tracer) TraceCopyFromEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromEndData) {
	st := traceStartFrom(ctx)
	t.emit(ctx, QueryTrace{
		Kind: TraceCopyFrom, SQL: st.sql,
		Command: data.CommandTag.String(), Rows: data.CommandTag.RowsAffected(),
		Duration: since(st.at), Err: data.Err, PID: pid(conn),
	})
}

// TracePrepareStart implements pgx.PrepareTracer.
func (t *Tracer) TracePrepareStart(ctx context.Context, _ *pgx.Conn, data pgx.TracePrepareStartData) context.Context {
	return withTraceStart(ctx, traceStart{sql: data.SQL})
}

// TracePrepareEnd implements pgx.PrepareTracer.
func (t *Tracer) TracePrepareEnd(ctx context.Context, conn *pgx.Conn, data pgx.TracePrepareEndData) {
	st := traceStartFrom(ctx)
	t.emit(ctx, QueryTrace{Kind: TracePrepare, SQL: st.sql, Duration: since(st.at), Err: data.Err, PID: pid(conn)})
}

// TraceConnectStart implements pgx.ConnectTracer.
func (t *Tracer) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return withTraceStart(ctx, traceStart{})
}

// TraceConnectEnd implements pgx.ConnectTracer.
func (t *Tracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	st := traceStartFrom(ctx)
	t.emit(ctx, QueryTrace{Kind: TraceConnect, Duration: since(st.at), Err: data.Err, PID: pid(data.Conn)})
}

func (t *Tracer) emit(ctx context.Context, q QueryTrace) {
	q.GuildID, _ = GuildFromContext(ctx)
	if t.TraceFunc != nil {
		t.TraceFunc(ctx, q)
	}
	if t.Logger == nil {
		return
	}
	level := slog.LevelDebug
	if q.Err != nil {
		level = slog.LevelInfo
	}
	if !t.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("kind", string(q.Kind)),
		slog.Duration("duration", q.Duration),
		slog.String("guild_id", q.GuildID),
		slog.Uint64("pid", uint64(q.PID)),
	}
	if q.SQL != "" {
		attrs = append(attrs, slog.String("sql", q.SQL), slog.Int("args", q.Args))
	}
	if q.BatchSize > 0 {
		attrs = append(attrs, slog.Int("batch_size", q.BatchSize))
	}
	if q.Command != "" {
		attrs = append(attrs, slog.String("command", q.Command), slog.Int64("rows", q.Rows))
	}
	if q.Err != nil {
		attrs = append(attrs, slog.String("error", q.Err.Error()))
	}
	t.Logger.LogAttrs(ctx, level, "eventstore sql", attrs...)
}

func since(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return time.Since(t)
}

func pid(conn *pgx.Conn) uint32 {
	if conn == nil || conn.PgConn() == nil {
		return 0
	}
	return conn.PgConn().PID()
}
