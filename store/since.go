package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/db"
)

// startTime is the SubscriptionStart kind of FromTime. Its time is kept in
// the version field, in Unix nanoseconds (the feed start has no version).
const startTime startKind = 100

// OpFeedCheckpointAt names FeedCheckpointAt in Observation.Op.
const OpFeedCheckpointAt = "feed_checkpoint_at"

// FromTime starts a global feed subscription with the first event, in feed
// order, created at or after t: every event whose created_at is t or later
// is delivered (see FeedCheckpointAt for the exact rule). A stored
// checkpoint of a persistent subscription still takes precedence. Stream
// subscriptions start at a version (AfterVersion) instead.
func FromTime(t time.Time) SubscriptionStart {
	return SubscriptionStart{kind: startTime, version: t.UnixNano()}
}

// FeedCheckpointAt returns the checkpoint to read the global feed after so
// as to see every event created at or after t. The feed's order is
// (transaction id, global position), while an event's created_at is the
// start time of the transaction that wrote it, so the two orders differ
// for transactions that overlap t. The checkpoint is therefore the one just
// before the first event in feed order whose created_at is t or later:
//
//   - every event created at or after t comes after it, held-back and
//     still-running transactions included (when the first such event is
//     not deliverable yet, the checkpoint is FeedEnd, which is earlier);
//   - events after it created before t (a transaction that began before t
//     but was labelled later in the feed) are read too: at most the
//     transactions that were running at t.
//
// With no event created at or after t it is FeedEnd: only events committed
// from now on follow. A guild in the context restricts the lookup to that
// guild's events, as its feed is. The lookup is one query on the
// events_created_idx index (00008_feed_since.sql): it reads the index
// entries of the events created at or after t (or walks the feed index up
// to the first of them, whichever the planner finds cheaper) and never the
// table.
//
// Errors: ErrConnection.
func (s *Store) FeedCheckpointAt(ctx context.Context, t time.Time) (Checkpoint, error) {
	cp, err := s.feedCheckpointAt(ctx, t)
	return cp, opError("feed checkpoint at", t.UTC().Format(time.RFC3339Nano), err)
}

func (s *Store) feedCheckpointAt(ctx context.Context, t time.Time) (Checkpoint, error) {
	if t.IsZero() {
		return Checkpoint{}, nil
	}
	// FeedEnd first: an event committed between the two queries is after
	// the end, and found by the second when it is the first created at or
	// after t.
	end, err := s.FeedEnd(ctx)
	if err != nil {
		return Checkpoint{}, unwrapOp(err)
	}
	var rows []*db.FeedFirstCreatedAtRow
	err = s.do(ctx, opSpec{op: OpFeedCheckpointAt, replayable: true}, func(ctx context.Context) (int, error) {
		q := s.readQueries(ctx, scopeFeed)
		var err error
		rows, err = q.FeedFirstCreatedAt(ctx, db.FeedFirstCreatedAtParams{CreatedAt: t, GuildID: s.scopeGuild(ctx)})
		return 0, mapError(err)
	})
	if err != nil {
		return Checkpoint{}, err
	}
	if len(rows) == 0 {
		return end, nil
	}
	before := Checkpoint{TransactionID: rows[0].TransactionID, Position: rows[0].GlobalPosition - 1}
	if end.Less(before) {
		return end, nil
	}
	return before, nil
}

// resolveTimeStart resolves FromTime for a subscription to streamID.
func (s *Store) resolveTimeStart(ctx context.Context, streamID string, st SubscriptionStart) (subPosition, error) {
	if streamID != "" {
		return subPosition{}, fmt.Errorf("%w: FromTime starts feed subscriptions; a stream subscription starts at a version (AfterVersion)", ErrInvalidArgument)
	}
	cp, err := s.feedCheckpointAt(ctx, time.Unix(0, st.version))
	return subPosition{cp: cp}, err
}
