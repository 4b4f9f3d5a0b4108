package otelstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/otelstore"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestInstallTracerKeepsExistingTracer: a store.Tracer installed before
// InstallTracer still sees every call, and SQL run under a caller's span
// becomes its child.
func TestInstallTracerKeepsExistingTracer(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	poolCfg, err := pgxpool.ParseConfig(testdb.NewDB(t).URL)
	require.NoError(t, err)
	var seen atomic.Int64
	(&store.Tracer{TraceFunc: func(_ context.Context, q store.QueryTrace) {
		if q.SQL == "SELECT 42" {
			seen.Add(1)
		}
	}}).Install(poolCfg)
	otelstore.InstallTracer(poolCfg, otelstore.Config{TracerProvider: tp})
	pool, err := pgxpool.NewWithConfig(t.Context(), poolCfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	_, err = pool.Exec(t.Context(), "SELECT 42") // no span in the context: not traced
	require.NoError(t, err)
	require.Empty(t, spans.GetSpans())

	ctx, span := tp.Tracer("test").Start(t.Context(), "job")
	_, err = pool.Exec(ctx, "SELECT 42")
	require.NoError(t, err)
	span.End()

	require.Equal(t, int64(2), seen.Load(), "the store.Tracer sees both calls")
	var sql tracetest.SpanStubs
	for _, s := range spans.GetSpans() {
		if s.Name == "SELECT" {
			sql = append(sql, s)
		}
	}
	require.Len(t, sql, 1)
	require.Equal(t, span.SpanContext().SpanID(), sql[0].Parent.SpanID())
	require.Equal(t, "SELECT 42", attrs(sql[0])["db.query.text"].AsString())
}
