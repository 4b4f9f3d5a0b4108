package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// flakyHandler fails every event whose "n" is in fail while broken is set,
// and records the "n" of every event it handled successfully.
type flakyHandler struct {
	broken atomic.Bool
	fail   map[int]bool
	mu     sync.Mutex
	ok     []int
	calls  atomic.Int64
}

func (h *flakyHandler) handle(t *testing.T) store.HandlerFunc {
	return func(_ context.Context, ev store.Recorded) error {
		h.calls.Add(1)
		n := eventN(t, ev)
		if h.broken.Load() && h.fail[n] {
			return errors.New("projection table missing")
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.ok = append(h.ok, n)
		return nil
	}
}

func (h *flakyHandler) handled() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.ok...)
}

func waitDeadLetters(t *testing.T, b *bundle, ctx context.Context, name string, cond func([]store.DeadLetter) bool) []store.DeadLetter {
	t.Helper()
	var dls []store.DeadLetter
	require.Eventually(t, func() bool {
		var err error
		dls, err = b.store.DeadLetters(ctx, name)
		return err == nil && cond(dls)
	}, 20*time.Second, 10*time.Millisecond, "dead letters: %+v", dls)
	return dls
}

// TestDeadLettersStoredAndRetried: a persistent subscription gives up on
// an event, stores it as a dead letter and goes on; a retry while the bug
// is still there fails again (recorded); after the fix a retry redelivers
// it to the running subscription's handler and the dead letter goes away.
func TestDeadLettersStoredAndRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(4, 1)...)
	require.NoError(t, err)
	events := waitFeedOp(t, b, 4)

	h := &flakyHandler{fail: map[int]bool{2: true, 3: true}}
	h.broken.Store(true)
	var callbacks atomic.Int64
	opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{
		Name: "proj", Retry: store.RetryPolicy{MaxAttempts: 2},
		DeadLetterFunc: func(ctx context.Context, ev store.Recorded, cause error) error {
			callbacks.Add(1) // the callback still runs
			return store.ContinueAfterDeadLetter(ctx, ev, cause)
		},
	}, h.handle(t))
	dls := waitDeadLetters(t, b, b.ctx, "proj", func(d []store.DeadLetter) bool { return len(d) == 2 })
	require.Eventually(t, func() bool { return len(h.handled()) == 2 }, deliveryLimit, 5*time.Millisecond)
	require.Equal(t, []int{1, 4}, h.handled(), "the subscription went on past its dead letters")
	require.EqualValues(t, 2, callbacks.Load())
	d := dls[0]
	require.Equal(t, "proj", d.Subscription)
	require.Equal(t, 0, d.Member)
	require.Equal(t, testGuild, d.GuildID)
	require.Equal(t, "game-1", d.StreamID)
	require.Equal(t, int64(2), d.Version)
	require.Equal(t, events[1].ID, d.EventID)
	require.Equal(t, events[1].Checkpoint(), d.Checkpoint)
	require.Equal(t, events[1].GlobalPosition, d.GlobalPosition)
	require.Equal(t, "test_event", d.EventType)
	require.Equal(t, 2, d.Attempts)
	require.Equal(t, 1, d.Failures)
	require.Contains(t, d.Error, "projection table missing")
	require.Nil(t, d.RetryRequestedAt)
	require.WithinDuration(t, time.Now(), d.FirstFailedAt, time.Minute)

	// Visible in SQL (psql) to the owner.
	var n int
	require.NoError(t, b.pool.QueryRow(b.admin, `SELECT count(*) FROM eventstore.dead_letters WHERE subscription = 'proj'`).Scan(&n))
	require.Equal(t, 2, n)

	// Guild rules: another guild finds neither the subscription nor the
	// dead letter.
	other := store.WithGuild(t.Context(), "guild-2")
	_, err = b.store.DeadLetters(other, "proj")
	require.ErrorIs(t, err, store.ErrSubscriptionNotFound)
	_, err = b.store.RetryDeadLetter(other, d.ID)
	require.ErrorIs(t, err, store.ErrDeadLetterNotFound)
	_, err = b.store.DropDeadLetter(other, d.ID)
	require.ErrorIs(t, err, store.ErrDeadLetterNotFound)
	_, err = b.store.RetryDeadLetter(b.ctx, 987654)
	require.ErrorIs(t, err, store.ErrDeadLetterNotFound)

	// Retry while still broken: redelivered once, failed, recorded.
	calls := h.calls.Load()
	got, err := b.store.RetryDeadLetter(b.ctx, d.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RetryRequestedAt)
	dls = waitDeadLetters(t, b, b.ctx, "proj", func(d []store.DeadLetter) bool { return d[0].Failures == 2 })
	require.Nil(t, dls[0].RetryRequestedAt)
	require.Equal(t, 3, dls[0].Attempts)
	require.Equal(t, calls+1, h.calls.Load(), "one handler call per retry")

	// Fixed: the retry redelivers event 2, and its dead letter goes.
	h.broken.Store(false)
	_, err = b.store.RetryDeadLetter(b.ctx, d.ID)
	require.NoError(t, err)
	dls = waitDeadLetters(t, b, b.ctx, "proj", func(d []store.DeadLetter) bool { return len(d) == 1 })
	require.Equal(t, int64(3), dls[0].Version)
	require.Equal(t, []int{1, 4, 2}, h.handled())

	// Drop forgets the other one (the event stays in the store).
	dropped, err := b.store.DropDeadLetter(b.ctx, dls[0].ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), dropped.Version)
	_, err = b.store.DropDeadLetter(b.ctx, dls[0].ID)
	require.ErrorIs(t, err, store.ErrDeadLetterNotFound)
	require.Empty(t, waitDeadLetters(t, b, b.ctx, "proj", func(d []store.DeadLetter) bool { return len(d) == 0 }))
}

