package otelstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gamebot/eventstore/store"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics this
// package makes.
const ScopeName = "github.com/gamebot/eventstore/otelstore"

// Attribute keys of the spans and metrics.
const (
	AttrOperation          = attribute.Key("eventstore.operation")
	AttrStreamID           = attribute.Key("eventstore.stream_id")
	AttrGuildID            = attribute.Key("eventstore.guild_id")
	AttrEvents             = attribute.Key("eventstore.events")
	AttrOutcome            = attribute.Key("eventstore.outcome")
	AttrAttempt            = attribute.Key("eventstore.attempt")
	AttrRetrying           = attribute.Key("eventstore.retrying")
	AttrInTx               = attribute.Key("eventstore.in_tx")
	AttrSubscription       = attribute.Key("eventstore.subscription")
	AttrSubscriptionMember = attribute.Key("eventstore.subscription.member")
	attrErrorType          = attribute.Key("error.type")
	attrDBSystem           = attribute.Key("db.system.name")
)

// OutcomeOK is the eventstore.outcome of a successful attempt; a failed one
// has its store.ErrorClass ("conflict", "transient", "connection", …).
const OutcomeOK = "ok"

// Metric names.
const (
	MetricOperations         = "eventstore.operations"
	MetricOperationDuration  = "eventstore.operation.duration"
	MetricEventsAppended     = "eventstore.events.appended"
	MetricEventsRead         = "eventstore.events.read"
	MetricConflicts          = "eventstore.conflicts"
	MetricRetries            = "eventstore.retries"
	MetricAppendsHandedOff   = "eventstore.appends.handed_off"
	MetricAppendsCoalesced   = "eventstore.appends.coalesced"
	MetricAppendsQueued      = "eventstore.appends.queued"
	MetricFeedHeldEvents     = "eventstore.feed.held_events"
	MetricFeedLag            = "eventstore.feed.lag"
	MetricFeedOldestTxAge    = "eventstore.feed.oldest_transaction.age"
	MetricSubscriptionBehind = "eventstore.subscription.events_behind"
	MetricSubscriptionLag    = "eventstore.subscription.lag"
)

// durationBuckets are the bounds, in seconds, of the latency histogram:
// from half a millisecond (a cached read) to ten seconds (a retried
// transaction waiting out backoff and locks).
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// coalescedBuckets are the bounds of the histogram of appends per flush
// statement: 1 is an append that went out alone; a flush carries at most 48.
var coalescedBuckets = []float64{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48}

// Config configures the adapter. The zero value is valid.
type Config struct {
	// TracerProvider makes the spans. Default: otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics. Default: otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Next, when set, receives every observation after the Observer has
	// recorded it — store.NewLogObserver(logger) keeps the store's logs.
	// When Next implements store.OperationStarter it is started too, from
	// the context that carries the attempt's span.
	Next store.Observer
	// LagTimeout bounds the database reads of one collection of the lag
	// gauges (RegisterLag). Default 5s.
	LagTimeout time.Duration
}

func (c Config) tracerProvider() trace.TracerProvider {
	if c.TracerProvider != nil {
		return c.TracerProvider
	}
	return otel.GetTracerProvider()
}

func (c Config) meterProvider() metric.MeterProvider {
	if c.MeterProvider != nil {
		return c.MeterProvider
	}
	return otel.GetMeterProvider()
}

// Observer is a store.Observer and store.OperationStarter that turns every
// attempt of every store operation into a span and into metrics (see the
// package documentation for their names and attributes). Give it to
// store.New in store.Config.Observer. It is safe for concurrent use.
type Observer struct {
	tracer trace.Tracer
	next   store.Observer

	operations metric.Int64Counter
	duration   metric.Float64Histogram
	appended   metric.Int64Counter
	read       metric.Int64Counter
	conflicts  metric.Int64Counter
	retries    metric.Int64Counter
	handedOff  metric.Int64Counter
	coalesced  metric.Int64Histogram

	// sets caches the metric attribute sets by operation and outcome.
	sets sync.Map // setKey -> attribute.Set
}

