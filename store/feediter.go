package store

import (
	"context"
	"iter"
)

// Feed iterates over the global feed after checkpoint after, in the order
// and with the options of ReadFeed (opts.Limit events per query, filters
// and partitions applied in SQL), until it reaches the feed's safe horizon.
// Outside a transaction the next page is read while the current one is
// decoded and handed out, so a consumer catching up works while the next
// page loads; at most two pages are in memory.
//
// A *DecodeError is yielded with its record and iteration goes on; any
// other error is yielded with a zero Recorded and ends the iteration. To
// resume later, start after the last record's Checkpoint() (with a filter,
// the non-matching events after it are examined again); ReadFeed's
// FeedPage.Next tells a filtered reader how far it got even when nothing
// matched.
func (s *Store) Feed(ctx context.Context, after Checkpoint, opts FeedOptions) iter.Seq2[Recorded, error] {
	return func(yield func(Recorded, error) bool) {
		read := func(after Checkpoint) (rowPage[Checkpoint], error) {
			var page rowPage[Checkpoint]
			err := s.do(ctx, opSpec{op: OpReadFeed, replayable: true}, func(ctx context.Context) (int, error) {
				var err error
				page, err = s.readFeedRows(ctx, after, opts)
				return len(page.rows.list), err
			})
			return page, err
		}
		iteratePages(s, ctx, after, read, func(err error) error { return opError("feed", "", err) }, yield)
	}
}