// TestDeadLetterWithoutCallbackStops: without a DeadLetterFunc the
// subscription still stops with a *HandlerError, and the event is stored
// as a dead letter too; deleting the subscription deletes its dead letters.
func TestDeadLetterWithoutCallbackStops(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(2, 1)...)
	require.NoError(t, err)
	waitFeedOp(t, b, 2)
	h := &flakyHandler{fail: map[int]bool{2: true}}
	h.broken.Store(true)
	sub := opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "strict", StreamID: "game-1", Retry: store.RetryPolicy{MaxAttempts: 1}}, h.handle(t))
	var herr *store.HandlerError
	require.ErrorAs(t, sub.Wait(), &herr)
	dls, err := b.store.DeadLetters(b.ctx, "strict")
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, int64(2), dls[0].Version)
	require.Equal(t, 1, dls[0].Attempts)

	// Restarted, it fails on the same event again: the same dead letter.
	sub = opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "strict", StreamID: "game-1", Retry: store.RetryPolicy{MaxAttempts: 1}}, h.handle(t))
	require.ErrorAs(t, sub.Wait(), &herr)
	dls, err = b.store.DeadLetters(b.ctx, "strict")
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, 2, dls[0].Failures)
	require.Equal(t, 2, dls[0].Attempts)

	require.NoError(t, b.store.DeleteSubscription(b.ctx, "strict"))
	var n int
	require.NoError(t, b.pool.QueryRow(b.admin, `SELECT count(*) FROM eventstore.dead_letters`).Scan(&n))
	require.Zero(t, n, "deleted with the subscription")
}

// TestDeadLetterInMemorySubscription: an in-memory subscription has no
// name to store dead letters under.
func TestDeadLetterInMemorySubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(2, 1)...)
	require.NoError(t, err)
	h := &flakyHandler{fail: map[int]bool{1: true}}
	h.broken.Store(true)
	opSubscribe(t, b.store, b.ctx, store.SubscriptionOptions{StreamID: "game-1", Retry: store.RetryPolicy{MaxAttempts: 1},
		DeadLetterFunc: store.ContinueAfterDeadLetter}, h.handle(t))
	require.Eventually(t, func() bool { return len(h.handled()) == 1 }, deliveryLimit, 5*time.Millisecond)
	var n int
	require.NoError(t, b.pool.QueryRow(b.admin, `SELECT count(*) FROM eventstore.dead_letters`).Scan(&n))
	require.Zero(t, n)
}
