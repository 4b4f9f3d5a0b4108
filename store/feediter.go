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
		read := func(after Checkpoint) feedResult {
			var fr feedRows
			err := s.do(ctx, opSpec{op: OpReadFeed, replayable: true}, func(ctx context.Context) (int, error) {
				var err error
				fr, err = s.readFeedRows(ctx, after, opts)
				return len(fr.rows), err
			})
			return feedResult{feedRows: fr, err: err}
		}
		// A transaction's connection runs one statement at a time.
		readAhead := txValueFrom(ctx) == nil
		var ahead chan feedResult
		defer func() {
			if ahead != nil {
				<-ahead // never leave the read-ahead running
			}
		}()
		page := read(after)
		for {
			if page.err != nil {
				yield(Recorded{}, opError("feed", "", page.err))
				return
			}
			if page.more && readAhead {
				ahead = make(chan feedResult, 1)
				go func(ch chan<- feedResult, next Checkpoint) { ch <- read(next) }(ahead, page.next)
			}
			recs, err := s.decodeRows(page.rows)
			for _, r := range recs {
				var recErr error
				if r.Event == nil {
					recErr = opError("feed", "", &DecodeError{Record: r, Err: decodeCause(err, r)})
				}
				if !yield(r, recErr) {
					return
				}
			}
			if !page.more {
				return
			}
			if ahead != nil {
				page = <-ahead
				ahead = nil
			} else {
				page = read(page.next)
			}
		}
	}
}

// feedResult is one page of a Feed iteration: what readFeedRows returned.
type feedResult struct {
	feedRows
	err error
}
