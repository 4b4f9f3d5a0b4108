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
	"github.com/stretchr/testify/require"
)

// process returns a second store on the bundle's database with its own
// pool: another process, as far as PostgreSQL can tell.
func process(t *testing.T, b *bundle) *store.Store {
	t.Helper()
	s := store.New(testdb.Connect(t, b.pool.Config().ConnString()), store.Config{})
	t.Cleanup(s.Close)
	return s
}

// stored returns the single member of a persistent subscription.
func stored(t *testing.T, b *bundle, name string) store.SubscriptionInfo {
	t.Helper()
	// Without a guild: the admin's view of every subscription (these
	// tests' subscriptions are store-wide).
	infos, err := b.store.SubscriptionInfo(context.WithoutCancel(t.Context()), name)
	require.NoError(t, err)
	require.Len(t, infos, 1)
	return infos[0]
}

// feedEvents reads the whole feed, waiting until it holds n events.
func feedEvents(t *testing.T, b *bundle, n int) []store.Recorded {
	t.Helper()
	waitFeed(t, b, n)
	page, err := b.store.ReadFeed(b.admin, store.Checkpoint{}, store.FeedOptions{Limit: n})
	require.NoError(t, err)
	return page.Events
}

// TestPersistentSubscriptionResumes handles 5 of 10 events, stops, and
// restarts: the restart resumes at event 6.
func TestPersistentSubscriptionResumes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(10, 1)...)
	require.NoError(t, err)
	events := feedEvents(t, b, 10)

	reached6 := make(chan struct{})
	var first sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "resume"}, func(ctx context.Context, ev store.Recorded) error {
		if eventN(t, ev) == 6 {
			close(reached6)
			<-ctx.Done() // stopped while handling event 6
			return ctx.Err()
		}
		return first.handle(ctx, ev)
	})
	waitClosed(t, reached6, "event 6")
	require.NoError(t, sub.Stop())
	require.Equal(t, seq(1, 6), ns(t, first.all()))
	info := stored(t, b, "resume")
	require.Equal(t, events[4].Checkpoint(), info.Checkpoint, "checkpoint at event 5")
	require.EqualValues(t, 5, info.Handled)
	require.NotEmpty(t, info.Holder)

	var second sink
	subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "resume", Start: store.FromEnd()}, second.handle)
	require.Equal(t, seq(6, 11), ns(t, second.waitLen(t, 5)), "resumes at 6; the stored checkpoint beats Start")
	deadline := time.Now().Add(deliveryLimit)
	for stored(t, b, "resume").Handled != 10 {
		require.True(t, time.Now().Before(deadline))
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, events[9].Checkpoint(), stored(t, b, "resume").Checkpoint)
}

// TestPersistentSubscriptionHandlerError fails every attempt at event 7:
// the subscription stops with a *HandlerError, the checkpoint stays at 6,
// and a restart retries event 7.
func TestPersistentSubscriptionHandlerError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(10, 1)...)
	require.NoError(t, err)
	events := feedEvents(t, b, 10)

	boom := errors.New("boom")
	var calls atomic.Int32
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "failing", Retry: store.RetryPolicy{MaxAttempts: 3}}, func(_ context.Context, ev store.Recorded) error {
		if eventN(t, ev) == 7 {
			calls.Add(1)
			return boom
		}
		return nil
	})
	waitClosed(t, sub.Done(), "stop")
	err = sub.Wait()
	require.ErrorIs(t, err, boom)
	var herr *store.HandlerError
	require.ErrorAs(t, err, &herr)
	require.Equal(t, 7, eventN(t, herr.Event))
	require.Equal(t, 3, herr.Attempts)
	require.EqualValues(t, 3, calls.Load())
	info := stored(t, b, "failing")
	require.Equal(t, events[5].Checkpoint(), info.Checkpoint, "checkpoint stays at event 6")
	require.EqualValues(t, 6, info.Handled)

	var rec sink
	subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "failing"}, rec.handle)
	require.Equal(t, seq(7, 11), ns(t, rec.waitLen(t, 4)), "event 7 is retried after the restart")
}

