package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// opSink collects the "n" of the raw test events a handler was given.
type opSink struct {
	mu sync.Mutex
	ns []int
}

func (s *opSink) handler(t *testing.T) store.HandlerFunc {
	return func(_ context.Context, ev store.Recorded) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ns = append(s.ns, eventN(t, ev))
		return nil
	}
}

func (s *opSink) waitFor(t *testing.T, n int) []int {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.ns) >= n
	}, 20*time.Second, 5*time.Millisecond, "handler saw fewer than %d events", n)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.ns...)
}

// opSubscribe starts a subscription with test-sized intervals, stopped at
// cleanup.
func opSubscribe(t *testing.T, s *store.Store, ctx context.Context, opts store.SubscriptionOptions, h store.HandlerFunc) *store.Subscription {
	t.Helper()
	opts.PollInterval = 100 * time.Millisecond
	opts.LockRetryInterval = 50 * time.Millisecond
	opts.Retry.BaseDelay = 5 * time.Millisecond
	opts.Retry.MaxDelay = 20 * time.Millisecond
	sub, err := s.Subscribe(ctx, opts, h)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Stop() })
	return sub
}

// waitFeedOp waits until the feed delivers n events.
func waitFeedOp(t *testing.T, b *bundle, n int) []store.Recorded {
	t.Helper()
	var page store.FeedPage
	require.Eventually(t, func() bool {
		var err error
		page, err = b.store.ReadFeed(b.admin, store.Checkpoint{}, store.FeedOptions{Limit: n + 1})
		return err == nil && len(page.Events) >= n
	}, deliveryLimit, 5*time.Millisecond)
	return page.Events
}

func TestResetSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(6, 1)...)
	require.NoError(t, err)
	events := waitFeedOp(t, b, 6)

	var first opSink
	sub := opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "proj"}, first.handler(t))
	require.Equal(t, []int{1, 2, 3, 4, 5, 6}, first.waitFor(t, 6))
	require.Eventually(t, func() bool {
		infos, err := b.store.SubscriptionInfo(b.ctx, "proj")
		return err == nil && infos[0].Checkpoint == events[5].Checkpoint()
	}, 20*time.Second, 5*time.Millisecond)

	// A consumer holds the lease: the reset is refused and changes nothing.
	_, err = b.store.ResetSubscription(b.ctx, "proj", store.AfterCheckpoint(events[2].Checkpoint()))
	require.ErrorIs(t, err, store.ErrSubscriptionActive)
	require.ErrorContains(t, err, "is in use")
	infos, err := b.store.SubscriptionInfo(b.ctx, "proj")
	require.NoError(t, err)
	require.Equal(t, events[5].Checkpoint(), infos[0].Checkpoint)

	require.NoError(t, sub.Stop())

	// Validation and guild rules.
	_, err = b.store.ResetSubscription(b.ctx, "proj", store.AfterVersion(2))
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	_, err = b.store.ResetSubscription(b.ctx, "nope", store.FromOrigin())
	require.ErrorIs(t, err, store.ErrSubscriptionNotFound)
	_, err = b.store.ResetSubscription(store.WithGuild(t.Context(), "guild-2"), "proj", store.FromOrigin())
	require.ErrorIs(t, err, store.ErrSubscriptionNotFound, "another guild's subscription is not found")

	// Back to event 3: the next consumer redelivers 4, 5 and 6.
	infos, err = b.store.ResetSubscription(b.ctx, "proj", store.AfterCheckpoint(events[2].Checkpoint()))
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.Equal(t, events[2].Checkpoint(), infos[0].Checkpoint)
	var second opSink
	sub = opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "proj"}, second.handler(t))
	require.Equal(t, []int{4, 5, 6}, second.waitFor(t, 3))
	require.NoError(t, sub.Stop())

	// To the end, as an administrator (no guild): nothing is redelivered.
	infos, err = b.store.ResetSubscription(b.admin, "proj", store.FromEnd())
	require.NoError(t, err)
	require.Equal(t, events[5].Checkpoint(), infos[0].Checkpoint)
	// To the start.
	infos, err = b.store.ResetSubscription(b.ctx, "proj", store.FromOrigin())
	require.NoError(t, err)
	require.Equal(t, store.Checkpoint{}, infos[0].Checkpoint)
}

func TestResetStreamSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game", store.NoStream, rawEvents(4, 1)...)
	require.NoError(t, err)
	var first opSink
	sub := opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "watch", StreamID: "game"}, first.handler(t))
	first.waitFor(t, 4)
	require.NoError(t, sub.Stop())

	_, err = b.store.ResetSubscription(b.ctx, "watch", store.AfterCheckpoint(store.Checkpoint{TransactionID: 1, Position: 1}))
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	infos, err := b.store.ResetSubscription(b.ctx, "watch", store.AfterVersion(2))
	require.NoError(t, err)
	require.Equal(t, int64(2), infos[0].Version)
	var second opSink
	opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "watch", StreamID: "game"}, second.handler(t))
	require.Equal(t, []int{3, 4}, second.waitFor(t, 2))
}

// TestResetSubscriptionFencesStalledConsumer resets a subscription whose
// consumer stalled past its lease (simulated by expiring the lease in SQL
// while the handler blocks): the reset bumps the lease token, so the
// stalled consumer's checkpoint save is refused; it claims the lease again
// and resumes from the reset checkpoint instead of overwriting it.
func TestResetSubscriptionFencesStalledConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	waitFeedOp(t, b, 3)
	stall := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	var seen opSink
	record := seen.handler(t)
	opts := store.SubscriptionOptions{Name: "slow", BatchSize: 1, LeaseDuration: time.Minute}
	opSubscribe(t, b.store, b.ctx, opts, func(ctx context.Context, ev store.Recorded) error {
		_ = record(ctx, ev)
		if eventN(t, ev) == 2 {
			once.Do(func() {
				close(stall)
				<-release
			})
		}
		return nil
	})
	<-stall
	// The keep-alive renews the lease while the handler stalls: refused.
	_, err = b.store.ResetSubscription(b.ctx, "slow", store.FromOrigin())
	require.ErrorIs(t, err, store.ErrSubscriptionActive)
	// The lease runs out (as if the process had been paused).
	_, err = b.pool.Exec(b.admin, `UPDATE eventstore.subscriptions SET lease_expires_at = now() - interval '1 second' WHERE name = 'slow'`)
	require.NoError(t, err)
	infos, err := b.store.ResetSubscription(b.ctx, "slow", store.FromOrigin())
	require.NoError(t, err)
	require.Equal(t, store.Checkpoint{}, infos[0].Checkpoint)
	close(release)
	// The stalled consumer could not save event 2 over the reset: it
	// claimed the lease again and started over from the reset checkpoint.
	require.Equal(t, []int{1, 2, 1, 2, 3}, seen.waitFor(t, 5))
}
