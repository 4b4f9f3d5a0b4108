package store

import (
	"context"
	"iter"
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
		read := func(from int64) (rowPage[int64], error) {
			rows, err := s.readRows(ctx, streamID, from, batchSize, true)
			page := rowPage[int64]{rows: rows, more: err == nil && len(rows.list) == batchSize}
			if page.more {
				page.next = rows.list[len(rows.list)-1].StreamVersion + 1
			}
			return page, err
		}
		iteratePages(s, ctx, from, read, func(err error) error { return opError("stream", streamID, err) }, yield)
	}
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