// TestPersistentSubscriptionDeadLetter hands an event that keeps failing
// to the dead-letter function and goes on; a failing dead-letter function
// stops the subscription before the event.
func TestPersistentSubscriptionDeadLetter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)
	events := feedEvents(t, b, 5)
	failOn3 := func(_ context.Context, ev store.Recorded) error {
		if eventN(t, ev) == 3 {
			return errors.New("poison")
		}
		return nil
	}

	var (
		mu   sync.Mutex
		dead []int
	)
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{
		Name: "dead-letter", Retry: store.RetryPolicy{MaxAttempts: 2},
		DeadLetterFunc: func(_ context.Context, ev store.Recorded, cause error) error {
			var herr *store.HandlerError
			if !errors.As(cause, &herr) || herr.Attempts != 2 {
				return fmt.Errorf("unexpected cause %v", cause)
			}
			mu.Lock()
			defer mu.Unlock()
			dead = append(dead, eventN(t, ev))
			return nil
		},
	}, failOn3)
	deadline := time.Now().Add(deliveryLimit)
	for sub.Handled() < 5 {
		require.True(t, time.Now().Before(deadline))
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, sub.Stop())
	mu.Lock()
	require.Equal(t, []int{3}, dead)
	mu.Unlock()
	require.Equal(t, events[4].Checkpoint(), stored(t, b, "dead-letter").Checkpoint)

	stuck := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{
		Name: "dead-letter-fails", Retry: store.RetryPolicy{MaxAttempts: 1},
		DeadLetterFunc: func(context.Context, store.Recorded, error) error { return errors.New("queue down") },
	}, failOn3)
	waitClosed(t, stuck.Done(), "stop")
	require.ErrorContains(t, stuck.Wait(), "queue down")
	require.Equal(t, events[1].Checkpoint(), stored(t, b, "dead-letter-fails").Checkpoint)
}

// TestPersistentSubscriptionCheckpointNeverPassesUnhandled blocks the
// handler on event 3 for five lease renewals while more events arrive:
// the stored checkpoint never moves past an event whose handler has not
// returned, whether saved per batch or per event.
func TestPersistentSubscriptionCheckpointNeverPassesUnhandled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		every int
		want  int // index of the stored checkpoint's event while blocked, -1: none saved
	}{
		{"per batch", 0, -1},
		{"per event", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(10, 1)...)
			require.NoError(t, err)
			events := feedEvents(t, b, 10)
			release := make(chan struct{})
			blocked := make(chan struct{})
			var rec sink
			subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "slow", CheckpointEvery: tc.every, LeaseDuration: 600 * time.Millisecond}, func(ctx context.Context, ev store.Recorded) error {
				if eventN(t, ev) == 3 {
					select {
					case <-blocked:
					default:
						close(blocked)
					}
					<-release
				}
				return rec.handle(ctx, ev)
			})
			waitClosed(t, blocked, "handler blocked")
			// The row's lease expiry moves with every renewal: a write to the
			// row while the handler is blocked, after which the checkpoint
			// must still be where it was (no sleep stands in for "time passed").
			leaseExpiry := func() time.Time {
				var at time.Time
				require.NoError(t, b.pool.QueryRow(t.Context(),
					`SELECT lease_expires_at FROM eventstore.subscriptions WHERE name = 'slow'`).Scan(&at))
				return at
			}
			for i := range 5 {
				_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", 11+i))
				require.NoError(t, err)
				before := leaseExpiry()
				require.Eventually(t, func() bool { return leaseExpiry().After(before) }, 20*time.Second, 5*time.Millisecond,
					"the lease is renewed while the handler is blocked")
				info := stored(t, b, "slow")
				if tc.want < 0 {
					require.Equal(t, store.Checkpoint{}, info.Checkpoint)
				} else {
					require.Equal(t, events[tc.want].Checkpoint(), info.Checkpoint)
				}
			}
			close(release)
			require.Equal(t, seq(1, 16), ns(t, rec.waitLen(t, 15)))
		})
	}
}

// TestPersistentSubscriptionSingleConsumer runs two processes with the same
// subscription name: only one receives events; when it stops, the other
// takes over right after its checkpoint.
func TestPersistentSubscriptionSingleConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := process(t, b)
	var ra, rb sink
	subA := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "single"}, ra.handle)
	waitClosed(t, subA.Live(), "A live")
	subB := subscribe(t, other, b.ctx, store.SubscriptionOptions{Name: "single"}, rb.handle)

	for i := range 10 {
		_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
	}
	require.Equal(t, seq(0, 10), ns(t, ra.waitLen(t, 10)))
	// B reports that a claim was refused: it is a standby, and a standby
	// reads nothing.
	require.Eventually(t, func() bool { return subB.State() == store.StateStandby }, deliveryLimit, 5*time.Millisecond)
	require.True(t, subA.Active())
	require.Equal(t, store.StateLive, subA.State())
	require.False(t, subB.Active(), "B is a standby")
	require.Zero(t, rb.len(), "only the lease holder receives events")
	require.Zero(t, subB.Handled())

	require.NoError(t, subA.Stop())
	waitClosed(t, subB.Live(), "B takes over")
	require.True(t, subB.Active())
	for i := range 10 {
		_, err := other.Append(b.ctx, "s", store.Any, rawEvent("test_event", 10+i))
		require.NoError(t, err)
	}
	require.Equal(t, seq(10, 20), ns(t, rb.waitLen(t, 10)), "B resumes after A's checkpoint")
	require.Len(t, ra.all(), 10)
}

