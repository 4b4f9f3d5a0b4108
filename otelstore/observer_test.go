package otelstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/otelstore"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const otelpgxScope = "github.com/exaring/otelpgx"

// workload runs 3 appends (2 + 1 + 1 events), 1 conflicting append and 2
// reads (3 + 1 events) under a caller's span.
func workload(t *testing.T, b *bundle) trace.SpanContext {
	t.Helper()
	ctx, caller := b.tp.Tracer("test").Start(b.ctx, "bot.command")
	defer caller.End()
	_, err := b.store.Append(ctx, "game-1", store.NoStream, rawEvents(2)...)
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "game-1", store.Exact(2), rawEvents(1)...)
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "game-2", store.Any, rawEvents(1)...)
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "game-1", store.Exact(1), rawEvents(1)...)
	require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
	got, err := b.store.ReadForward(ctx, "game-1", 0, 10)
	require.NoError(t, err)
	require.Len(t, got, 3)
	got, err = b.store.ReadForward(ctx, "game-2", 0, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	return caller.SpanContext()
}

// TestSpans: every store operation is a span named after it, a child of the
// caller's span, with its stream, guild, event count, outcome and attempt;
// the SQL round trips it made are its children.
func TestSpans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	caller := workload(t, b)

	appends := b.storeSpans("eventstore.append")
	require.Len(t, appends, 4)
	reads := b.storeSpans("eventstore.read_forward")
	require.Len(t, reads, 2)

	type want struct {
		stream  string
		events  int64
		outcome string
	}
	wants := []want{{"game-1", 2, "ok"}, {"game-1", 1, "ok"}, {"game-2", 1, "ok"}, {"game-1", 0, "conflict"},
		{"game-1", 3, "ok"}, {"game-2", 1, "ok"}}
	for i, span := range append(appends, reads...) {
		w := wants[i]
		a := attrs(span)
		require.Equal(t, trace.SpanKindInternal, span.SpanKind, span.Name)
		require.Equal(t, caller.SpanID(), span.Parent.SpanID(), "%s is a child of the caller's span", span.Name)
		require.Equal(t, caller.TraceID(), span.SpanContext.TraceID())
		require.Equal(t, span.Name[len("eventstore."):], a[otelstore.AttrOperation].AsString())
		require.Equal(t, w.stream, a[otelstore.AttrStreamID].AsString(), span.Name)
		require.Equal(t, testGuild, a[otelstore.AttrGuildID].AsString())
		require.Equal(t, w.events, a[otelstore.AttrEvents].AsInt64(), "%s of %s", span.Name, w.stream)
		require.Equal(t, w.outcome, a[otelstore.AttrOutcome].AsString())
		require.Equal(t, int64(1), a[otelstore.AttrAttempt].AsInt64())
		require.Equal(t, "postgresql", a["db.system.name"].AsString())
		if w.outcome == "ok" {
			require.Equal(t, codes.Unset, span.Status.Code)
			require.NotContains(t, a, attribute.Key("error.type"))
		} else {
			require.Equal(t, codes.Error, span.Status.Code)
			require.Contains(t, span.Status.Description, "wrong expected version")
			require.Equal(t, "conflict", a["error.type"].AsString())
		}

		sql := b.children(span)
		require.NotEmpty(t, sql, "%s has its SQL round trips as children", span.Name)
		var names []string
		for _, q := range b.descendants(span) {
			require.Equal(t, otelpgxScope, q.InstrumentationScope.Name)
			require.Equal(t, trace.SpanKindClient, q.SpanKind)
			names = append(names, q.Name)
			switch q.Name {
			case "EventsAppend":
				require.Contains(t, attrs(q)["db.query.text"].AsString(), "eventstore.append_events(")
			case "EventsAppendOne":
				require.Contains(t, attrs(q)["db.query.text"].AsString(), "eventstore.append_event(")
			}
		}
		// SQL spans are named after the sqlc query (a read's statement is
		// in a batch after the guild's set_config; an append of one event
		// is EventsAppendOne, of more EventsAppend).
		if span.Name == "eventstore.append" {
			statement, not := "EventsAppend", "EventsAppendOne"
			if w.events != 2 { // one event: the lean statement
				statement, not = not, statement
			}
			require.Contains(t, names, statement, "the append's statement")
			require.NotContains(t, names, not)
		} else {
			require.Contains(t, names, "EventsReadForward", "the read's statement")
		}
	}
	// SQL round trips of store operations never become root spans.
	for _, s := range b.spans.GetSpans() {
		if s.InstrumentationScope.Name == otelpgxScope {
			require.True(t, s.Parent.IsValid(), "SQL span %q has a parent", s.Name)
		}
	}
}

