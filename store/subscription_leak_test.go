package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestSubscriptionsLeakNoGoroutines runs every kind of subscription, two
// members of a consumer group and a broadcaster, kills a listener and a
// lock holder, then cancels the one
// context they share: once they report done, no goroutine of theirs is
// left. It runs alone (not parallel) so that other tests' goroutines do not
// count.
func TestSubscriptionsLeakNoGoroutines(t *testing.T) {
	b := setup(t)
	other := process(t, b)
	// Connections the pools open from here on are theirs, not leaks.
	ignore := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	bc := store.NewBroadcaster(store.BroadcasterConfig{})
	var viaBroadcast [2]sink
	for i := range viaBroadcast {
		_, err := bc.Register(ctx, fmt.Sprintf("r%d", i), viaBroadcast[i].handle)
		require.NoError(t, err)
	}
	var all, holder, standby, stream sink
	var members [2]sink
	subs := []*store.Subscription{
		startSub(t, b.store, ctx, store.SubscriptionOptions{}, all.handle),
		startSub(t, b.store, ctx, store.SubscriptionOptions{Start: store.FromEnd()}, bc.Handle),
		startSub(t, b.store, ctx, store.SubscriptionOptions{Name: "leak"}, holder.handle),
		startSub(t, other, ctx, store.SubscriptionOptions{Name: "leak"}, standby.handle),
		startSub(t, b.store, ctx, store.SubscriptionOptions{StreamID: "s-1"}, stream.handle),
	}
	for m := range members {
		subs = append(subs, startSub(t, b.store, ctx, store.SubscriptionOptions{
			Name: "leak-parts", Partition: store.FeedPartition{Member: m, Count: len(members)},
		}, members[m].handle))
	}
	var grouped sink
	var group []*store.GroupMember
	for _, s := range []*store.Store{b.store, other} {
		m, err := s.SubscribeGroup(ctx, store.GroupOptions{
			SubscriptionOptions: fast(store.SubscriptionOptions{Name: "leak-group"}), Partitions: 4,
		}, grouped.handle)
		require.NoError(t, err)
		group = append(group, m)
	}
	for _, sub := range subs[:2] {
		waitClosed(t, sub.Live(), "live")
	}
	deadline := timeAfter(deliveryLimit)
	for !subs[2].Active() && !subs[3].Active() {
		require.False(t, deadline(), "no consumer took the lock")
		sleepShort()
	}
	for i := range 40 {
		_, err := b.store.Append(b.ctx, fmt.Sprintf("s-%d", i%4), store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
		if i == 20 {
			require.Positive(t, terminate(t, b, "eventstore listener"))
			require.Positive(t, terminateLockHolder(t, b), "the consumers' connections")
		}
	}
	all.waitLen(t, 40)
	for holder.len()+standby.len() < 40 {
		require.False(t, deadline(), "persistent subscription behind")
		sleepShort()
	}
	viaBroadcast[0].waitLen(t, 40)
	viaBroadcast[1].waitLen(t, 40)
	stream.waitLen(t, 10)
	for grouped.len() < 40 {
		require.False(t, deadline(), "consumer group behind")
		sleepShort()
	}

	cancel()
	for _, sub := range subs {
		waitClosed(t, sub.Done(), "stop")
		require.NoError(t, sub.Wait())
	}
	for _, m := range group {
		waitClosed(t, m.Done(), "stop")
		require.NoError(t, m.Wait())
	}
	bc.Close()
	b.store.Close()
	other.Close()
	// The test's pool stays open: a pgx background reader on one of its
	// connections is the pool's (see pgxReader).
	goleak.VerifyNone(t, ignore, pgxReader)
}

// startSub starts a subscription with test timing and no cleanup: the test
// stops it.
func startSub(t *testing.T, s *store.Store, ctx context.Context, opts store.SubscriptionOptions, h store.HandlerFunc) *store.Subscription {
	t.Helper()
	sub, err := s.Subscribe(ctx, fast(opts), h)
	require.NoError(t, err)
	return sub
}
