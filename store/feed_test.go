package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestCheckpointParse(t *testing.T) {
	t.Parallel()
	c := store.Checkpoint{TransactionID: 12345, Position: 678}
	got, err := store.ParseCheckpoint(c.String())
	require.NoError(t, err)
	require.Equal(t, c, got)
	zero, err := store.ParseCheckpoint("0")
	require.NoError(t, err)
	require.Equal(t, store.Checkpoint{}, zero)
	for _, bad := range []string{"x", "1/", "/2", "1/-3", "-1/2", "1/2/3"} {
		_, err := store.ParseCheckpoint(bad)
		require.ErrorIs(t, err, store.ErrInvalidArgument, bad)
	}
	require.True(t, store.Checkpoint{TransactionID: 1, Position: 9}.Less(store.Checkpoint{TransactionID: 2, Position: 1}))
}

func TestFeedReadsAllStreamsInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		_, err := b.store.Append(b.ctx, fmt.Sprintf("s-%d", i%2), store.Any, rawEvents(3, i*3)...)
		require.NoError(t, err)
	}
	var got []int
	var cp store.Checkpoint
	for {
		page, err := b.store.ReadFeed(b.ctx, cp, store.FeedOptions{Limit: 4})
		require.NoError(t, err)
		if len(page.Events) == 0 {
			require.Equal(t, cp, page.Next)
			break
		}
		for _, r := range page.Events {
			require.True(t, cp.Less(r.Checkpoint()))
			cp = r.Checkpoint()
			got = append(got, eventN(t, r))
		}
		require.Equal(t, cp, page.Next)
	}
	require.Len(t, got, 15)
	for i, n := range got {
		require.Equal(t, i, n)
	}
}

// TestFeedNeverSkipsLateCommits holds a transaction open after it appended,
// while other writers commit, and polls the feed throughout: every event is
// seen exactly once, in checkpoint order, the held one included.
func TestFeedNeverSkipsLateCommits(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// The held transaction appends first, so its transaction id is the
	// smallest, but it commits last.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = b.store.Append(store.WithTx(b.ctx, tx), "held", store.NoStream, rawEvents(3, 1_000_000)...)
	require.NoError(t, err)

	const writers, perWriter = 4, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				_, err := b.store.Append(b.ctx, fmt.Sprintf("w-%d", w), store.Any, rawEvent("test_event", w*1000+i))
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}

	seen := map[int]int{}
	var cp store.Checkpoint
	poll := func() {
		page, err := b.store.ReadFeed(b.ctx, cp, store.FeedOptions{Limit: 7})
		require.NoError(t, err)
		for _, r := range page.Events {
			require.True(t, cp.Less(r.Checkpoint()), "feed order")
			cp = r.Checkpoint()
			seen[eventN(t, r)]++
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	polling := true
	for polling {
		select {
		case <-done:
			polling = false
		default:
			poll()
		}
	}
	// Everything else committed; the held transaction still hides the rest.
	for range 50 {
		poll()
	}
	require.Empty(t, seen, "nothing after the held transaction may be delivered before it commits")
	require.NoError(t, tx.Commit(b.ctx))

	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < writers*perWriter+3 && time.Now().Before(deadline) {
		poll()
	}
	require.Len(t, seen, writers*perWriter+3)
	for n, c := range seen {
		require.Equal(t, 1, c, "event %d seen %d times", n, c)
	}
}
