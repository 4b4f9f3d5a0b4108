package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIdleWaitCoalescesOnlyABacklog: a live subscription that finds more
// commits waiting after handling a batch of several events lets them
// gather for CoalesceWindow before reading again; after a batch of one
// (commits coming no faster than it reads) it reads the next at once.
func TestIdleWaitCoalescesOnlyABacklog(t *testing.T) {
	t.Parallel()
	wake := make(chan struct{}, 1)
	// An hour's window and poll: a wait that returns did not sleep either.
	iw := idleWait{poll: time.Hour, coalesce: time.Hour, wake: wake}
	waitFor := func(ctx context.Context, batch int) <-chan error {
		done := make(chan error, 1)
		go func() { done <- iw.wait(ctx, true, batch) }()
		return done
	}

	// A batch of one: the commit that arrived meanwhile is read at once.
	wake <- struct{}{}
	select {
	case err := <-waitFor(t.Context(), 1):
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("after a batch of one, the subscription waited out the coalesce window")
	}
	require.True(t, iw.woken, "woken by the commit")
	require.Empty(t, wake)

	// A batch of several: the wake-up is taken, then the window is waited
	// out (ended here by the context); without coalescing the wake-up
	// would end the wait at once, without an error.
	wake <- struct{}{}
	ctx, cancel := context.WithCancel(t.Context())
	done := waitFor(ctx, 2)
	require.Eventually(t, func() bool { return len(wake) == 0 }, time.Minute, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled, "the window was not waited out")
	require.True(t, iw.woken, "a look again follows the window")
}