// TestMetrics: after a known workload the operation counts and latency
// histogram by operation and outcome, the events appended and read and the
// conflicts add up; nothing was retried.
func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	workload(t, b)
	m := b.collect(t)

	ops := m[otelstore.MetricOperations]
	for _, c := range []struct {
		op, outcome string
		n           int64
	}{{"append", "ok", 3}, {"append", "conflict", 1}, {"read_forward", "ok", 2}} {
		set := kvs("eventstore.operation", c.op, "eventstore.outcome", c.outcome)
		n, ok := sumOf(t, ops, set)
		require.True(t, ok, "operations %s/%s", c.op, c.outcome)
		require.Equal(t, c.n, n, "operations %s/%s", c.op, c.outcome)
		require.Equal(t, uint64(c.n), histogramCount(t, m[otelstore.MetricOperationDuration], set), "latency %s/%s", c.op, c.outcome)
	}
	require.Equal(t, "s", m[otelstore.MetricOperationDuration].Unit)

	n, ok := sumOf(t, m[otelstore.MetricEventsAppended], kvs())
	require.True(t, ok)
	require.Equal(t, int64(4), n, "events appended")
	n, ok = sumOf(t, m[otelstore.MetricEventsRead], kvs("eventstore.operation", "read_forward"))
	require.True(t, ok)
	require.Equal(t, int64(4), n, "events read")
	n, ok = sumOf(t, m[otelstore.MetricConflicts], kvs("eventstore.operation", "append"))
	require.True(t, ok)
	require.Equal(t, int64(1), n, "conflicts")
	require.NotContains(t, m, otelstore.MetricRetries, "nothing was retried")
	require.Contains(t, m, "db.client.operation.duration", "otelpgx's SQL latency histogram")

	// The store's own counters agree.
	st := b.store.Stats()
	require.Equal(t, int64(4), st.EventsAppended)
	require.Equal(t, int64(1), st.Conflicts)
}

// TestRetriedTransaction: each attempt of a retried transaction is its own
// span with its attempt number; the failed one says another follows, the
// retry is counted with the failure's class, and the operations inside the
// transaction are children of the attempt they ran in.
func TestRetriedTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	attempts := 0
	err := b.store.InTx(b.ctx, func(ctx context.Context) error {
		attempts++
		if _, err := b.store.Append(ctx, "game-tx", store.Any, rawEvents(2)...); err != nil {
			return err
		}
		if attempts == 1 {
			return &pgconn.PgError{Code: "40001", Message: "could not serialize access"} // retried
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, attempts)

	txs := b.storeSpans("eventstore.transaction")
	require.Len(t, txs, 2)
	first, second := attrs(txs[0]), attrs(txs[1])
	require.Equal(t, int64(1), first[otelstore.AttrAttempt].AsInt64())
	require.Equal(t, "transient", first[otelstore.AttrOutcome].AsString())
	require.True(t, first[otelstore.AttrRetrying].AsBool())
	require.Equal(t, codes.Error, txs[0].Status.Code)
	require.Equal(t, int64(2), second[otelstore.AttrAttempt].AsInt64())
	require.Equal(t, "ok", second[otelstore.AttrOutcome].AsString())
	require.Equal(t, int64(2), second[otelstore.AttrEvents].AsInt64())
	require.Equal(t, testGuild, second[otelstore.AttrGuildID].AsString())
	require.NotContains(t, second, otelstore.AttrRetrying)

	appends := b.storeSpans("eventstore.append")
	require.Len(t, appends, 2)
	for i, a := range appends {
		require.Equal(t, txs[i].SpanContext.SpanID(), a.Parent.SpanID(), "append %d runs in transaction attempt %d", i+1, i+1)
		require.True(t, attrs(a)[otelstore.AttrInTx].AsBool())
	}
	// BEGIN, the guild setting and COMMIT are the transaction's own SQL.
	var own []string
	for _, s := range b.children(txs[1]) {
		if s.InstrumentationScope.Name == otelpgxScope {
			own = append(own, s.Name)
		}
	}
	require.Contains(t, own, "BEGIN")
	require.Contains(t, own, "COMMIT")

	m := b.collect(t)
	n, ok := sumOf(t, m[otelstore.MetricRetries], kvs("eventstore.operation", "transaction", "eventstore.outcome", "transient"))
	require.True(t, ok)
	require.Equal(t, int64(1), n)
	n, _ = sumOf(t, m[otelstore.MetricOperations], kvs("eventstore.operation", "transaction", "eventstore.outcome", "ok"))
	require.Equal(t, int64(1), n)
	n, _ = sumOf(t, m[otelstore.MetricEventsAppended], kvs())
	require.Equal(t, int64(4), n, "both attempts' appends succeeded as statements (as store.Stats counts them)")
}

// nextRecorder records what a Config.Next observer receives.
type nextRecorder struct {
	started  []store.Observation
	observed []store.Observation
	sawSpan  []bool
}

func (n *nextRecorder) StartOperation(ctx context.Context, o store.Observation) context.Context {
	n.started = append(n.started, o)
	return ctx
}

func (n *nextRecorder) Observe(ctx context.Context, o store.Observation) {
	n.observed = append(n.observed, o)
	n.sawSpan = append(n.sawSpan, trace.SpanFromContext(ctx).SpanContext().IsValid())
}

// TestObserverWithoutStart: an observation that StartOperation never saw
// still becomes a span, dated back by its duration; Config.Next is started
// and told too, with the span in its context.
func TestObserverWithoutStart(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	next := &nextRecorder{}
	obs, err := otelstore.NewObserver(otelstore.Config{TracerProvider: tp, Next: next})
	require.NoError(t, err)

	before := time.Now()
	obs.Observe(t.Context(), store.Observation{
		Op: store.OpReadFeed, Duration: 250 * time.Millisecond, Events: 7, Attempt: 2,
		Err: errors.New("boom"), Retrying: true,
	})
	after := time.Now()
	got := spans.GetSpans()
	require.Len(t, got, 1)
	s := got[0]
	require.Equal(t, "eventstore.read_feed", s.Name)
	require.InDelta(t, 250*time.Millisecond, s.EndTime.Sub(s.StartTime), float64(time.Millisecond))
	// The span ends when Observe ran and starts its duration earlier.
	require.False(t, s.EndTime.Before(before), "ended before Observe was called")
	require.False(t, s.EndTime.After(after), "ended after Observe returned")
	a := attrs(s)
	require.Equal(t, "other", a[otelstore.AttrOutcome].AsString(), "an unclassified error")
	require.Equal(t, int64(2), a[otelstore.AttrAttempt].AsInt64())
	require.True(t, a[otelstore.AttrRetrying].AsBool())
	require.Equal(t, int64(7), a[otelstore.AttrEvents].AsInt64())
	require.Len(t, next.observed, 1)

	ctx := obs.StartOperation(t.Context(), store.Observation{Op: store.OpAppend, StreamID: "s", Attempt: 1})
	obs.Observe(ctx, store.Observation{Op: store.OpAppend, StreamID: "s", Attempt: 1, Events: 1})
	require.Len(t, next.started, 1)
	require.Equal(t, []bool{false, true}, next.sawSpan, "Next sees the attempt's span")
	require.Len(t, spans.GetSpans(), 2)
}

// TestMetricHandedOff: an append whose flush waited Config.FlushLockWait
// for its stream's row, which a transaction outside the store holds, is
// counted once when it is sent again alone.
func TestMetricHandedOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tx := holdStream(t, b, "held")

	done := make(chan error, 1)
	go func() {
		_, err := b.store.Append(b.ctx, "held", store.Exact(1), rawEvents(1)...)
		done <- err
	}()
	require.Eventually(t, func() bool { return b.store.Stats().FlushHandOffs == 1 }, time.Minute, time.Millisecond,
		"the flush gives the append up to a goroutine of its own")
	require.NoError(t, tx.Rollback(b.ctx))
	require.NoError(t, <-done)

	m := b.collect(t)
	n, ok := sumOf(t, m[otelstore.MetricAppendsHandedOff], kvs())
	require.True(t, ok, "the hand-off is counted")
	require.Equal(t, int64(1), n)
}

