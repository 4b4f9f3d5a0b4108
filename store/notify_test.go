package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestNotifyAfterCommitIsSpaced: appends wake listeners on NotifyChannel
// after they commit, and a busy store spaces its notifications at least
// NotifyInterval apart instead of sending one per append.
func TestNotifyAfterCommitIsSpaced(t *testing.T) {
	t.Parallel()
	const interval = 25 * time.Millisecond
	b := setup(t, store.Config{NotifyInterval: interval})

	conn, err := pgx.Connect(t.Context(), b.pool.Config().ConnConfig.ConnString())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), "LISTEN "+store.NotifyChannel)
	require.NoError(t, err)

	var received atomic.Int64
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		for {
			n, err := conn.WaitForNotification(t.Context())
			if err != nil || n.Payload == "fence" {
				return
			}
			received.Add(1)
		}
	}()

	// One append after a quiet spell is announced promptly.
	_, err = b.store.Append(b.ctx, "s-0", store.NoStream, rawEvent("test_event", 0))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return received.Load() == 1 }, 5*time.Second, time.Millisecond)

	// Sustained appends from 8 writers for about half a second.
	const run = 500 * time.Millisecond
	var appends atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 8 {
		wg.Go(func() {
			for i := 0; time.Since(start) < run; i++ {
				if _, err := b.store.Append(b.ctx, "w-"+string(rune('a'+w)), store.Any, rawEvent("test_event", i)); err != nil {
					t.Error(err)
					return
				}
				appends.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.store.Close() // waits for the last follow-up notification
	// A fence notification, sent after the store's last one committed,
	// arrives after it: then every notification of the run has arrived.
	_, err = b.pool.Exec(t.Context(), "SELECT pg_notify($1, 'fence')", store.NotifyChannel)
	require.NoError(t, err)
	waitClosed(t, listened, "the fence notification")
	require.Greater(t, received.Load(), int64(1))

	got := received.Load() - 1
	// Every notification is at least the interval after the previous one,
	// however the appends are spread; the last may follow the run's end.
	// Unspaced, this run sends one notification per round trip: hundreds.
	maxNotifies := int64(elapsed/interval) + 2
	t.Logf("%d appends in %s, %d notifications (at most %d allowed)", appends.Load(), elapsed, got, maxNotifies)
	require.Greater(t, appends.Load(), got, "notifications are coalesced")
	require.LessOrEqual(t, got, maxNotifies)
}

// TestLocalSubscriptionsWokenInProcess: a subscription on the same Store
// as the writer is woken right after the commit, without NOTIFY and long
// before its poll interval.
func TestLocalSubscriptionsWokenInProcess(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{DisableNotify: true})
	got := make(chan int64, 10)
	sub, err := b.store.Subscribe(b.ctx, store.SubscriptionOptions{Start: store.FromOrigin(), PollInterval: time.Minute},
		func(_ context.Context, r store.Recorded) error {
			got <- r.Version
			return nil
		})
	require.NoError(t, err)
	defer func() { _ = sub.Stop() }()
	select {
	case <-sub.Live():
	case <-time.After(10 * time.Second):
		t.Fatal("subscription not live")
	}
	for v := int64(1); v <= 3; v++ {
		_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", int(v)))
		require.NoError(t, err)
		limit := deliveryAfter(horizonWait(t, b.ctx, b.store))
		select {
		case gotV := <-got:
			require.Equal(t, v, gotV)
		case <-time.After(limit): // the poll interval is a minute
			t.Fatalf("event %d not delivered without NOTIFY", v)
		}
	}
}

// TestAnotherStoresNotificationWakes: a subscription is woken by the NOTIFY
// of another Store (another process, say), not only by its own Store's
// commits; the poll interval here is a minute.
func TestAnotherStoresNotificationWakes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Start: store.FromOrigin(), PollInterval: time.Minute}, r.handle)
	waitClosed(t, sub.Live(), "live")
	other := store.New(testdb.Connect(t, b.pool.Config().ConnString()), store.Config{})
	t.Cleanup(other.Close)
	for v := 1; v <= 3; v++ {
		_, err := other.Append(b.ctx, "s", store.Any, rawEvent("test_event", v))
		require.NoError(t, err)
		limit := deliveryAfter(horizonWait(t, b.ctx, b.store))
		require.Equal(t, seq(1, v+1), ns(t, r.waitLenWithin(t, v, limit)), "woken by another Store's NOTIFY")
	}
}