// TestPersistentSubscriptionLockConnectionKilled kills the lock holder's
// connection while events are appended: the lock passes to a consumer
// that holds it (the same process again or the standby) and every event
// is delivered at least once, in order per consumer.
func TestPersistentSubscriptionLockConnectionKilled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := process(t, b)
	var ra, rb sink
	subA := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "killed"}, ra.handle)
	waitClosed(t, subA.Live(), "A live")
	subB := subscribe(t, other, b.ctx, store.SubscriptionOptions{Name: "killed"}, rb.handle)

	for i := range 100 {
		_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
		if i == 40 {
			require.Positive(t, terminateLockHolder(t, b))
		}
	}
	deadline := time.Now().Add(deliveryLimit)
	for {
		seen := map[int]bool{}
		for _, n := range append(ns(t, ra.all()), ns(t, rb.all())...) {
			seen[n] = true
		}
		if len(seen) == 100 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d of 100 delivered", len(seen))
		time.Sleep(10 * time.Millisecond)
	}
	for subA.Active() == subB.Active() {
		require.True(t, time.Now().Before(deadline), "exactly one consumer holds the lock")
		time.Sleep(10 * time.Millisecond)
	}
}

// terminateLockHolder ends every other backend of the bundle's database
// (the consumers' pooled connections, listeners included) and returns how
// many it ended. A consumer's lease lives in its row, not in a
// connection: it outlives them. Only client backends: an autovacuum
// worker in the database counts as a superuser's process, which the test
// role may not signal.
func terminateLockHolder(t *testing.T, b *bundle) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT count(*) FROM (
			SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
			 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
			   AND a.backend_type = 'client backend') t`).Scan(&n))
	return n
}

// TestPersistentStreamSubscription stores a stream subscription's
// checkpoint as a version and resumes from it.
func TestPersistentStreamSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-7", store.NoStream, rawEvents(4, 1)...)
	require.NoError(t, err)
	var r1 sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "game-7-watch", StreamID: "game-7"}, r1.handle)
	require.Equal(t, seq(1, 5), ns(t, r1.waitLen(t, 4)))
	require.NoError(t, sub.Stop())
	info := stored(t, b, "game-7-watch")
	require.Equal(t, "game-7", info.StreamID)
	require.EqualValues(t, 4, info.Version)

	_, err = b.store.Append(b.ctx, "game-7", store.Exact(4), rawEvents(2, 5)...)
	require.NoError(t, err)
	var r2 sink
	sub = subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "game-7-watch", StreamID: "game-7"}, r2.handle)
	require.Equal(t, []int{5, 6}, ns(t, r2.waitLen(t, 2)))
	require.NoError(t, sub.Stop())

	// The stored subscription is for that stream: the feed cannot reuse it,
	// and Subscribe says so at once.
	_, err = b.store.Subscribe(b.ctx, store.SubscriptionOptions{Name: "game-7-watch"}, r2.handle)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}

// TestSubscriptionAdmin lists and deletes persistent subscriptions; a
// consumer whose row is deleted stops with ErrSubscriptionNotFound.
func TestSubscriptionAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var rec sink
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{
		Name: "admin", Filter: store.FeedFilter{GuildID: testGuild, EventTypes: []string{"test_event"}},
	}, rec.handle)
	waitClosed(t, sub.Live(), "live")
	_, err := b.store.SubscriptionInfo(b.ctx, "missing")
	require.ErrorIs(t, err, store.ErrSubscriptionNotFound)
	require.ErrorIs(t, b.store.DeleteSubscription(b.ctx, "missing"), store.ErrSubscriptionNotFound)

	all, err := b.store.Subscriptions(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, "admin", all[0].Name)
	require.Equal(t, testGuild, all[0].GuildID)
	require.Equal(t, []string{"test_event"}, all[0].Filter.EventTypes)
	require.Equal(t, 1, all[0].Members)

	require.NoError(t, b.store.DeleteSubscription(b.ctx, "admin"))
	_, err = b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", 1))
	require.NoError(t, err)
	waitClosed(t, sub.Done(), "stop")
	require.ErrorIs(t, sub.Wait(), store.ErrSubscriptionNotFound)
}
