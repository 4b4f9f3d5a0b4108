package store

import (
	"context"
)

// rowPage is one page of rows read by Stream or Feed (or ReadFeed): the
// rows, where the next page starts (a stream version or a feed checkpoint)
// and whether reading on may return more.
type rowPage[P any] struct {
	rows eventRows
	next P
	more bool
}

// pageResult is what a read of a rowPage returned.
type pageResult[P any] struct {
	page rowPage[P]
	err  error
}

// iteratePages yields the records of consecutive pages, the first read at
// first, for the Stream and Feed iterators. Outside a transaction (whose
// connection runs one statement at a time) the next page is read while the
// current one is decoded and handed out; at most two pages are in memory,
// and stopping early waits for the page being read ahead. wrap names the
// iteration in its errors. A *DecodeError is yielded with its record and
// iteration goes on; any other error is yielded with a zero Recorded and
// ends it.
func iteratePages[P any](s *Store, ctx context.Context, first P, read func(P) (rowPage[P], error),
	wrap func(error) error, yield func(Recorded, error) bool) {
	fetch := func(at P) pageResult[P] {
		page, err := read(at)
		return pageResult[P]{page: page, err: err}
	}
	readAhead := txValueFrom(ctx) == nil
	var ahead chan pageResult[P]
	defer func() {
		if ahead != nil {
			// Never leave the read-ahead running, nor the decoding of its
			// page: the rows go back to their pool.
			if res := <-ahead; res.err == nil {
				res.page.rows.release()
			}
		}
	}()
	res := fetch(first)
	var recs []Recorded // the page being handed out; its array is reused
	for {
		if res.err != nil {
			yield(Recorded{}, wrap(res.err))
			return
		}
		page := res.page
		if page.more && readAhead {
			ahead = make(chan pageResult[P], 1)
			go func(ch chan<- pageResult[P]) { ch <- fetch(page.next) }(ahead)
		}
		var err error
		recs, err = s.decodeRowsInto(recs, &page.rows)
		for _, r := range recs {
			var recErr error
			if r.Event == nil {
				recErr = wrap(&DecodeError{Record: r, Err: decodeCause(err, r)})
			}
			if !yield(r, recErr) {
				return
			}
		}
		if !page.more {
			return
		}
		if ahead != nil {
			res = <-ahead
			ahead = nil
		} else {
			res = fetch(page.next)
		}
	}
}
