package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestListenerSkipsOwnStore: the listener of a Store ignores the
// notifications that Store sent (its subscriptions were woken in process)
// and wakes on any other. LISTEN needs no schema, only a database of the
// test's own (notifications stay within a database): emptyTestDB.
func TestListenerSkipsOwnStore(t *testing.T) {
	t.Parallel()
	pool := emptyTestDB(t)
	s := New(pool, Config{DisableNotify: true})
	t.Cleanup(s.Close)
	// Count wake-ups: once the listener has skipped its own Store's
	// notification, the next wake-up must be the second one.
	var wakes atomic.Int64
	woke := make(chan int64, 16)
	ready := make(chan struct{})
	l := newListener(s, ready, func() { woke <- wakes.Add(1) })
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	next := func() int64 {
		select {
		case n := <-woke:
			return n
		case <-time.After(20 * time.Second):
			t.Fatal("no wake-up")
			return 0
		}
	}
	require.EqualValues(t, 1, next(), "the wake-up after connecting")
	select {
	case <-ready:
	default:
		t.Fatal("woken before it listened")
	}

	notify := func(payload string) {
		_, err := pool.Exec(t.Context(), "SELECT pg_notify($1, $2)", NotifyChannel, payload)
		require.NoError(t, err)
	}
	notify(s.instance)
	require.Eventually(t, func() bool { return l.skipped.Load() == 1 }, 20*time.Second, time.Millisecond,
		"its own Store's notification was not skipped")
	notify("") // psql's NOTIFY
	require.EqualValues(t, 2, next(), "woken by its own Store's notification")
	notify(New(pool, Config{DisableNotify: true}).instance)
	require.EqualValues(t, 3, next(), "not woken by another Store's notification")
}