// TestMetricAppendsCoalesced: every append stored through the coalescer
// records how many appends went out in its statement, the same number its
// Observation carries; appends inside a transaction record nothing.
func TestMetricAppendsCoalesced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &coalescedRecorder{}
	cfg := b.cfg
	cfg.Next = rec
	obs, err := otelstore.NewObserver(cfg)
	require.NoError(t, err)
	s := store.New(b.pool, store.Config{Observer: obs})
	t.Cleanup(s.Close)

	_, err = s.Append(b.ctx, "alone", store.NoStream, rawEvents(1)...)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				_, err := s.Append(b.ctx, fmt.Sprintf("w-%d", w), store.Any, rawEvents(1)...)
				assert.NoError(t, err, "writer %d, append %d", w, i)
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.InTx(b.ctx, func(ctx context.Context) error {
		_, err := s.Append(ctx, "in-tx", store.NoStream, rawEvents(1)...)
		return err
	}))

	count, sum, together := rec.totals()
	require.Equal(t, 1+8*25, count, "every append outside a transaction went through the coalescer")
	m := b.collect(t)
	h, ok := m[otelstore.MetricAppendsCoalesced].Data.(metricdata.Histogram[int64])
	require.True(t, ok, "%s is an int64 histogram", otelstore.MetricAppendsCoalesced)
	require.Len(t, h.DataPoints, 1)
	dp := h.DataPoints[0]
	require.Equal(t, uint64(count), dp.Count, "one value per coalesced append, none for the transaction's")
	require.Equal(t, int64(sum), dp.Sum, "the values are the observations' Coalesced")
	least, _ := dp.Min.Value()
	require.Equal(t, int64(1), least, "the first append went out alone")
	if together > 0 { // appends that met in flight shared a statement
		most, _ := dp.Max.Value()
		require.Greater(t, most, int64(1))
	}
}

// coalescedRecorder sums Observation.Coalesced over stored appends.
type coalescedRecorder struct {
	mu                   sync.Mutex
	count, sum, together int
}

func (r *coalescedRecorder) Observe(_ context.Context, o store.Observation) {
	if o.Op != store.OpAppend || o.Err != nil || o.Coalesced == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	r.sum += o.Coalesced
	if o.Coalesced > 1 {
		r.together++
	}
}

func (r *coalescedRecorder) totals() (count, sum, together int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count, r.sum, r.together
}
