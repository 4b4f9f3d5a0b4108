package store

import (
	"context"
	"iter"

	"github.com/gamebot/eventstore/db"
)

// Stream iterates over streamID from version from (0 or 1: the first event)
// to its end, fetching batchSize events per query, so a long stream never
// sits in memory at once (at most two pages: outside a transaction, the
// next page is read while the caller works through the current one). The
// iteration stops at the first error, which is yielded with a zero
// Recorded; a *DecodeError is yielded with its record and iteration goes
// on, so the caller decides whether to stop.
func (s *Store) Stream(ctx context.Context, streamID string, from int64, batchSize int) iter.Seq2[Recorded, error] {
	return func(yield func(Recorded, error) bool) {
		if from == 0 {
			from = 1
		}
		read := func(from int64) streamPage {
			rows, err := s.readRows(ctx, streamID, from, batchSize, true)
			return streamPage{rows: rows, err: err}
		}
		// A transaction's connection runs one statement at a time, so
		// inside one the pages are read in turn.
		readAhead := txValueFrom(ctx) == nil
		var ahead chan streamPage
		defer func() {
			if ahead != nil {
				<-ahead // never leave the read-ahead running
			}
		}()
		page := read(from)
		for {
			if page.err != nil {
				yield(Recorded{}, opError("stream", streamID, page.err))
				return
			}
			rows := page.rows
			full := len(rows) == batchSize
			if full && readAhead {
				// The next page is read while this one is decoded and
				// handed out.
				next := rows[len(rows)-1].StreamVersion + 1
				ahead = make(chan streamPage, 1)
				go func(ch chan<- streamPage) { ch <- read(next) }(ahead)
			}
			recs, err := s.decodeRows(rows)
			for _, r := range recs {
				var recErr error
				if r.Event == nil {
					recErr = opError("stream", streamID, &DecodeError{Record: r, Err: decodeCause(err, r)})
				}
				if !yield(r, recErr) {
					return
				}
			}
			if !full {
				return
			}
			if ahead != nil {
				page = <-ahead
				ahead = nil
			} else {
				page = read(recs[len(recs)-1].Version + 1)
			}
		}
	}
}

// streamPage is one page of a Stream: what readRows returned.
type streamPage struct {
	rows []db.EventstoreEvent
	err  error
}

// decodeCause finds the cause recorded for r in a joined decode error.
func decodeCause(err error, r Recorded) error {
	type multi interface{ Unwrap() []error }
	var errs []error
	if m, ok := err.(multi); ok {
		errs = m.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	for _, e := range errs {
		if de, ok := e.(*DecodeError); ok && de.Record.GlobalPosition == r.GlobalPosition {
			return de.Err
		}
	}
	return ErrDeserializationFailed
}