// NewObserver returns an Observer reporting to cfg's providers. It fails
// only when the meter provider refuses an instrument.
func NewObserver(cfg Config) (*Observer, error) {
	meter := cfg.meterProvider().Meter(ScopeName)
	o := &Observer{tracer: cfg.tracerProvider().Tracer(ScopeName), next: cfg.Next}
	var err error
	if o.operations, err = meter.Int64Counter(MetricOperations, metric.WithUnit("{operation}"),
		metric.WithDescription("Attempts of store operations, by operation and outcome.")); err != nil {
		return nil, err
	}
	if o.duration, err = meter.Float64Histogram(MetricOperationDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of attempts of store operations, by operation and outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if o.appended, err = meter.Int64Counter(MetricEventsAppended, metric.WithUnit("{event}"),
		metric.WithDescription("Events stored by successful appends.")); err != nil {
		return nil, err
	}
	if o.read, err = meter.Int64Counter(MetricEventsRead, metric.WithUnit("{event}"),
		metric.WithDescription("Events returned by stream and feed reads, by operation.")); err != nil {
		return nil, err
	}
	if o.conflicts, err = meter.Int64Counter(MetricConflicts, metric.WithUnit("{conflict}"),
		metric.WithDescription("Wrong-expected-version errors (optimistic-concurrency conflicts), by operation.")); err != nil {
		return nil, err
	}
	if o.retries, err = meter.Int64Counter(MetricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Failed attempts followed by another attempt, by operation and the failure's class.")); err != nil {
		return nil, err
	}
	if o.handedOff, err = meter.Int64Counter(MetricAppendsHandedOff, metric.WithUnit("{append}"),
		metric.WithDescription("Coalesced appends sent again alone after their flush waited Config.FlushLockWait for a lock another transaction held.")); err != nil {
		return nil, err
	}
	if o.coalesced, err = meter.Int64Histogram(MetricAppendsCoalesced, metric.WithUnit("{append}"),
		metric.WithDescription("For each append stored through the coalescer, how many appends went out in its statement (1: alone)."),
		metric.WithExplicitBucketBoundaries(coalescedBuckets...)); err != nil {
		return nil, err
	}
	return o, nil
}

// Compile-time checks.
var (
	_ store.Observer         = (*Observer)(nil)
	_ store.OperationStarter = (*Observer)(nil)
)

type startedKey struct{}

// started is the span StartOperation opened for one attempt.
type started struct {
	span    trace.Span
	op      string
	attempt int
	ended   atomic.Bool
}

type quietKey struct{}

// quiet marks a context whose store operations get no span (the lag
// gauges' own reads, which would otherwise add a root span per collection).
func quiet(ctx context.Context) context.Context { return context.WithValue(ctx, quietKey{}, true) }

func isQuiet(ctx context.Context) bool { q, _ := ctx.Value(quietKey{}).(bool); return q }

// StartOperation opens the attempt's span and returns a context carrying
// it, so that the attempt's SQL round trips become its children. It
// implements store.OperationStarter.
func (o *Observer) StartOperation(ctx context.Context, obs store.Observation) context.Context {
	if !isQuiet(ctx) {
		var span trace.Span
		ctx, span = o.tracer.Start(ctx, spanName(obs.Op), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(startAttributes(obs)...))
		ctx = context.WithValue(ctx, startedKey{}, &started{span: span, op: obs.Op, attempt: obs.Attempt})
	}
	if st, ok := o.next.(store.OperationStarter); ok {
		ctx = st.StartOperation(ctx, obs)
	}
	return ctx
}

// Observe ends the attempt's span with its outcome and records the
// attempt's metrics. An attempt that StartOperation did not see (a store
// that does not call it) gets a span after the fact, dated back by its
// duration. It implements store.Observer.
func (o *Observer) Observe(ctx context.Context, obs store.Observation) {
	out := outcome(obs)
	o.endSpan(ctx, obs, out)
	o.record(ctx, obs, out)
	if o.next != nil {
		o.next.Observe(ctx, obs)
	}
}

func (o *Observer) endSpan(ctx context.Context, obs store.Observation, out string) {
	if isQuiet(ctx) {
		return
	}
	end := time.Now()
	var span trace.Span
	if st, ok := ctx.Value(startedKey{}).(*started); ok && st.op == obs.Op && st.attempt == obs.Attempt && st.ended.CompareAndSwap(false, true) {
		span = st.span
	} else {
		_, span = o.tracer.Start(ctx, spanName(obs.Op), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(end.Add(-obs.Duration)), trace.WithAttributes(startAttributes(obs)...))
	}
	if !span.IsRecording() {
		span.End(trace.WithTimestamp(end))
		return
	}
	span.SetAttributes(AttrEvents.Int(obs.Events), AttrOutcome.String(out))
	if obs.GuildID != "" {
		// Inside a transaction the guild may be known only at the end.
		span.SetAttributes(AttrGuildID.String(obs.GuildID))
	}
	if obs.Err != nil {
		span.SetAttributes(attrErrorType.String(out))
		if obs.Retrying {
			span.SetAttributes(AttrRetrying.Bool(true))
		}
		span.SetStatus(codes.Error, obs.Err.Error())
	}
	span.End(trace.WithTimestamp(end))
}

func (o *Observer) record(ctx context.Context, obs store.Observation, out string) {
	both := metric.WithAttributeSet(o.set(obs.Op, out))
	byOp := metric.WithAttributeSet(o.set(obs.Op, ""))
	o.operations.Add(ctx, 1, both)
	o.duration.Record(ctx, obs.Duration.Seconds(), both)
	if obs.Retrying {
		o.retries.Add(ctx, 1, both)
	}
	if out == string(store.ClassConflict) {
		o.conflicts.Add(ctx, 1, byOp)
	}
	if obs.HandedOff {
		o.handedOff.Add(ctx, 1)
	}
	if obs.Err != nil || obs.Events == 0 {
		return
	}
	switch obs.Op {
	case store.OpAppend:
		o.appended.Add(ctx, int64(obs.Events))
		if obs.Coalesced > 0 {
			o.coalesced.Record(ctx, int64(obs.Coalesced))
		}
	case store.OpReadForward, store.OpReadBackward, store.OpReadFeed:
		o.read.Add(ctx, int64(obs.Events), byOp)
	}
}

type setKey struct{ op, outcome string }

// set returns the attribute set of op and outcome ("" leaves outcome out).
func (o *Observer) set(op, outcome string) attribute.Set {
	k := setKey{op, outcome}
	if s, ok := o.sets.Load(k); ok {
		return s.(attribute.Set)
	}
	var s attribute.Set
	if outcome == "" {
		s = attribute.NewSet(AttrOperation.String(op))
	} else {
		s = attribute.NewSet(AttrOperation.String(op), AttrOutcome.String(outcome))
	}
	o.sets.Store(k, s)
	return s
}

func spanName(op string) string { return "eventstore." + op }

func startAttributes(obs store.Observation) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, attrDBSystem.String("postgresql"), AttrOperation.String(obs.Op), AttrAttempt.Int(obs.Attempt))
	if obs.StreamID != "" {
		attrs = append(attrs, AttrStreamID.String(obs.StreamID))
	}
	if obs.GuildID != "" {
		attrs = append(attrs, AttrGuildID.String(obs.GuildID))
	}
	if obs.InTx {
		attrs = append(attrs, AttrInTx.Bool(true))
	}
	return attrs
}

// outcome is the eventstore.outcome of an observation. The store sets
// Class; an Observation made by hand may leave it empty.
func outcome(obs store.Observation) string {
	if obs.Err == nil {
		return OutcomeOK
	}
	if obs.Class == store.ClassNone {
		return string(store.Classify(obs.Err))
	}
	return string(obs.Class)
}
