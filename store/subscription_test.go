package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// Test-sized subscription timing: every wait in these tests is a few of
// these intervals at most. deliveryLimit only turns a hang into a failure:
// the feed's horizon is cluster-wide, so a transaction of another test or
// package (a held row lock, a dropped test database) holds back every test's
// feed and subscriptions for as long as it runs, seconds on a loaded machine.
const (
	testPoll      = 100 * time.Millisecond
	deliveryLimit = time.Minute
)

// fast returns opts with test-sized intervals.
func fast(opts store.SubscriptionOptions) store.SubscriptionOptions {
	if opts.PollInterval == 0 {
		opts.PollInterval = testPoll
	}
	opts.LockRetryInterval = 50 * time.Millisecond
	if opts.Retry.BaseDelay == 0 {
		opts.Retry.BaseDelay = 5 * time.Millisecond
	}
	opts.Retry.MaxDelay = 20 * time.Millisecond
	return opts
}

// sink is a handler that keeps what it was given.
type sink struct {
	mu   sync.Mutex
	recs []store.Recorded
}

func (r *sink) handle(_ context.Context, ev store.Recorded) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, ev)
	return nil
}

func (r *sink) all() []store.Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Recorded(nil), r.recs...)
}

func (r *sink) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

// waitLen waits until r holds at least n events.
func (r *sink) waitLen(t *testing.T, n int) []store.Recorded {
	t.Helper()
	return r.waitLenWithin(t, n, deliveryLimit)
}

// waitLenWithin waits until r holds at least n events, failing after limit.
func (r *sink) waitLenWithin(t *testing.T, n int, limit time.Duration) []store.Recorded {
	t.Helper()
	deadline := time.Now().Add(limit)
	for r.len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("handler saw %d events, want %d", r.len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r.all()
}

// subscribe starts a subscription with test timing, stopped at cleanup.
func subscribe(t *testing.T, s *store.Store, ctx context.Context, opts store.SubscriptionOptions, h store.HandlerFunc) *store.Subscription {
	t.Helper()
	sub, err := s.Subscribe(ctx, fast(opts), h)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Stop() })
	return sub
}

// waitClosed waits for ch or fails the test.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(deliveryLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// ns returns the "n" of each raw test event.
func ns(t *testing.T, recs []store.Recorded) []int {
	t.Helper()
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = eventN(t, r)
	}
	return out
}

// requireExactlyOnceInOrder checks that recs hold no event twice, come in
// strictly increasing feed order, and that each stream's versions follow
// one another without gaps.
func requireExactlyOnceInOrder(t *testing.T, recs []store.Recorded) {
	t.Helper()
	ids := map[string]bool{}
	last := map[string]int64{}
	var prev store.Checkpoint
	for i, r := range recs {
		require.False(t, ids[r.ID.String()], "event %s delivered twice", r.ID)
		ids[r.ID.String()] = true
		require.True(t, prev.Less(r.Checkpoint()), "event %d at %s not after %s", i, r.Checkpoint(), prev)
		prev = r.Checkpoint()
		if v, ok := last[r.StreamID]; ok {
			require.Equal(t, v+1, r.Version, "stream %s out of order", r.StreamID)
		}
		last[r.StreamID] = r.Version
	}
}

