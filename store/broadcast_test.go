package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// synthetic returns n in-memory events of one stream, versions 1..n.
func synthetic(n int) []store.Recorded {
	out := make([]store.Recorded, n)
	for i := range out {
		out[i] = store.Recorded{StreamID: "game-1", Version: int64(i + 1), GlobalPosition: int64(i + 1), Type: "test_event"}
	}
	return out
}

// versions returns the Version of each record.
func versions(recs []store.Recorded) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Version
	}
	return out
}

// TestBroadcasterFansOutInOrder feeds a broadcaster from a subscription
// while writers append to several streams: every receiver gets every event,
// in the same feed order, each stream in order.
func TestBroadcasterFansOutInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bc := store.NewBroadcaster(store.BroadcasterConfig{})
	t.Cleanup(bc.Close)
	recs := make([]*sink, 3)
	for i := range recs {
		recs[i] = &sink{}
		_, err := bc.Register(b.ctx, fmt.Sprintf("r%d", i), recs[i].handle)
		require.NoError(t, err)
	}
	require.Equal(t, 3, bc.Receivers())
	sub := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Start: store.FromEnd()}, bc.Handle)
	waitClosed(t, sub.Live(), "live")

	var wg sync.WaitGroup
	for w := range 5 {
		wg.Go(func() {
			for i := range 40 {
				if _, err := b.store.Append(b.ctx, fmt.Sprintf("game-%d", w), store.Any, rawEvent("test_event", w*100+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	first := recs[0].waitLen(t, 200)
	requireExactlyOnceInOrder(t, first)
	for _, r := range recs[1:] {
		require.Equal(t, ns(t, first), ns(t, r.waitLen(t, 200)))
	}
}

// TestBroadcasterSlowReceiverOverflows blocks one receiver: the others get
// every event, each Handle call waits at most OverflowWait, and the slow
// receiver is disconnected with ErrBroadcastOverflow.
func TestBroadcasterSlowReceiverOverflows(t *testing.T) {
	t.Parallel()
	// A fast receiver is disconnected too when its goroutine does not get
	// to run for OverflowWait while its queue is full, as on a loaded
	// machine running other tests beside this one: the wait is the time no
	// fast receiver ever lags that long, not a few scheduler slices.
	const wait = 500 * time.Millisecond
	bc := store.NewBroadcaster(store.BroadcasterConfig{QueueSize: 4, OverflowWait: wait})
	t.Cleanup(bc.Close)
	ctx := t.Context()
	release := make(chan struct{})
	slow, err := bc.Register(ctx, "slow", func(ctx context.Context, _ store.Recorded) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	require.NoError(t, err)
	var fast1, fast2 sink
	_, err = bc.Register(ctx, "fast-1", fast1.handle)
	require.NoError(t, err)
	_, err = bc.Register(ctx, "fast-2", fast2.handle)
	require.NoError(t, err)

	events := synthetic(50)
	start := time.Now()
	for _, ev := range events {
		require.NoError(t, bc.Handle(ctx, ev))
	}
	require.Less(t, time.Since(start), 10*wait, "one slow receiver costs at most one OverflowWait")
	waitClosed(t, slow.Done(), "slow receiver disconnected")
	require.ErrorIs(t, slow.Err(), store.ErrBroadcastOverflow)
	close(release)
	require.Equal(t, versions(events), versions(fast1.waitLen(t, 50)))
	require.Equal(t, versions(events), versions(fast2.waitLen(t, 50)))
	require.Equal(t, 2, bc.Receivers())
}

// TestBroadcasterReceiverErrors disconnects a receiver whose handler fails
// (or panics), with that error; the others go on.
func TestBroadcasterReceiverErrors(t *testing.T) {
	t.Parallel()
	bc := store.NewBroadcaster(store.BroadcasterConfig{})
	t.Cleanup(bc.Close)
	ctx := t.Context()
	boom := errors.New("discord is down")
	failing, err := bc.Register(ctx, "failing", func(_ context.Context, ev store.Recorded) error {
		if ev.Version == 3 {
			return boom
		}
		return nil
	})
	require.NoError(t, err)
	panicking, err := bc.Register(ctx, "panicking", func(context.Context, store.Recorded) error { panic("bug") })
	require.NoError(t, err)
	var ok sink
	_, err = bc.Register(ctx, "ok", ok.handle)
	require.NoError(t, err)
	for _, ev := range synthetic(10) {
		require.NoError(t, bc.Handle(ctx, ev))
	}
	waitClosed(t, failing.Done(), "failing receiver")
	require.ErrorIs(t, failing.Err(), boom)
	waitClosed(t, panicking.Done(), "panicking receiver")
	require.ErrorContains(t, panicking.Err(), "panicked: bug")
	require.Len(t, ok.waitLen(t, 10), 10)
}

// TestBroadcasterLifecycle covers Unregister, a receiver's context and
// Close.
func TestBroadcasterLifecycle(t *testing.T) {
	t.Parallel()
	bc := store.NewBroadcaster(store.BroadcasterConfig{})
	noop := func(context.Context, store.Recorded) error { return nil }
	gone, err := bc.Register(t.Context(), "gone", noop)
	require.NoError(t, err)
	gone.Unregister()
	require.NoError(t, gone.Err())

	ctx, cancel := context.WithCancel(t.Context())
	scoped, err := bc.Register(ctx, "scoped", noop)
	require.NoError(t, err)
	cancel()
	waitClosed(t, scoped.Done(), "scoped receiver")
	require.ErrorIs(t, scoped.Err(), context.Canceled)

	last, err := bc.Register(t.Context(), "last", noop)
	require.NoError(t, err)
	require.NoError(t, last.Err(), "running")
	_, err = bc.Register(t.Context(), "nil", nil)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	bc.Close()
	require.ErrorIs(t, last.Err(), store.ErrBroadcasterClosed)
	require.ErrorIs(t, bc.Handle(t.Context(), synthetic(1)[0]), store.ErrBroadcasterClosed)
	_, err = bc.Register(t.Context(), "late", noop)
	require.ErrorIs(t, err, store.ErrBroadcasterClosed)
	require.Zero(t, bc.Receivers())
}
