package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// TestPartitionedSubscription runs 3 members of one persistent subscription
// over 30 streams written concurrently: every event is handled exactly
// once, each stream by one member only, in stream order.
func TestPartitionedSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const members, streams, perStream = 3, 30, 10

	type handled struct {
		member int
		rec    store.Recorded
	}
	var (
		mu  sync.Mutex
		got []handled
	)
	subs := make([]*store.Subscription, members)
	for m := range members {
		subs[m] = subscribe(t, b.store, b.ctx, store.SubscriptionOptions{
			Name: "partitioned", Partition: store.FeedPartition{Member: m, Count: members}, BatchSize: 7,
		}, func(_ context.Context, ev store.Recorded) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, handled{member: m, rec: ev})
			return nil
		})
	}

	var wg sync.WaitGroup
	for w := range 5 {
		wg.Go(func() {
			for i := range perStream {
				for s := w; s < streams; s += 5 {
					if _, err := b.store.Append(b.ctx, fmt.Sprintf("game-%d", s), store.Any, rawEvent("test_event", s*1000+i)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	total := streams * perStream
	deadline := timeAfter(deliveryLimit)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= total {
			break
		}
		require.False(t, deadline(), "%d of %d handled", n, total)
		sleepShort()
	}
	// A fence event on every stream, appended last: once each is handled,
	// anything delivered twice would have come before it.
	for s := range streams {
		_, err := b.store.Append(b.ctx, fmt.Sprintf("game-%d", s), store.Any, rawEvent("fence", -1))
		require.NoError(t, err)
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= total+streams {
			break
		}
		require.False(t, deadline(), "%d of %d handled", n, total+streams)
		sleepShort()
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, total+streams, "nothing handled twice")
	var fenced []handled
	for _, h := range got {
		if h.rec.Type != "fence" {
			fenced = append(fenced, h)
		}
	}
	got = fenced

	owner := map[string]int{}
	version := map[string]int64{}
	perMember := make([]int, members)
	ids := map[string]bool{}
	for _, h := range got {
		require.False(t, ids[h.rec.ID.String()])
		ids[h.rec.ID.String()] = true
		if m, ok := owner[h.rec.StreamID]; ok {
			require.Equal(t, m, h.member, "stream %s handled by two members", h.rec.StreamID)
		}
		owner[h.rec.StreamID] = h.member
		require.Equal(t, version[h.rec.StreamID]+1, h.rec.Version, "stream %s in order", h.rec.StreamID)
		version[h.rec.StreamID] = h.rec.Version
		perMember[h.member]++
	}
	require.Len(t, owner, streams)
	for m, n := range perMember {
		require.Positive(t, n, "member %d got no stream", m)
	}

	// Each batch's checkpoint and count are saved right after its handler
	// calls: wait for the last saves.
	require.Eventually(t, func() bool {
		infos, err := b.store.SubscriptionInfo(t.Context(), "partitioned")
		require.NoError(t, err)
		require.Len(t, infos, members)
		var sum int64
		for m, info := range infos {
			require.Equal(t, m, info.Member)
			require.Equal(t, members, info.Members)
			sum += info.Handled
		}
		require.LessOrEqual(t, sum, int64(total+streams))
		return sum == int64(total+streams) // the fences included
	}, deliveryLimit, 5*time.Millisecond)

	// A member started with another member count is refused.
	require.NoError(t, subs[0].Stop())
	_, err := b.store.Subscribe(b.ctx, store.SubscriptionOptions{
		Name: "partitioned", Partition: store.FeedPartition{Member: 0, Count: 4},
	}, func(context.Context, store.Recorded) error { return nil })
	require.ErrorIs(t, err, store.ErrInvalidArgument)
}
