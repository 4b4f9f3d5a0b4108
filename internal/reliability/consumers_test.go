package reliability_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// deliveries collects the events a consumer was handed and checks, as they
// arrive, that each stream's events come in order without gaps: with
// exactly the next version, or (when redelivery is allowed) a version not
// beyond the next.
type deliveries struct {
	name            string
	allowRedelivery bool
	store           *store.Store // the consumer's, to say what holds the feed back when events are missing

	mu         sync.Mutex
	count      map[uuid.UUID]int
	last       map[string]int64
	total      int
	redelivery int
	violations []string
}

func newDeliveries(name string, allowRedelivery bool, s *store.Store) *deliveries {
	return &deliveries{name: name, allowRedelivery: allowRedelivery, store: s, count: map[uuid.UUID]int{}, last: map[string]int64{}}
}

func (d *deliveries) add(ev store.Recorded) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total++
	d.count[ev.ID]++
	if d.count[ev.ID] > 1 {
		d.redelivery++
		if !d.allowRedelivery {
			d.violate("event %s (%s v%d) delivered %d times", ev.ID, ev.StreamID, ev.Version, d.count[ev.ID])
		}
	}
	last := d.last[ev.StreamID]
	switch {
	case ev.Version == last+1:
	case d.allowRedelivery && ev.Version <= last:
	default:
		d.violate("stream %s: version %d delivered after version %d", ev.StreamID, ev.Version, last)
	}
	d.last[ev.StreamID] = ev.Version
}

// violate records a broken invariant; the caller holds mu.
func (d *deliveries) violate(format string, args ...any) {
	if len(d.violations) < 20 {
		d.violations = append(d.violations, fmt.Sprintf(format, args...))
	}
}

func (d *deliveries) distinct() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.count)
}

// waitAll waits until every stored event was delivered.
func (d *deliveries) waitAll(t *testing.T, stored map[uuid.UUID]storedEvent, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for d.distinct() < len(stored) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	d.check(t, stored)
}

// check fails unless exactly the stored events were delivered, with no
// broken invariant.
func (d *deliveries) check(t *testing.T, stored map[uuid.UUID]storedEvent) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Empty(t, d.violations, "%s", d.name)
	missing := 0
	for id := range stored {
		if d.count[id] == 0 {
			missing++
		}
	}
	require.Zero(t, missing, "%s: %d of %d stored events never delivered%s", d.name, missing, len(stored), d.feedLag(missing))
	for id := range d.count {
		_, ok := stored[id]
		require.True(t, ok, "%s delivered event %s, which is not stored", d.name, id)
	}
}

// feedLag says, when events are missing, what holds the feed back: a
// transaction with an id anywhere in the cluster holds back every event
// committed after it began, for every feed reader and subscription.
func (d *deliveries) feedLag(missing int) string {
	if missing == 0 || d.store == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lag, err := d.store.FeedLag(ctx)
	if err != nil {
		return fmt.Sprintf(" (feed lag unreadable: %v)", err)
	}
	return " (feed: " + lag.String() + ")"
}

// feedReader polls the global feed through a store, the way a projection
// without a subscription would: it keeps its checkpoint and re-reads from
// it after an error.
type feedReader struct {
	s      *store.Store
	got    *deliveries
	errors int
}

