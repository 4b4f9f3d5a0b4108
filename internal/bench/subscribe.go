package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// latencyTimeout bounds the wait for one event to reach a handler. It is
// generous because the feed delivers an event only once every older
// transaction of the whole cluster has ended: a long transaction in another
// database holds delivery back (and shows as latency).
const latencyTimeout = time.Minute

// liveSubscription is a global-feed subscription started at the feed's end
// whose handler counts the events it is given.
type liveSubscription struct {
	sub     *store.Subscription
	store   *store.Store
	handled atomic.Int64
}

// startLive subscribes to the global feed from its end and waits until the
// subscription is live.
func (r *runner) startLive(ctx context.Context, handler func(store.Recorded)) (*liveSubscription, error) {
	ls := &liveSubscription{store: r.typed}
	sub, err := r.typed.Subscribe(ctx, store.SubscriptionOptions{Start: store.FromEnd(), BatchSize: readBatch},
		func(_ context.Context, ev store.Recorded) error {
			if handler != nil {
				handler(ev)
			}
			ls.handled.Add(1)
			return nil
		})
	if err != nil {
		return nil, err
	}
	ls.sub = sub
	select {
	case <-sub.Live():
		return ls, nil
	case <-sub.Done():
		return nil, fmt.Errorf("subscription stopped before going live: %w", sub.Wait())
	case <-time.After(latencyTimeout):
		_ = sub.Stop()
		return nil, fmt.Errorf("subscription did not go live within %s", latencyTimeout)
	}
}

// horizon describes, for an error, what holds the feed back: a transaction
// with an id, in any database of the cluster, holds back every event
// committed after it began.
func (ls *liveSubscription) horizon() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lag, err := ls.store.FeedLag(ctx)
	if err != nil {
		return fmt.Sprintf(" (feed lag unreadable: %v)", err)
	}
	return " (feed: " + lag.String() + ")"
}

// drain waits until the subscription has handled n events, then stops it.
func (ls *liveSubscription) drain(n int64) error {
	deadline := time.Now().Add(time.Minute)
	for ls.handled.Load() < n {
		select {
		case <-ls.sub.Done():
			return fmt.Errorf("subscription stopped after %d of %d events: %w", ls.handled.Load(), n, ls.sub.Wait())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = ls.sub.Stop()
			return fmt.Errorf("subscription handled %d of %d events within a minute%s", ls.handled.Load(), n, ls.horizon())
		}
	}
	return ls.sub.Stop()
}

// liveShape is append_single_live's workload: append_single's writers,
// 4,000 calls each (32,000 events a side) and at least liveRepeats repeats,
// because the difference it looks for (a few per cent) is smaller than the
// swing of short runs on a busy machine.
var liveShape = appendShape{writers: singleShape.writers, perCall: 1, callsPerWriter: 4000}

// liveRepeats is append_single_live's least number of repeats per side.
const liveRepeats = 5

// appendSingleLive runs append_single with a live global-feed subscription
// attached (it decodes and handles every event), against append_single
// without one, in the same run. Only the writers are timed; the
// subscription then catches up before the next repeat.
func appendSingleLive(ctx context.Context, r *runner) (Result, error) {
	ours := func(ctx context.Context, rep int) (sample, error) {
		p, err := r.planFor("append_single_live", liveShape, rep, false, false)
		if err != nil {
			return sample{}, err
		}
		ls, err := r.startLive(ctx, nil)
		if err != nil {
			return sample{}, err
		}
		s, err := r.appendOurs(ctx, r.typed, p)
		if err != nil {
			_ = ls.sub.Stop()
			return sample{}, err
		}
		return s, ls.drain(int64(s.events))
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		p, err := r.planFor("append_single_dark", liveShape, rep, false, false)
		if err != nil {
			return sample{}, err
		}
		return r.appendOurs(ctx, r.typed, p)
	}
	repeats := max(r.repeats, liveRepeats)
	o, b, err := r.compareN(ctx, "append_single_live", repeats, ours, base)
	if err != nil {
		return Result{}, err
	}
	params := map[string]any{
		"writers": liveShape.writers, "events_per_call": 1, "calls_per_writer": r.scaled(liveShape.callsPerWriter, 2),
		"subscription": "global feed from its end, typed decode", "event": "guess_processed v1 (typed)",
		"repeats": repeats,
	}
	return rateResult(params,
		measureOf("append_single with a live global-feed subscription attached", o),
		measureOf("append_single without a subscription, same run", b),
		&Target{Op: ">=", Value: 0.9}), nil
}