// terminate ends the backends of the bundle's database whose
// application_name contains app, and returns how many it ended.
func terminate(t *testing.T, b *bundle, app string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT count(*) FROM (
			SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
			 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
			   AND strpos(a.application_name, $1) > 0) t`, app).Scan(&n))
	return n
}

// backends returns the pids of the bundle database's backends whose
// application_name contains app.
func backends(t *testing.T, b *bundle, app string) []int {
	t.Helper()
	return pids(t, b, `
		SELECT a.pid FROM pg_stat_activity a
		 WHERE a.datname = current_database() AND strpos(a.application_name, $1) > 0
		 ORDER BY a.pid`, app)
}

// pids runs a query of backend pids on the bundle's database.
func pids(t *testing.T, b *bundle, query string, args ...any) []int {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, query, args...)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return got
}

// TestSubscriptionCatchUpThenLive subscribes to a feed of 1,000 events and
// appends 1,000 more from concurrent writers while it catches up and goes
// live: the handler sees all 2,000 exactly once, in feed order.
func TestSubscriptionCatchUpThenLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 10 {
		_, err := b.store.Append(b.ctx, fmt.Sprintf("before-%d", i%3), store.Any, rawEvents(100, i*100)...)
		require.NoError(t, err)
	}
	var rec sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{}, rec.handle)

	const writers, perWriter = 4, 250
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				n := 1000 + w*perWriter + i
				if _, err := b.store.Append(b.ctx, fmt.Sprintf("live-%d", w), store.Any, rawEvent("test_event", n)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A fence appended last: once it is handled, anything delivered twice
	// would have come before it.
	_, err := b.store.Append(b.ctx, "fence", store.NoStream, rawEvent("fence", -1))
	require.NoError(t, err)
	got := rec.waitLen(t, 2001)
	require.Len(t, got, 2001)
	require.Equal(t, "fence", got[2000].StreamID)
	got = got[:2000]
	requireExactlyOnceInOrder(t, got)
	seen := map[int]bool{}
	for i, n := range ns(t, got) {
		if i < 1000 {
			require.Equal(t, i, n, "catch-up follows the feed")
		}
		seen[n] = true
	}
	require.Len(t, seen, 2000)
	waitClosed(t, sub.Live(), "live")
	// The handler's return is counted after the sink saw the event (and
	// Live may have closed long before the fence): wait for the count.
	require.Eventually(t, func() bool { return sub.Handled() >= 2001 }, deliveryLimit, 5*time.Millisecond,
		"the fence's handler call is counted")
	require.EqualValues(t, 2001, sub.Handled())
	require.NoError(t, sub.Stop())
}

// TestSubscriptionOutOfOrderCommits holds a transaction open after it
// appended while later transactions commit: nothing after it is delivered
// before it commits, and then everything is, the held events included. It
// runs alone (not parallel): the held transaction delays the feed of every
// database in the cluster.
func TestSubscriptionOutOfOrderCommits(t *testing.T) {
	b := setup(t)
	var rec sink
	subscribe(t, b.store, b.ctx, store.SubscriptionOptions{}, rec.handle)

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = b.store.Append(store.WithTx(b.ctx, tx), "held", store.NoStream, rawEvents(3, 1_000_000)...)
	require.NoError(t, err)

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := b.store.Append(b.ctx, fmt.Sprintf("w-%d", w), store.Any, rawEvent("test_event", w*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The horizon holds every later commit back: the feed the subscription
	// reads shows none of them (and the order check below fails if the
	// subscription handed out any before the held transaction).
	page, err := b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 200})
	require.NoError(t, err)
	require.Empty(t, page.Events, "events behind a running transaction are held back")
	require.NoError(t, tx.Commit(b.ctx))

	got := rec.waitLen(t, 103)
	requireExactlyOnceInOrder(t, got)
	require.Equal(t, []int{1_000_000, 1_000_001, 1_000_002}, ns(t, got[:3]), "the held transaction comes first")
}

// TestSubscriptionSurvivesListenerKill kills the listener's connection
// repeatedly while events are appended: every event is still delivered,
// and the listener comes back, so pushes arrive well within a long poll
// interval again.
func TestSubscriptionSurvivesListenerKill(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rec sink
	// Long enough that another test's transaction holding the cluster's
	// feed horizon for a moment does not look like a poll.
	const slowPoll = 10 * time.Second
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{PollInterval: slowPoll}, rec.handle)
	waitClosed(t, sub.Live(), "live")
	first := listeners(t, b)
	require.Len(t, first, 1)

	killed := 0
	for i := range 200 {
		_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
		if i%50 == 10 {
			killed += terminate(t, b, "eventstore listener")
		}
	}
	require.Positive(t, killed)
	require.Equal(t, ns(t, rec.waitLen(t, 200)), seq(0, 200))

	// The listener reconnected: a new backend has LISTENed and pushes again.
	require.Eventually(t, func() bool {
		now := listeners(t, b)
		return len(now) == 1 && now[0] != first[0]
	}, deliveryLimit, 10*time.Millisecond, "listener did not reconnect")
	start := time.Now()
	_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", 200))
	require.NoError(t, err)
	rec.waitLen(t, 201)
	require.Less(t, time.Since(start), slowPoll, "delivered by a push, not the poll")
	require.NoError(t, sub.Stop())
}

// waitFeed waits until the feed can deliver n events: until no running
// transaction (of any test sharing the cluster) holds them back.
func waitFeed(t *testing.T, b *bundle, n int) {
	t.Helper()
	deadline := time.Now().Add(deliveryLimit)
	for {
		page, err := b.store.ReadFeed(b.admin, store.Checkpoint{}, store.FeedOptions{Limit: n})
		require.NoError(t, err)
		if len(page.Events) >= n {
			return
		}
		require.True(t, time.Now().Before(deadline), "the feed holds %d of %d events", len(page.Events), n)
		time.Sleep(5 * time.Millisecond)
	}
}

// seq returns from, from+1, …, to-1.
func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestSubscriptionPollsWithoutNotifications delivers with notifications
// turned off, by polling alone.
func TestSubscriptionPollsWithoutNotifications(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{DisableNotify: true})
	var rec sink
	subscribe(t, b.store, b.ctx, store.SubscriptionOptions{}, rec.handle)
	for i := range 5 {
		_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
	}
	require.Equal(t, seq(0, 5), ns(t, rec.waitLen(t, 5)))
}

// TestSubscriptionStartPositions covers FromOrigin, FromEnd and
// AfterCheckpoint for the feed and FromEnd and AfterVersion for a stream.
func TestSubscriptionStartPositions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(5, 0)...)
	require.NoError(t, err)
	require.EqualValues(t, 5, res.Version)
	waitFeed(t, b, 5) // FromEnd is after what the feed can deliver
	page, err := b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Events, 2)

	tests := []struct {
		name string
		opts store.SubscriptionOptions
		want []int
	}{
		{"feed from origin", store.SubscriptionOptions{Start: store.FromOrigin()}, seq(0, 7)},
		{"feed from end", store.SubscriptionOptions{Start: store.FromEnd()}, seq(5, 7)},
		{"feed after checkpoint", store.SubscriptionOptions{Start: store.AfterCheckpoint(page.Next)}, seq(2, 7)},
		{"stream from origin", store.SubscriptionOptions{StreamID: "s"}, seq(0, 7)},
		{"stream from end", store.SubscriptionOptions{StreamID: "s", Start: store.FromEnd()}, seq(5, 7)},
		{"stream after version", store.SubscriptionOptions{StreamID: "s", Start: store.AfterVersion(3)}, seq(3, 7)},
	}
	recs := make([]*sink, len(tests))
	for i, tc := range tests {
		recs[i] = &sink{}
		sub := subscribe(t, b.store, b.ctx, tc.opts, recs[i].handle)
		waitClosed(t, sub.Live(), tc.name+" live")
	}
	_, err = b.store.Append(b.ctx, "s", store.Exact(5), rawEvents(2, 5)...)
	require.NoError(t, err)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ns(t, recs[i].waitLen(t, len(tc.want))))
		})
	}
}

// TestStreamSubscription waits for a stream that does not exist yet,
// filters by type in a stream, and stops when the stream is deleted.
func TestStreamSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rec sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{
		StreamID: "game-1", Filter: store.FeedFilter{EventTypes: []string{"wanted"}},
	}, rec.handle)
	waitClosed(t, sub.Live(), "live on a missing stream")
	_, err := b.store.Append(b.ctx, "other", store.Any, rawEvent("wanted", 99))
	require.NoError(t, err)
	for i := range 6 {
		typ := "wanted"
		if i%2 == 1 {
			typ = "unwanted"
		}
		_, err := b.store.Append(b.ctx, "game-1", store.Any, rawEvent(typ, i))
		require.NoError(t, err)
	}
	require.Equal(t, []int{0, 2, 4}, ns(t, rec.waitLen(t, 3)))
	deadline := time.Now().Add(deliveryLimit)
	for sub.Version() != 6 {
		require.True(t, time.Now().Before(deadline), "version %d, want 6: the filtered tail is passed", sub.Version())
		time.Sleep(5 * time.Millisecond)
	}

	_, err = b.store.DeleteStream(b.ctx, "game-1", store.Any)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "kick", store.Any, rawEvent("wanted", 100))
	require.NoError(t, err)
	waitClosed(t, sub.Done(), "stop on a deleted stream")
	require.ErrorIs(t, sub.Wait(), store.ErrStreamDeleted)
	require.Len(t, rec.all(), 3)
}

// TestSubscriptionHandlerRetries retries a failing event with backoff
// (a panic counts as a failure) and goes on once it succeeds: nothing is
// skipped and nothing after it is delivered before it.
func TestSubscriptionHandlerRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(10, 1)...)
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		attempts = map[int]int{}
		order    []int
	)
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Retry: store.RetryPolicy{MaxAttempts: 4}}, func(_ context.Context, ev store.Recorded) error {
		n := eventN(t, ev)
		mu.Lock()
		defer mu.Unlock()
		attempts[n]++
		order = append(order, n)
		switch {
		case n == 3 && attempts[n] == 1:
			panic("boom")
		case n == 7 && attempts[n] < 3:
			return errors.New("transient")
		}
		return nil
	})
	deadline := time.Now().Add(deliveryLimit)
	for sub.Handled() < 10 {
		require.True(t, time.Now().Before(deadline))
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{1, 2, 3, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10}, order)
}

// TestSubscriptionOptionsValidation refuses invalid options up front.
func TestSubscriptionOptionsValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := func(context.Context, store.Recorded) error { return nil }
	tests := []struct {
		name    string
		opts    store.SubscriptionOptions
		handler store.HandlerFunc
		want    error
	}{
		{"nil handler", store.SubscriptionOptions{}, nil, store.ErrInvalidArgument},
		{"bad stream", store.SubscriptionOptions{StreamID: "$all"}, h, store.ErrInvalidStreamID},
		{"batch too big", store.SubscriptionOptions{BatchSize: store.DefaultMaxReadBatch + 1}, h, store.ErrInvalidBatchSize},
		{"negative poll", store.SubscriptionOptions{PollInterval: -time.Second}, h, store.ErrInvalidArgument},
		{"member out of range", store.SubscriptionOptions{Partition: store.FeedPartition{Member: 3, Count: 3}}, h, store.ErrInvalidArgument},
		{"partitioned stream", store.SubscriptionOptions{StreamID: "s", Partition: store.FeedPartition{Member: 0, Count: 2}}, h, store.ErrInvalidArgument},
		{"stream prefix on a stream", store.SubscriptionOptions{StreamID: "s", Filter: store.FeedFilter{StreamPrefix: "x"}}, h, store.ErrInvalidArgument},
		{"checkpoint start on a stream", store.SubscriptionOptions{StreamID: "s", Start: store.AfterCheckpoint(store.Checkpoint{})}, h, store.ErrInvalidArgument},
		{"version start on the feed", store.SubscriptionOptions{Start: store.AfterVersion(3)}, h, store.ErrInvalidArgument},
		{"empty event type", store.SubscriptionOptions{Filter: store.FeedFilter{EventTypes: []string{""}}}, h, store.ErrInvalidArgument},
		{"bad guild", store.SubscriptionOptions{Filter: store.FeedFilter{GuildID: "a\x00b"}}, h, store.ErrInvalidGuildID},
		{"name with control characters", store.SubscriptionOptions{Name: "a\nb"}, h, store.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := b.store.Subscribe(b.ctx, tc.opts, tc.handler)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, sub)
		})
	}
}

// TestSubscriptionStopsWithContext stops when its context is cancelled,
// ending a handler call in progress.
func TestSubscriptionStopsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	var entered atomic.Bool
	sub, err := b.store.Subscribe(ctx, fast(store.SubscriptionOptions{}), func(ctx context.Context, _ store.Recorded) error {
		entered.Store(true)
		<-ctx.Done()
		return ctx.Err()
	})
	require.NoError(t, err)
	deadline := time.Now().Add(deliveryLimit)
	for !entered.Load() {
		require.True(t, time.Now().Before(deadline))
		time.Sleep(time.Millisecond)
	}
	cancel()
	waitClosed(t, sub.Done(), "stop")
	require.NoError(t, sub.Wait())
	require.Zero(t, sub.Handled())
}

// TestSubscriptionTwoStores runs subscriptions of two stores (two
// processes) on one database: appends of either wake both.
func TestSubscriptionTwoStores(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := store.New(testdb.Connect(t, b.pool.Config().ConnString()), store.Config{})
	t.Cleanup(other.Close)
	var r1, r2 sink
	s1 := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{}, r1.handle)
	s2 := subscribe(t, other, b.ctx, store.SubscriptionOptions{}, r2.handle)
	waitClosed(t, s1.Live(), "live 1")
	waitClosed(t, s2.Live(), "live 2")
	_, err := other.Append(b.ctx, "s", store.Any, rawEvent("test_event", 1))
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", 2))
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, ns(t, r1.waitLen(t, 2)))
	require.Equal(t, []int{1, 2}, ns(t, r2.waitLen(t, 2)))
}

// timeAfter returns a function reporting whether d has passed.
func timeAfter(d time.Duration) func() bool {
	deadline := time.Now().Add(d)
	return func() bool { return time.Now().After(deadline) }
}

func sleepShort() { time.Sleep(5 * time.Millisecond) }

// horizonWait waits until the feed holds back none of the events already
// committed (Store.FeedLag's HeldEvents is 0) and returns how long that
// took. The feed's horizon is the cluster's: a test running alongside that
// keeps a transaction open, in any database, holds back every event
// committed after that transaction began, and a woken subscription that
// finds nothing deliverable looks again at growing intervals. A test that
// waits for a delivery within a limit allows for that with deliveryAfter.
func horizonWait(t *testing.T, ctx context.Context, s *store.Store) time.Duration {
	t.Helper()
	return waitFeedLag(t, ctx, s, "the feed still holds back committed events",
		func(lag store.FeedLag) bool { return lag.HeldEvents == 0 })
}

// horizonPast waits until the feed's horizon has passed the transaction
// id xid (every transaction up to it has ended) and returns how long that
// took.
func horizonPast(t *testing.T, ctx context.Context, s *store.Store, xid uint64) time.Duration {
	t.Helper()
	return waitFeedLag(t, ctx, s, fmt.Sprintf("the feed's horizon did not pass transaction %d", xid),
		func(lag store.FeedLag) bool { return lag.Horizon > xid })
}

// waitFeedLag waits until Store.FeedLag satisfies done and returns how
// long that took.
func waitFeedLag(t *testing.T, ctx context.Context, s *store.Store, msg string, done func(store.FeedLag) bool) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool {
		lag, err := s.FeedLag(ctx)
		return err == nil && done(lag)
	}, 2*time.Minute, 5*time.Millisecond, msg)
	return time.Since(start)
}

// deliveryAfter is how long a live subscription may take to deliver an
// event whose commit was held behind the horizon for blocked: its looks
// after a wake-up double in interval while they find nothing, so the next
// one comes at most about blocked after the horizon passes.
func deliveryAfter(blocked time.Duration) time.Duration {
	return deliveryLimit + 2*blocked
}