func (f *feedReader) run(ctx context.Context) {
	var cp store.Checkpoint
	for ctx.Err() == nil {
		page, err := f.s.ReadFeed(ctx, cp, store.FeedOptions{Limit: 500})
		if err != nil {
			f.errors++
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for _, ev := range page.Events {
			f.got.add(ev)
		}
		cp = page.Next
		if !page.More {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// startFeedReader starts a feedReader that runs until the test ends or
// the returned stop function is called.
func startFeedReader(t *testing.T, ctx context.Context, s *store.Store) (*deliveries, func()) {
	t.Helper()
	f := &feedReader{s: s, got: newDeliveries("live feed reader", false, s)}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { f.run(ctx) })
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return f.got, stop
}

// readWholeFeed reads the feed from its origin until it has delivered want
// events (the horizon is cluster-wide: a transaction of another test may
// hold it back for a moment) and checks each was delivered exactly once.
func readWholeFeed(t *testing.T, ctx context.Context, s *store.Store, stored map[uuid.UUID]storedEvent) int {
	t.Helper()
	got := newDeliveries("feed read from its origin", false, s)
	var cp store.Checkpoint
	deadline := time.Now().Add(60 * time.Second)
	for got.distinct() < len(stored) && time.Now().Before(deadline) {
		page, err := s.ReadFeed(ctx, cp, store.FeedOptions{Limit: 1000})
		require.NoError(t, err)
		for _, ev := range page.Events {
			got.add(ev)
		}
		cp = page.Next
		if !page.More {
			time.Sleep(10 * time.Millisecond)
		}
	}
	got.check(t, stored)
	return got.total
}

// subscriber runs an in-memory subscription to the whole feed; it must
// deliver every event exactly once, in order per stream.
func subscriber(t *testing.T, ctx context.Context, s *store.Store) (*deliveries, *store.Subscription) {
	t.Helper()
	got := newDeliveries("in-memory subscription", false, s)
	sub, err := s.Subscribe(ctx, store.SubscriptionOptions{PollInterval: 50 * time.Millisecond, BatchSize: 200},
		func(_ context.Context, ev store.Recorded) error {
			got.add(ev)
			return nil
		})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Stop() })
	return got, sub
}

// persistent is a persistent subscription under test, with a monitor that
// watches its stored checkpoint: an event delivered at or before a
// checkpoint already seen stored is a redelivery after the checkpoint,
// which must never happen.
type persistent struct {
	name  string
	s     *store.Store
	check *store.Store
	got   *deliveries

	mu       sync.Mutex
	saved    store.Checkpoint // highest stored checkpoint seen so far
	sub      *store.Subscription
	restarts int
	late     []string
}

func startPersistent(t *testing.T, ctx context.Context, s, check *store.Store, name string) *persistent {
	t.Helper()
	p := &persistent{name: name, s: s, check: check, got: newDeliveries("persistent subscription "+name, true, s)}
	p.start(t, ctx)
	mctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.monitor(mctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = p.current().Stop()
	})
	return p
}

func (p *persistent) start(t *testing.T, ctx context.Context) {
	t.Helper()
	sub, err := p.s.Subscribe(ctx, store.SubscriptionOptions{
		Name: p.name, PollInterval: 50 * time.Millisecond, LockRetryInterval: 20 * time.Millisecond,
		BatchSize: 100, CheckpointEvery: 25,
	}, p.handle)
	require.NoError(t, err)
	p.mu.Lock()
	p.sub = sub
	p.mu.Unlock()
}

func (p *persistent) current() *store.Subscription {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sub
}

func (p *persistent) handle(_ context.Context, ev store.Recorded) error {
	p.mu.Lock()
	saved := p.saved
	p.mu.Unlock()
	if !saved.Less(ev.Checkpoint()) {
		p.mu.Lock()
		if len(p.late) < 20 {
			p.late = append(p.late, fmt.Sprintf("event %s at %s delivered after checkpoint %s was stored", ev.ID, ev.Checkpoint(), saved))
		}
		p.mu.Unlock()
	}
	p.got.add(ev)
	return nil
}

// monitor records the highest stored checkpoint, read through a store that
// no fault touches.
func (p *persistent) monitor(ctx context.Context) {
	for ctx.Err() == nil {
		infos, err := p.check.SubscriptionInfo(ctx, p.name)
		if err == nil && len(infos) == 1 {
			p.mu.Lock()
			if p.saved.Less(infos[0].Checkpoint) {
				p.saved = infos[0].Checkpoint
			}
			p.mu.Unlock()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// restart stops the consumer, as a crashing process would, and starts a
// new one under the same name, which resumes after the stored checkpoint.
func (p *persistent) restart(t *testing.T, ctx context.Context) {
	t.Helper()
	require.NoError(t, p.current().Stop())
	p.start(t, ctx)
	p.mu.Lock()
	p.restarts++
	p.mu.Unlock()
}

// requireRunning fails when the subscription stopped by itself.
func requireRunning(t *testing.T, name string, sub *store.Subscription) {
	t.Helper()
	select {
	case <-sub.Done():
		t.Fatalf("%s stopped: %v", name, sub.Wait())
	default:
	}
}

// verify waits until every stored event was delivered and checks that no
// event was delivered again once a stored checkpoint had passed it.
func (p *persistent) verify(t *testing.T, stored map[uuid.UUID]storedEvent) (deliveries, redeliveries int) {
	t.Helper()
	requireRunning(t, p.got.name, p.current())
	p.got.waitAll(t, stored, 60*time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Empty(t, p.late, "persistent subscription %s delivered events again after their checkpoint was stored", p.name)
	p.got.mu.Lock()
	defer p.got.mu.Unlock()
	return p.got.total, p.got.redelivery
}