// subscriptionLatency appends one event at a time and measures from the
// moment Append returned (the commit) until the handler of a live
// global-feed subscription was called, against a bare NOTIFY → LISTEN
// round trip on the same server: from sending an autocommitted
// pg_notify until a dedicated listening connection received it.
func subscriptionLatency(ctx context.Context, r *runner) (Result, error) {
	probes := r.scaled(1500, 10)
	ours := func(ctx context.Context, rep int) (sample, error) {
		return r.latencyOurs(ctx, warmCount(rep, probes))
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return r.latencyBare(ctx, warmCount(rep, probes))
	}
	o, b, err := r.compare(ctx, "subscription_latency", ours, base)
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Parameters: map[string]any{"probes": probes, "sequential": true, "event": "guess_processed v1 (typed)"},
		Measure:    measureOf("Append commit → handler of a live global-feed subscription (typed decode)", o),
		Baseline:   measureOf("bare round trip: send pg_notify (autocommit) → receipt on a dedicated LISTEN connection", b),
		RatioOf:    "p99",
		Target:     &Target{Op: "<=", Value: 3},
	}
	res.setP99Ratio()
	return res, nil
}

func (r *runner) latencyOurs(ctx context.Context, n int) (sample, error) {
	arrived := make(chan time.Time, 1)
	ls, err := r.startLive(ctx, func(store.Recorded) {
		select {
		case arrived <- time.Now():
		default:
		}
	})
	if err != nil {
		return sample{}, err
	}
	defer func() { _ = ls.sub.Stop() }()
	gctx := store.WithGuild(ctx, Guild)
	stream := r.tag + "-latency-" + uuid.NewString()[:8]
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		if _, err := r.typed.Append(gctx, stream, store.Exact(int64(i)), StoreEvent(stream, i)); err != nil {
			return sample{}, err
		}
		committed := time.Now()
		select {
		case at := <-arrived:
			lat = append(lat, max(0, at.Sub(committed)))
		case <-time.After(latencyTimeout):
			return sample{}, fmt.Errorf("event %d did not reach the handler within %s", i+1, latencyTimeout)
		case <-ls.sub.Done():
			return sample{}, fmt.Errorf("subscription stopped: %w", ls.sub.Wait())
		}
	}
	return sample{events: n, elapsed: time.Since(start), latencies: lat}, nil
}

func (r *runner) latencyBare(ctx context.Context, n int) (sample, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return sample{}, fmt.Errorf("baseline listen: %w", err)
	}
	// The listening connection is closed rather than returned to the pool,
	// so no LISTEN outlives the baseline.
	listener := conn.Hijack()
	defer func() { _ = listener.Close(context.WithoutCancel(ctx)) }()
	const channel = "eventstore_bench_probe"
	if _, err := listener.Exec(ctx, "LISTEN "+channel); err != nil {
		return sample{}, fmt.Errorf("baseline listen: %w", err)
	}
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		payload := strconv.Itoa(i)
		sent := time.Now()
		if _, err := r.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
			return sample{}, fmt.Errorf("baseline notify: %w", err)
		}
		wctx, cancel := context.WithTimeout(ctx, latencyTimeout)
		note, err := listener.WaitForNotification(wctx)
		cancel()
		if err != nil {
			return sample{}, fmt.Errorf("baseline notification %d: %w", i+1, err)
		}
		if note.Payload != payload {
			return sample{}, fmt.Errorf("baseline notification %d: payload %q, want %q", i+1, note.Payload, payload)
		}
		lat = append(lat, time.Since(sent))
	}
	return sample{events: n, elapsed: time.Since(start), latencies: lat}, nil
}
