package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// dbNow returns the database clock, which stamps created_at.
func dbNow(t *testing.T, b *bundle) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, b.pool.QueryRow(b.admin, `SELECT clock_timestamp()`).Scan(&now))
	return now
}

func TestFeedCheckpointAt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := dbNow(t, b)
	_, err := b.store.Append(b.ctx, "a", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	mid := dbNow(t, b)
	_, err = b.store.Append(b.ctx, "b", store.NoStream, rawEvents(2, 4)...)
	require.NoError(t, err)
	_, err = b.store.Append(store.WithGuild(t.Context(), "guild-2"), "c", store.NoStream, rawEvents(1, 6)...)
	require.NoError(t, err)
	events := waitFeedOp(t, b, 6)
	end := dbNow(t, b)

	after := func(ctx context.Context, at time.Time) []int {
		t.Helper()
		cp, err := b.store.FeedCheckpointAt(ctx, at)
		require.NoError(t, err)
		page, err := b.store.ReadFeed(ctx, cp, store.FeedOptions{Limit: 100})
		require.NoError(t, err)
		return ns(t, page.Events)
	}
	require.Equal(t, []int{1, 2, 3, 4, 5, 6}, after(b.admin, start))
	require.Equal(t, []int{1, 2, 3, 4, 5, 6}, after(b.admin, time.Time{}), "the zero time is the origin")
	require.Equal(t, []int{4, 5, 6}, after(b.admin, mid))
	require.Equal(t, []int{4, 5}, after(b.ctx, mid), "a guild's feed: its events only")
	require.Equal(t, []int{6}, after(store.WithGuild(t.Context(), "guild-2"), start))
	cp, err := b.store.FeedCheckpointAt(b.admin, end)
	require.NoError(t, err)
	require.Equal(t, events[5].Checkpoint(), cp, "nothing created since: the feed's end")

	// A subscription from a time.
	var got opSink
	opSubscribe(t, b.store, b.admin, store.SubscriptionOptions{Name: "since", Start: store.FromTime(mid)}, got.handler(t))
	require.Equal(t, []int{4, 5, 6}, got.waitFor(t, 3))
	_, err = b.store.Append(b.ctx, "d", store.NoStream, rawEvents(1, 7)...)
	require.NoError(t, err)
	require.Equal(t, []int{4, 5, 6, 7}, got.waitFor(t, 4))

	// From a time after every event: only what comes next.
	var later opSink
	opSubscribe(t, b.store, b.admin, store.SubscriptionOptions{Start: store.FromTime(dbNow(t, b))}, later.handler(t))
	_, err = b.store.Append(b.ctx, "e", store.NoStream, rawEvents(1, 8)...)
	require.NoError(t, err)
	require.Equal(t, []int{8}, later.waitFor(t, 1))

	// Stream subscriptions start at a version.
	_, err = b.store.Subscribe(b.ctx, store.SubscriptionOptions{StreamID: "a", Start: store.FromTime(mid)},
		func(context.Context, store.Recorded) error { return nil })
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	// Reset a persistent subscription to a time.
	infos, err := b.store.ResetSubscription(b.admin, "since", store.FromTime(mid))
	require.ErrorIs(t, err, store.ErrSubscriptionActive, "its consumer still runs")
	require.Nil(t, infos)
}

// TestFeedCheckpointAtOverlap: a transaction that began before t but was
// labelled after one that began after t is read too (created_at is the
// transaction's start; the feed's order is the labels').
func TestFeedCheckpointAtOverlap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "old", store.NoStream, rawEvents(1, 1)...)
	require.NoError(t, err)
	began := make(chan struct{})
	proceed := make(chan struct{})
	done := make(chan error, 1)
	var txStart time.Time
	go func() {
		done <- b.store.InTx(b.ctx, func(ctx context.Context) error {
			// Start the transaction (now() is fixed here) without an xid.
			if _, err := b.store.StreamInfo(ctx, "old"); err != nil {
				return err
			}
			tx, _ := store.TxFromContext(ctx)
			if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&txStart); err != nil {
				return err
			}
			close(began)
			<-proceed
			_, err := b.store.Append(ctx, "slow", store.NoStream, rawEvents(1, 3)...)
			return err
		})
	}()
	<-began
	// t is taken once the server's clock has passed the transaction's start.
	require.Eventually(t, func() bool { return dbNow(t, b).After(txStart) }, 10*time.Second, time.Millisecond)
	at := dbNow(t, b)
	_, err = b.store.Append(b.ctx, "fast", store.NoStream, rawEvents(1, 2)...)
	require.NoError(t, err)
	close(proceed)
	require.NoError(t, <-done)
	events := waitFeedOp(t, b, 3)
	require.Equal(t, []int{1, 2, 3}, ns(t, events), "feed order: the slow transaction got its id last")
	require.True(t, events[2].CreatedAt.Before(at), "created before t: the transaction began before it")

	cp, err := b.store.FeedCheckpointAt(b.admin, at)
	require.NoError(t, err)
	page, err := b.store.ReadFeed(b.admin, cp, store.FeedOptions{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, ns(t, page.Events), "from the first event created at or after t, in feed order")
}

// TestFeedCheckpointAtUsesIndex shows the lookup's plan: an index scan of
// events_created_idx, not a scan of the events table.
func TestFeedCheckpointAtUsesIndex(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 40 {
		_, err := b.store.Append(b.ctx, "s-"+string(rune('a'+i%26))+randomSuffix(), store.NoStream, rawEvents(100, 1)...)
		require.NoError(t, err)
	}
	at := dbNow(t, b)
	_, err := b.store.Append(b.ctx, "late", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.admin, `ANALYZE eventstore.events`)
	require.NoError(t, err)
	rows, err := b.pool.Query(b.admin, `EXPLAIN SELECT e.transaction_id, e.global_position
  FROM eventstore.events e
 WHERE e.created_at >= $1::timestamptz AND ($2::text = '' OR e.guild_id = $2::text)
 ORDER BY e.transaction_id, e.global_position LIMIT 1`, at, "")
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	t.Log("\n" + text)
	require.Contains(t, text, "events_created_idx")
	require.NotContains(t, text, "Seq Scan")
}
