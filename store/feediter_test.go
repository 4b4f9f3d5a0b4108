package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// feedAll reads the whole feed after cp with ReadFeed, the reference the
// iterator is compared with.
func feedAll(t *testing.T, b *bundle, cp store.Checkpoint, opts store.FeedOptions) []store.Recorded {
	t.Helper()
	var out []store.Recorded
	for {
		page, err := b.store.ReadFeed(b.ctx, cp, opts)
		var de *store.DecodeError
		if err != nil {
			require.ErrorAs(t, err, &de)
		}
		out = append(out, page.Events...)
		cp = page.Next
		if !page.More {
			return out
		}
	}
}

// positions returns the global positions of recs.
func positions(recs []store.Recorded) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.GlobalPosition
	}
	return out
}

// TestFeedIterator: Feed yields what ReadFeed's pages hold, in the same
// order, from the start or a checkpoint, with filters applied, and goes on
// past an undecodable event.
func TestFeedIterator(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	const n = 600
	for i := 0; i < n; i += 50 {
		evs := make([]store.Event, 50)
		for j := range evs {
			evs[j] = store.Event{Data: scoredV1{Score: i + j}}
		}
		if i == 250 {
			evs[7] = store.Event{Data: serde.Raw{Type: "scored", Version: 1, Data: json.RawMessage(`{"score":"x"}`)}}
		}
		_, err := b.store.Append(b.ctx, fmt.Sprintf("s-%d", (i/50)%3), store.Any, evs...)
		require.NoError(t, err)
	}
	// The feed's horizon is cluster-wide: wait until other tests'
	// transactions let all of it through.
	deadline := timeAfter(deliveryLimit)
	for len(feedAll(t, b, store.Checkpoint{}, store.FeedOptions{Limit: 1000})) < n {
		require.False(t, deadline(), "the feed is incomplete")
		sleepShort()
	}

	collect := func(after store.Checkpoint, opts store.FeedOptions) (recs []store.Recorded, bad []int64) {
		for r, err := range b.store.Feed(b.ctx, after, opts) {
			if err != nil {
				var de *store.DecodeError
				require.ErrorAs(t, err, &de, "only decode errors expected")
				require.Equal(t, r.GlobalPosition, de.Record.GlobalPosition)
				bad = append(bad, r.GlobalPosition)
			}
			recs = append(recs, r)
		}
		return recs, bad
	}

	all, bad := collect(store.Checkpoint{}, store.FeedOptions{Limit: 100})
	require.Len(t, all, n)
	require.Len(t, bad, 1, "one undecodable event, reported and passed")
	require.Equal(t, positions(feedAll(t, b, store.Checkpoint{}, store.FeedOptions{Limit: 100})), positions(all))
	for i := 1; i < len(all); i++ {
		require.True(t, all[i-1].Checkpoint().Less(all[i].Checkpoint()))
	}
	for _, r := range all {
		if r.GlobalPosition != bad[0] {
			require.IsType(t, scoredV3{}, r.Event, "decoded and upcast")
		}
	}

	rest, _ := collect(all[299].Checkpoint(), store.FeedOptions{Limit: 7})
	require.Equal(t, positions(all[300:]), positions(rest))

	opts := store.FeedOptions{Limit: 30, Filter: store.FeedFilter{StreamPrefix: "s-1"}}
	filtered, _ := collect(store.Checkpoint{}, opts)
	require.Len(t, filtered, n/3)
	for _, r := range filtered {
		require.Equal(t, "s-1", r.StreamID)
	}
	require.Equal(t, positions(feedAll(t, b, store.Checkpoint{}, opts)), positions(filtered))

	var errs []error
	for _, err := range b.store.Feed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 0}) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], store.ErrInvalidBatchSize)
}

// TestFeedReadAhead: stopping a Feed iteration early waits for the page
// being read ahead and leaves no goroutine behind; inside a transaction
// the pages are read in turn, so the caller can use the transaction in the
// loop. It runs alone (not parallel) so that other tests' goroutines do not
// count.
func TestFeedReadAhead(t *testing.T) {
	b := setup(t)
	_, err := b.store.Append(b.ctx, "long", store.NoStream, rawEvents(1000, 1)...)
	require.NoError(t, err)
	waitFeed(t, b, 1000)
	// pgx's background reader belongs to a pooled connection, not to the
	// iterator (see pgxReader).
	ignore := goleak.IgnoreCurrent()

	for _, stop := range []int{1, 150, 300, 301, 999} {
		n := 0
		for _, err := range b.store.Feed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 300}) {
			require.NoError(t, err)
			n++
			if n == stop {
				break
			}
		}
		require.Equal(t, stop, n)
		goleak.VerifyNone(t, ignore, pgxReader)
	}

	err = b.store.InTx(b.ctx, func(ctx context.Context) error {
		n := 0
		for _, err := range b.store.Feed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 300}) {
			if err != nil {
				return err
			}
			n++
			if n%100 == 0 { // the caller uses the transaction meanwhile
				if _, err := b.store.StreamInfo(ctx, "long"); err != nil {
					return err
				}
			}
		}
		require.Equal(t, 1000, n)
		return nil
	})
	require.NoError(t, err)
	goleak.VerifyNone(t, ignore, pgxReader)
}