// TestBusySubscriptionCoalescesReads: while commits come faster than a
// live subscription reads them, it reads them in few batches
// (CoalesceWindow) instead of once or twice per commit; every event is
// still delivered once, in order. Event 1 is read alone (the writer waits
// until it is handled), then the handler holds the subscription so that
// commits pile up behind it: at event 1 until event 10 is committed, at
// event 10 until event 15 is; events 16 to 40 follow a few milliseconds
// apart. Read as they come, events 16 to 40 would take about a read
// each; coalesced, events 11 to 40 take one read, three in all (a few
// more when transactions of tests running alongside hold the feed's
// horizon back mid-batch).
func TestBusySubscriptionCoalescesReads(t *testing.T) {
	t.Parallel()
	tr := &traces{}
	pool := tracedPool(t, &store.Tracer{TraceFunc: tr.add})
	s := store.New(pool, store.Config{})
	t.Cleanup(s.Close)
	ctx := store.WithGuild(t.Context(), testGuild)
	var r sink
	const n = 40
	committed := map[int64]chan struct{}{10: make(chan struct{}), 15: make(chan struct{})}
	holdUntil := map[int64]int64{1: 10, 10: 15} // event → the commit it waits for
	atFirst := make(chan struct{})
	held := func(ctx context.Context, ev store.Recorded) error {
		if ev.Version == 1 {
			close(atFirst)
		}
		if v, ok := holdUntil[ev.Version]; ok {
			select {
			case <-committed[v]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return r.handle(ctx, ev)
	}
	sub := subscribe(t, s, ctx, store.SubscriptionOptions{PollInterval: time.Minute, CoalesceWindow: time.Second}, held)
	waitClosed(t, sub.Live(), "live")
	// Reads that found events: a read that finds nothing yet (the feed's
	// horizon is held back by a transaction of a test running alongside)
	// is re-tried and does not count.
	feedReads := func() int {
		n := 0
		for _, q := range tr.find(store.TraceBatchQuery, "name: EventsReadFeedGuild ") { // a guild's feed: ctx has one
			if q.Rows > 0 {
				n++
			}
		}
		return n
	}

	before := feedReads()
	for i := 1; i <= n; i++ {
		_, err := s.Append(ctx, "s", store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
		if c, ok := committed[int64(i)]; ok {
			close(c)
		}
		if i == 1 {
			select {
			case <-atFirst:
			case <-time.After(deliveryAfter(horizonWait(t, ctx, s))):
				t.Fatal("event 1 was not delivered")
			}
		}
		if i > 15 {
			time.Sleep(3 * time.Millisecond) // the rest trickle in
		}
	}
	require.Equal(t, seq(1, n+1), ns(t, r.waitLenWithin(t, n, deliveryAfter(horizonWait(t, ctx, s)))))
	reads := feedReads() - before
	require.Positive(t, reads, "the subscription's feed reads were not found in the traces")
	require.LessOrEqual(t, reads, 6, "%d reads for %d commits", reads, n)
	t.Logf("%d commits delivered in %d reads", n, reads)
}

// TestWokenReadLooksAgainPastTheHorizon: a wake-up whose read delivers some
// events while others are still behind the feed's horizon (held back by an
// older open transaction) is followed by further looks, so the rest is
// delivered soon after the old transaction ends — here with no wake-up and
// a poll interval of a minute.
func TestWokenReadLooksAgainPastTheHorizon(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var r sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{PollInterval: time.Minute}, r.handle)
	waitClosed(t, sub.Live(), "live")
	// receive allows for transactions of tests running alongside, which
	// hold the horizon back as held does here (horizonWait).
	receive := func(n int, want string, blocked time.Duration) {
		t.Helper()
		recs := r.waitLenWithin(t, n, deliveryAfter(blocked))
		require.Equal(t, want, recs[n-1].StreamID)
	}

	// Transaction ids: older (W, a store transaction) < held (H) < newer (E).
	older, proceed := make(chan uint64, 1), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- b.store.InTx(b.ctx, func(ctx context.Context) error {
			tx, _ := store.TxFromContext(ctx)
			var xid uint64
			err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&xid)
			older <- xid
			if err != nil {
				return err
			}
			<-proceed
			_, err = b.store.Append(ctx, "older", store.Any, rawEvent("test_event", 1))
			return err
		})
	}()
	olderXID := <-older
	require.NotZero(t, olderXID)
	held, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = held.Rollback(context.Background()) }()
	_, err = held.Exec(b.ctx, `SELECT pg_current_xact_id()`)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "newer", store.Any, rawEvent("test_event", 2))
	require.NoError(t, err) // committed, but behind the horizon while held is open
	close(proceed)
	require.NoError(t, <-txDone) // its commit wakes the subscription
	receive(1, "older", horizonPast(t, b.ctx, b.store, olderXID))
	require.NoError(t, held.Commit(b.ctx)) // no notification: nothing was appended
	receive(2, "newer", horizonWait(t, b.ctx, b.store))
}
