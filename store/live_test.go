package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// listeners counts the bundle database's sessions that LISTEN on the
// store's channel: their last statement was the LISTEN.
func listeners(t *testing.T, b *bundle) []int {
	t.Helper()
	return pids(t, b, `
		SELECT a.pid FROM pg_stat_activity a
		 WHERE a.datname = current_database() AND a.query = 'LISTEN "`+store.NotifyChannel+`"'
		 ORDER BY a.pid`)
}

// TestOneListenerPerStore: 20 subscriptions on one Store share one LISTEN
// connection. Killing it (pg_terminate_backend) does not cost a single
// event: the listener reconnects with backoff, wakes every subscription
// after reconnecting, and polling covers the gap. When the last
// subscription stops, the connection is closed.
func TestOneListenerPerStore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 20
	var counts [n]atomic.Int64
	subs := make([]*store.Subscription, n)
	for i := range subs {
		subs[i] = subscribe(t, b.store, b.ctx, store.SubscriptionOptions{}, func(context.Context, store.Recorded) error {
			counts[i].Add(1)
			return nil
		})
	}
	for _, sub := range subs {
		waitClosed(t, sub.Live(), "live")
		require.Equal(t, store.StateLive, sub.State())
	}
	first := listeners(t, b)
	require.Len(t, first, 1, "LISTEN connections of one Store with %d subscriptions", n)
	require.Len(t, backends(t, b, "eventstore listener"), 1)
	live := b.store.Stats().Live
	require.True(t, live.Listening)
	require.EqualValues(t, 1, live.ListenerConnects)
	require.Equal(t, map[store.SubscriptionState]int{store.StateLive: n}, live.Consumers)

	delivered := func(want int64) func() bool {
		return func() bool {
			for i := range counts {
				if counts[i].Load() < want {
					return false
				}
			}
			return true
		}
	}
	for i := range 100 {
		_, err := b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", i))
		require.NoError(t, err)
		switch i {
		case 30:
			require.Positive(t, terminate(t, b, "eventstore listener"))
		case 60:
			// Kill the connection that replaced the first, not the first
			// again while it is still on its way out.
			require.Eventually(t, func() bool {
				return b.store.Stats().Live.ListenerConnects >= 2 && b.store.Stats().Live.Listening
			}, deliveryLimit, 5*time.Millisecond, "it reconnects after the first kill")
			require.Positive(t, terminate(t, b, "eventstore listener"))
		}
	}
	require.Eventually(t, delivered(100), deliveryLimit, 5*time.Millisecond)
	// It came back as one new connection.
	require.Eventually(t, func() bool {
		now := listeners(t, b)
		return len(now) == 1 && now[0] != first[0]
	}, deliveryLimit, 10*time.Millisecond)

	require.Eventually(t, func() bool { return b.store.Stats().Live.ListenerConnects >= 3 && b.store.Stats().Live.Listening },
		deliveryLimit, 5*time.Millisecond, "it reconnects after each kill")
	for _, sub := range subs {
		require.NoError(t, sub.Stop())
		require.Equal(t, store.StateStopped, sub.State())
	}
	require.Empty(t, b.store.Stats().Live.Consumers)
	require.False(t, b.store.Stats().Live.Listening)
	require.Eventually(t, func() bool { return len(backends(t, b, "eventstore listener")) == 0 },
		deliveryLimit, 10*time.Millisecond, "the listener outlived the last subscription")
}
