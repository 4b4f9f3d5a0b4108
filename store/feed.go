package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gamebot/eventstore/db"
)

// Checkpoint is a position in the global feed: the (transaction id, global
// position) of the last event a reader has seen. The zero Checkpoint is the
// start of the feed.
type Checkpoint struct {
	// TransactionID is the writing transaction of the last event seen.
	TransactionID uint64
	// Position is the global position of the last event seen.
	Position int64
}

// String formats c as "transaction_id/position", the form ParseCheckpoint reads.
func (c Checkpoint) String() string {
	return strconv.FormatUint(c.TransactionID, 10) + "/" + strconv.FormatInt(c.Position, 10)
}

// Less reports whether c comes before o in feed order.
func (c Checkpoint) Less(o Checkpoint) bool {
	return c.TransactionID < o.TransactionID || (c.TransactionID == o.TransactionID && c.Position < o.Position)
}

// ParseCheckpoint parses "transaction_id/position" (or "0" for the start).
func ParseCheckpoint(s string) (Checkpoint, error) {
	if s == "0" || s == "" {
		return Checkpoint{}, nil
	}
	txs, poss, ok := strings.Cut(s, "/")
	tx, err1 := strconv.ParseUint(txs, 10, 64)
	pos, err2 := strconv.ParseInt(poss, 10, 64)
	if !ok || err1 != nil || err2 != nil || pos < 0 {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint %q (want TRANSACTION_ID/POSITION)", ErrInvalidArgument, s)
	}
	return Checkpoint{TransactionID: tx, Position: pos}, nil
}

// FeedOptions selects a page of the global feed.
type FeedOptions struct {
	// Limit is the largest number of events to return, 1..MaxReadBatch.
	Limit int
}

// FeedPage is one page of the global feed.
type FeedPage struct {
	// Events are in feed order.
	Events []Recorded
	// Next is the checkpoint to continue from (unchanged when Events is empty).
	Next Checkpoint
}

// ReadFeed returns events of every stream after checkpoint after, in
// commit-safe order: ordered by (transaction id, global position), and only
// from transactions older than every transaction still running. An event
// whose transaction commits late therefore appears after events a reader has
// already passed, never before them, and is never skipped. The price: a
// long-running transaction holds the feed back until it ends (see FeedLag).
//
// Errors: ErrInvalidBatchSize, ErrConnection, *DecodeError (the page is then
// still complete).
func (s *Store) ReadFeed(ctx context.Context, after Checkpoint, opts FeedOptions) (FeedPage, error) {
	if opts.Limit < 1 || opts.Limit > s.cfg.MaxReadBatch {
		return FeedPage{Next: after}, opError("read feed", "", fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidBatchSize, opts.Limit, s.cfg.MaxReadBatch))
	}
	q, _ := s.queries(ctx)
	rows, err := q.EventsReadFeed(ctx, db.EventsReadFeedParams{
		AfterTransactionID: after.TransactionID,
		AfterPosition:      after.Position,
		MaxCount:           int32(opts.Limit),
	})
	if err != nil {
		return FeedPage{Next: after}, opError("read feed", "", mapError(err))
	}
	recs, err := s.decodeRows(rows)
	page := FeedPage{Events: recs, Next: after}
	if len(recs) > 0 {
		page.Next = recs[len(recs)-1].Checkpoint()
	}
	return page, opError("read feed", "", err)
}
