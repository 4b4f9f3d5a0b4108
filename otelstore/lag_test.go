package otelstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/gamebot/eventstore/otelstore"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// gauge returns the value of the gauge's data point with exactly the
// attributes set, and whether there is one.
func gauge[N int64 | float64](t *testing.T, m map[string]metricdata.Metrics, name string, set attribute.Set) (N, bool) {
	t.Helper()
	metric, ok := m[name]
	if !ok {
		return 0, false
	}
	g, ok := metric.Data.(metricdata.Gauge[N])
	require.True(t, ok, "%s is a gauge of %T, not %T", name, N(0), metric.Data)
	for _, dp := range g.DataPoints {
		if dp.Attributes.Equals(&set) {
			return dp.Value, true
		}
	}
	return 0, false
}

// TestLagGauges: the gauges report each persistent subscription's backlog
// and the events a long transaction holds back from the feed, read from the
// database at every collection, without spans of their own.
func TestLagGauges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(3)...)
	require.NoError(t, err)

	// A persistent subscription handles the three events, then stops; two
	// more arrive after it.
	sub, err := b.store.Subscribe(b.ctx, store.SubscriptionOptions{Name: "game-watch", StreamID: "game-1"},
		func(context.Context, store.Recorded) error { return nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := b.store.SubscriptionInfo(b.ctx, "game-watch")
		return err == nil && info[0].Version == 3
	}, 20*time.Second, 5*time.Millisecond, "the subscription handles the first events")
	require.NoError(t, sub.Stop())
	_, err = b.store.Append(b.ctx, "game-1", store.Exact(3), rawEvents(2)...)
	require.NoError(t, err)

	reg, err := otelstore.RegisterLag(b.store, b.cfg)
	require.NoError(t, err)
	member := kvs("eventstore.subscription", "game-watch")
	member = attribute.NewSet(append(member.ToSlice(), otelstore.AttrSubscriptionMember.Int(0))...)

	m := b.collect(t)
	behind, ok := gauge[int64](t, m, otelstore.MetricSubscriptionBehind, member)
	require.True(t, ok, "a data point per subscription member")
	require.Equal(t, int64(2), behind)
	lag, ok := gauge[float64](t, m, otelstore.MetricSubscriptionLag, member)
	require.True(t, ok)
	require.GreaterOrEqual(t, lag, 0.0)
	_, ok = gauge[int64](t, m, otelstore.MetricFeedHeldEvents, kvs())
	require.True(t, ok)
	require.Equal(t, "s", m[otelstore.MetricFeedLag].Unit)

	// A transaction that appended and stays open holds back what commits
	// after it.
	tx, err := b.pool.BeginTx(b.ctx, pgx.TxOptions{})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = b.store.Append(store.WithTx(b.ctx, tx), "held", store.Any, rawEvents(1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "after", store.Any, rawEvents(1)...)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		m := b.collect(t)
		held, _ := gauge[int64](t, m, otelstore.MetricFeedHeldEvents, kvs())
		delay, _ := gauge[float64](t, m, otelstore.MetricFeedLag, kvs())
		age, _ := gauge[float64](t, m, otelstore.MetricFeedOldestTxAge, kvs())
		return held >= 1 && delay > 0 && age > 0
	}, 20*time.Second, 10*time.Millisecond, "the open transaction holds the feed back")

	require.NoError(t, tx.Rollback(b.ctx))
	require.Eventually(t, func() bool {
		held, ok := gauge[int64](t, b.collect(t), otelstore.MetricFeedHeldEvents, kvs())
		return ok && held == 0
	}, 30*time.Second, 10*time.Millisecond, "the feed catches up once the transaction ends")

	require.Empty(t, b.storeSpans("eventstore.feed_lag"), "collections make no spans")
	n, _ := sumOf(t, b.collect(t)[otelstore.MetricOperations], kvs("eventstore.operation", "feed_lag", "eventstore.outcome", "ok"))
	require.Positive(t, n, "but their reads are counted")

	require.NoError(t, reg.Unregister())
	_, ok = gauge[int64](t, b.collect(t), otelstore.MetricFeedHeldEvents, kvs())
	require.False(t, ok, "unregistered gauges are no longer read")
}

// TestQueuedAppendsGauge: appends that wait in the store's coalescer, here
// behind an append to a stream held outside the store, show in
// eventstore.appends.queued, and leave it once the stream is free.
func TestQueuedAppendsGauge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg, err := otelstore.RegisterLag(b.store, b.cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Unregister() })
	tx := holdStream(t, b, "held")

	done := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := b.store.Append(b.ctx, "held", store.Any, rawEvents(1)...)
			done <- err
		}()
	}
	// One is sent again alone and waits for the row; two wait behind it.
	require.Eventually(t, func() bool {
		n, ok := gauge[int64](t, b.collect(t), otelstore.MetricAppendsQueued, kvs())
		return ok && n == 2 && b.store.Stats().FlushHandOffs >= 1
	}, time.Minute, 2*time.Millisecond)
	require.NoError(t, tx.Rollback(b.ctx))
	for range 3 {
		require.NoError(t, <-done)
	}
	n, ok := gauge[int64](t, b.collect(t), otelstore.MetricAppendsQueued, kvs())
	require.True(t, ok)
	require.Zero(t, n)
}
