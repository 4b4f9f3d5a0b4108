package otelstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/otelstore"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const testGuild = "guild-1"

// bundle is a store on a fresh database, instrumented with in-memory
// telemetry: spans go to an in-memory exporter as they end, metrics are
// collected on demand.
type bundle struct {
	store  *store.Store
	pool   *pgxpool.Pool
	ctx    context.Context // carries testGuild
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	cfg    otelstore.Config
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	b.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(b.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(b.reader))
	t.Cleanup(func() {
		_ = b.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	b.cfg = otelstore.Config{TracerProvider: b.tp, MeterProvider: mp}

	db := testdb.NewDB(t)
	poolCfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	otelstore.InstallTracer(poolCfg, b.cfg)
	b.pool, err = pgxpool.NewWithConfig(t.Context(), poolCfg)
	require.NoError(t, err)
	t.Cleanup(b.pool.Close)

	obs, err := otelstore.NewObserver(b.cfg)
	require.NoError(t, err)
	b.store = store.New(b.pool, store.Config{Observer: obs})
	t.Cleanup(b.store.Close)
	b.ctx = store.WithGuild(t.Context(), testGuild)
	return b
}

func rawEvents(n int) []store.Event {
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = store.Event{Data: serde.Raw{Type: "test_event", Version: 1, Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i+1))}}
	}
	return evs
}

// storeSpans returns the ended spans of the store's operations named name
// ("eventstore.append", …), in the order they ended.
func (b *bundle) storeSpans(name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range b.spans.GetSpans() {
		if s.InstrumentationScope.Name == otelstore.ScopeName && s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// children returns the ended spans whose parent is span.
func (b *bundle) children(span tracetest.SpanStub) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range b.spans.GetSpans() {
		if s.Parent.SpanID() == span.SpanContext.SpanID() && s.Parent.TraceID() == span.SpanContext.TraceID() {
			out = append(out, s)
		}
	}
	return out
}

// descendants returns the ended spans below span, at any depth.
func (b *bundle) descendants(span tracetest.SpanStub) tracetest.SpanStubs {
	out := b.children(span)
	for i := 0; i < len(out); i++ {
		out = append(out, b.children(out[i])...)
	}
	return out
}

// attrs returns a span's attributes as a map.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// collect reads every metric from the manual reader.
func (b *bundle) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, b.reader.Collect(t.Context(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// kvs builds an attribute set from key, value pairs.
func kvs(pairs ...string) attribute.Set {
	var list []attribute.KeyValue
	for i := 0; i+1 < len(pairs); i += 2 {
		list = append(list, attribute.String(pairs[i], pairs[i+1]))
	}
	return attribute.NewSet(list...)
}

// sumOf returns the value of the data point of an int64 sum with exactly
// the attributes set, and whether there is one.
func sumOf(t *testing.T, m metricdata.Metrics, set attribute.Set) (int64, bool) {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum, not %T", m.Name, m.Data)
	require.True(t, sum.IsMonotonic, "%s is a counter", m.Name)
	for _, dp := range sum.DataPoints {
		if dp.Attributes.Equals(&set) {
			return dp.Value, true
		}
	}
	return 0, false
}

// histogramCount returns the count of the float64 histogram's data point
// with exactly the attributes set.
func histogramCount(t *testing.T, m metricdata.Metrics, set attribute.Set) uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a float64 histogram, not %T", m.Name, m.Data)
	for _, dp := range h.DataPoints {
		if dp.Attributes.Equals(&set) {
			return dp.Count
		}
	}
	return 0
}

// holdStream appends a first event to streamID and locks its row in a
// transaction of its own, as a caller's open transaction that appended to
// it would; rolling the transaction back frees it.
func holdStream(t *testing.T, b *bundle, streamID string) pgx.Tx {
	t.Helper()
	_, err := b.store.Append(b.ctx, streamID, store.NoStream, rawEvents(1)...)
	require.NoError(t, err)
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	_, err = tx.Exec(b.ctx, `SELECT FROM eventstore.streams WHERE stream_id = $1 FOR UPDATE`, streamID)
	require.NoError(t, err)
	return tx
}
