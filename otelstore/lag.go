package otelstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// DefaultLagTimeout is the default of Config.LagTimeout.
const DefaultLagTimeout = 5 * time.Second

// subscriptionLagSQL reads the lag of every persistent subscription member
// from the inspection view docs/OPERATIONS.md describes.
const subscriptionLagSQL = `
SELECT name, partition_member, events_behind, extract(epoch FROM lag)::float8
  FROM eventstore.subscription_lag`

// RegisterLag registers observable gauges that read s's feed lag
// (Store.FeedLag) and the lag of every persistent subscription (the
// eventstore.subscription_lag view) whenever cfg's meter provider collects:
// eventstore.feed.held_events, eventstore.feed.lag,
// eventstore.feed.oldest_transaction.age, and per subscription member
// eventstore.subscription.events_behind and eventstore.subscription.lag;
// and eventstore.appends.queued, the appends waiting in s's coalescer
// (Stats.QueuedAppends, read in process).
//
// Each collection costs two short queries, bounded by cfg.LagTimeout. The
// gauges see what the pool's role sees: row-level security hides other
// guilds' subscriptions from the application role, so collect with an
// operator's role for complete figures. The FeedLag read is counted as a
// feed_lag operation by a store whose Observer is an *Observer, but makes no
// span. A failed read is reported to OpenTelemetry's error handler, and the
// figures that could be read are still recorded.
//
// Unregister the returned registration before closing the pool.
func RegisterLag(s *store.Store, cfg Config) (metric.Registration, error) {
	meter := cfg.meterProvider().Meter(ScopeName)
	held, err := meter.Int64ObservableGauge(MetricFeedHeldEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Committed events the global feed's horizon holds back (0 when the feed is current)."))
	if err != nil {
		return nil, err
	}
	feedLag, err := meter.Float64ObservableGauge(MetricFeedLag, metric.WithUnit("s"),
		metric.WithDescription("How long the oldest held-back event has been stored: the global feed's delay."))
	if err != nil {
		return nil, err
	}
	oldest, err := meter.Float64ObservableGauge(MetricFeedOldestTxAge, metric.WithUnit("s"),
		metric.WithDescription("How long the oldest transaction of the cluster, which sets the feed's horizon, has been open (0 when none or not visible)."))
	if err != nil {
		return nil, err
	}
	behind, err := meter.Int64ObservableGauge(MetricSubscriptionBehind, metric.WithUnit("{event}"),
		metric.WithDescription("Events after a persistent subscription's checkpoint, before its filter (an upper bound; feed counts stop at 10001)."))
	if err != nil {
		return nil, err
	}
	subLag, err := meter.Float64ObservableGauge(MetricSubscriptionLag, metric.WithUnit("s"),
		metric.WithDescription("How long the next event a persistent subscription has to handle has waited."))
	if err != nil {
		return nil, err
	}
	queued, err := meter.Int64ObservableGauge(MetricAppendsQueued, metric.WithUnit("{append}"),
		metric.WithDescription("Appends waiting in the store's coalescer: for a flusher, or for the flush or hand-off that writes their stream."))
	if err != nil {
		return nil, err
	}
	timeout := cfg.LagTimeout
	if timeout <= 0 {
		timeout = DefaultLagTimeout
	}
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		o.ObserveInt64(queued, int64(s.Stats().QueuedAppends))
		ctx, cancel := context.WithTimeout(quiet(ctx), timeout)
		defer cancel()
		var errs []error
		if lag, err := s.FeedLag(ctx); err != nil {
			errs = append(errs, err)
		} else {
			o.ObserveInt64(held, lag.HeldEvents)
			o.ObserveFloat64(feedLag, lag.HeldFor.Seconds())
			age := 0.0
			if lag.Oldest != nil {
				age = lag.Oldest.Age.Seconds()
			}
			o.ObserveFloat64(oldest, age)
		}
		if err := observeSubscriptions(ctx, s, o, behind, subLag); err != nil {
			errs = append(errs, fmt.Errorf("subscription lag: %w", err))
		}
		return errors.Join(errs...)
	}, held, feedLag, oldest, behind, subLag, queued)
}

func observeSubscriptions(ctx context.Context, s *store.Store, o metric.Observer, behind metric.Int64Observable, lag metric.Float64Observable) error {
	rows, err := s.Pool().Query(ctx, subscriptionLagSQL)
	if err != nil {
		return err
	}
	var (
		name    string
		member  int32
		pending *int64
		seconds float64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &member, &pending, &seconds}, func() error {
		set := metric.WithAttributeSet(attribute.NewSet(AttrSubscription.String(name), AttrSubscriptionMember.Int(int(member))))
		if pending != nil {
			o.ObserveInt64(behind, *pending, set)
		}
		o.ObserveFloat64(lag, seconds, set)
		return nil
	})
	return err
}
