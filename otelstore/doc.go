// Package otelstore reports a store.Store's work to OpenTelemetry: a span
// for every attempt of every store operation, with the attempt's SQL round
// trips as child spans, and metrics for operations, events, conflicts,
// retries, feed lag and subscription lag. The store package itself has no
// OpenTelemetry dependency; this package plugs into its public hooks.
//
// Wire it up in the order things are built:
//
//	cfg := otelstore.Config{TracerProvider: tp, MeterProvider: mp} // zero: the global providers
//
//	poolCfg, _ := pgxpool.ParseConfig(url)
//	otelstore.InstallTracer(poolCfg, cfg) // SQL round trips as child spans
//	pool, _ := pgxpool.NewWithConfig(ctx, poolCfg)
//
//	obs, _ := otelstore.NewObserver(cfg) // spans and metrics per operation
//	s := store.New(pool, store.Config{Observer: obs})
//
//	reg, _ := otelstore.RegisterLag(s, cfg) // feed and subscription lag gauges
//	defer reg.Unregister()
//
// # Spans
//
// Each attempt of a store operation is one span named "eventstore." plus
// the operation (eventstore.append, eventstore.read_forward,
// eventstore.read_feed, eventstore.transaction, …; see the Op constants of
// package store), of kind internal, with these attributes:
//
//	eventstore.operation  the operation (append, read_forward, …)
//	eventstore.stream_id  the stream, when the operation has one
//	eventstore.guild_id   the guild, when one applied
//	eventstore.events     events appended or read
//	eventstore.outcome    ok, or the store.ErrorClass of the failure
//	eventstore.attempt    1 for the first attempt, 2 for the first retry, …
//	eventstore.retrying   true when the attempt failed and another follows
//	eventstore.in_tx      true inside a transaction (InTx or WithTx)
//	error.type            the ErrorClass of a failure (the status is then Error)
//
// A retried operation is several sibling spans, one per attempt. Inside
// InTx, operations are children of their transaction's attempt span. The SQL
// round trips are child spans made by github.com/exaring/otelpgx (see
// InstallTracer); they appear only under a recording span, so SQL outside
// store operations stays untraced unless the caller has a span of its own.
//
// # Metrics
//
//	eventstore.operations                      counter    attempts, by eventstore.operation and eventstore.outcome
//	eventstore.operation.duration              histogram  attempt latency in seconds, same attributes
//	eventstore.events.appended                 counter    events stored by successful appends
//	eventstore.events.read                     counter    events returned by reads, by eventstore.operation
//	eventstore.conflicts                       counter    wrong-expected-version errors, by eventstore.operation
//	eventstore.retries                         counter    attempts followed by another, by eventstore.operation and eventstore.outcome
//	eventstore.feed.held_events                gauge      committed events the feed's horizon holds back
//	eventstore.feed.lag                        gauge      seconds the oldest held-back event has waited
//	eventstore.feed.oldest_transaction.age     gauge      seconds the transaction setting the horizon has been open
//	eventstore.subscription.events_behind      gauge      events after a persistent subscription's checkpoint, by eventstore.subscription and eventstore.subscription.member
//	eventstore.subscription.lag                gauge      seconds its next event has waited, same attributes
//
// The gauges are read from the database (Store.FeedLag and the
// eventstore.subscription_lag view) each time the meter provider collects.
// Stream and guild ids stay out of metric attributes: their number is
// unbounded.
package otelstore
