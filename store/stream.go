package store

import (
	"context"
	"iter"
)

// Stream iterates over streamID from version from (0 or 1: the first event)
// to its end, fetching batchSize events per query, so a long stream never
// sits in memory at once. The iteration stops at the first error, which is
// yielded with a zero Recorded; a *DecodeError is yielded with its record
// and iteration goes on, so the caller decides whether to stop.
func (s *Store) Stream(ctx context.Context, streamID string, from int64, batchSize int) iter.Seq2[Recorded, error] {
	return func(yield func(Recorded, error) bool) {
		if from == 0 {
			from = 1
		}
		for {
			recs, err := s.readPage(ctx, streamID, from, batchSize, true)
			if err != nil && recs == nil {
				yield(Recorded{}, opError("stream", streamID, err))
				return
			}
			for _, r := range recs {
				var recErr error
				if r.Event == nil {
					recErr = opError("stream", streamID, &DecodeError{Record: r, Err: decodeCause(err, r)})
				}
				if !yield(r, recErr) {
					return
				}
			}
			if len(recs) < batchSize {
				return
			}
			from = recs[len(recs)-1].Version + 1
		}
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
