package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// ErrDeadLetterNotFound reports a dead letter id that does not exist (or
// belongs to another guild's subscription) (SQLSTATE ES031).
var ErrDeadLetterNotFound = errors.New("dead letter not found")

const codeDeadLetterNotFound = "ES031"

func init() {
	codeKinds[codeDeadLetterNotFound] = ErrDeadLetterNotFound
}

// Operation names of the dead-letter API, reported in Observation.Op.
const (
	OpDeadLetters      = "dead_letters"
	OpRetryDeadLetter  = "retry_dead_letter"
	OpDropDeadLetter   = "drop_dead_letter"
	OpRecordDeadLetter = "record_dead_letter"
)

// deadLetterRetryBatch is the most retries a consumer redelivers at once.
const deadLetterRetryBatch = 100

// DeadLetter is an event a persistent subscription's handler gave up on,
// stored in eventstore.dead_letters: every attempt failed (or the event
// could not be decoded). A subscription records its dead letters whether
// or not it has a DeadLetterFunc; see docs/FEED.md.
type DeadLetter struct {
	// ID identifies the dead letter (RetryDeadLetter, DropDeadLetter).
	ID int64
	// Subscription and Member name the subscription member that gave up.
	Subscription string
	Member       int
	// GuildID is the subscription's guild ("" for a store-wide one).
	GuildID string
	// The event: its stream, version, id, type and place in the feed.
	StreamID       string
	Version        int64
	EventID        uuid.UUID
	EventType      string
	GlobalPosition int64
	Checkpoint     Checkpoint
	// Error is the handler's last error (or the decode error).
	Error string
	// Attempts counts the handler calls made for the event, over every
	// failure; Failures counts the times it was given up on.
	Attempts int
	Failures int
	// FirstFailedAt and LastFailedAt are in UTC.
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	// RetryRequestedAt is set while a retry waits for the subscription's
	// consumer (RetryDeadLetter).
	RetryRequestedAt *time.Time
}

func deadLetterFromRow(r *db.EventstoreDeadLetter) DeadLetter {
	d := DeadLetter{
		ID: r.ID, Subscription: r.Subscription, Member: int(r.PartitionMember), GuildID: r.GuildID.String,
		StreamID: r.StreamID, Version: r.StreamVersion, EventID: uuid.UUID(r.EventID.Bytes), EventType: r.EventType,
		GlobalPosition: r.GlobalPosition, Checkpoint: Checkpoint{TransactionID: r.TransactionID, Position: r.GlobalPosition},
		Error: r.Error, Attempts: int(r.Attempts), Failures: int(r.Failures),
		FirstFailedAt: r.FirstFailedAt.UTC(), LastFailedAt: r.LastFailedAt.UTC(),
	}
	if r.RetryRequestedAt != nil {
		t := r.RetryRequestedAt.UTC()
		d.RetryRequestedAt = &t
	}
	return d
}

// DeadLetters lists the dead letters of the persistent subscription name
// (every member), oldest first. When the context carries a guild, only that
// guild's subscription is found. Errors: ErrSubscriptionNotFound,
// ErrConnection.
func (s *Store) DeadLetters(ctx context.Context, name string) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.do(ctx, opSpec{op: OpDeadLetters, replayable: true}, func(ctx context.Context) (int, error) {
		if _, err := s.SubscriptionInfo(ctx, name); err != nil {
			return 0, unwrapOp(err)
		}
		q, _ := s.queries(ctx)
		rows, err := q.DeadLetterList(ctx, db.DeadLetterListParams{Name: name, GuildID: s.scopeGuild(ctx)})
		if err != nil {
			return 0, mapError(err)
		}
		out = make([]DeadLetter, len(rows))
		for i, r := range rows {
			out[i] = deadLetterFromRow(r)
		}
		return 0, nil
	})
	return out, opError("dead letters of subscription", name, err)
}

// RetryDeadLetter asks the subscription that recorded dead letter id to
// hand its event to the handler again. The subscription's running consumer
// (any process running it) redelivers it within about its PollInterval,
// between two batches: the handler succeeds and the dead letter is
// deleted, or it fails once more and the dead letter records the new error
// and waits for the next retry. Nothing happens while no consumer runs; the
// request waits for the next one. When the context carries a guild, the
// dead letter must be that guild's.
//
// Errors: ErrDeadLetterNotFound, ErrGuildRequired, ErrConnection.
func (s *Store) RetryDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	var out DeadLetter
	err := s.do(ctx, opSpec{op: OpRetryDeadLetter}, func(ctx context.Context) (int, error) {
		q, _ := s.queries(ctx)
		row, err := q.DeadLetterRetry(ctx, id)
		if err != nil {
			return 0, mapError(err)
		}
		out = deadLetterFromRow(row)
		return 0, nil
	})
	return out, opError("retry dead letter", fmt.Sprint(id), err)
}

// DropDeadLetter forgets dead letter id (the event stays in the store) and
// returns what it was. When the context carries a guild, the dead letter
// must be that guild's. Errors: ErrDeadLetterNotFound, ErrGuildRequired,
// ErrConnection.
func (s *Store) DropDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	var out DeadLetter
	err := s.do(ctx, opSpec{op: OpDropDeadLetter}, func(ctx context.Context) (int, error) {
		q, _ := s.queries(ctx)
		row, err := q.DeadLetterDrop(ctx, id)
		if err != nil {
			return 0, mapError(err)
		}
		out = deadLetterFromRow(row)
		return 0, nil
	})
	return out, opError("drop dead letter", fmt.Sprint(id), err)
}

// recordDeadLetter stores the event a persistent subscription gave up on,
// before the DeadLetterFunc (if any) sees it. In-memory subscriptions have
// nothing to store it under.
func (sub *Subscription) recordDeadLetter(ctx context.Context, herr *HandlerError) error {
	l := sub.lease
	if l == nil {
		return nil
	}
	ev := herr.Event
	msg := "<nil>"
	if herr.Err != nil {
		msg = herr.Err.Error()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	id, err := l.q.DeadLetterRecord(sctx, db.DeadLetterRecordParams{
		Name: l.name, PartitionMember: int32(l.member), GuildID: l.guild,
		StreamID: ev.StreamID, StreamVersion: ev.Version, EventID: pgtype.UUID{Bytes: ev.ID, Valid: true},
		EventType: ev.Type, GlobalPosition: ev.GlobalPosition, TransactionID: ev.TransactionID,
		Error: msg, Attempts: int32(herr.Attempts),
	})
	if err != nil {
		return fmt.Errorf("record dead letter: %w", mapError(err))
	}
	sub.log.Warn("eventstore: dead letter stored", "dead_letter_id", id, "stream_id", ev.StreamID,
		"version", ev.Version, "position", ev.GlobalPosition, "attempts", herr.Attempts, "error", msg)
	return nil
}

// redeliverDeadLetters hands the dead letters an operator asked to retry
// to the handler, once each, between two batches of a persistent
// subscription: at most once per poll interval it looks for them. A
// success deletes the dead letter; a failure records the new error. It
// returns only errors that stop the batch (ctx done, or the database
// unreachable), so that a failing retry never stops the subscription.
func (sub *Subscription) redeliverDeadLetters(ctx context.Context, lease *subscriptionLease) error {
	if lease == nil || time.Since(sub.deadLetterCheck) < min(sub.opts.PollInterval, time.Second) {
		return nil
	}
	sub.deadLetterCheck = time.Now()
	rows, err := lease.q.DeadLetterRetryRequested(ctx, db.DeadLetterRetryRequestedParams{
		Name: lease.name, PartitionMember: int32(lease.member), MaxCount: deadLetterRetryBatch,
	})
	if err != nil {
		return mapError(err)
	}
	for _, row := range rows {
		d := deadLetterFromRow(row)
		attempts, herr := sub.redeliver(ctx, d)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempts == 0 && herr != nil && retryableInBackground(herr) {
			return herr // the database, not the event: try again later
		}
		p := db.DeadLetterRedeliveredParams{ID: d.ID, GuildID: lease.guild, Attempts: int32(attempts)}
		if herr != nil {
			p.Error = pgtype.Text{String: herr.Error(), Valid: true}
			sub.log.Warn("eventstore: dead letter retry failed", "dead_letter_id", d.ID, "stream_id", d.StreamID,
				"version", d.Version, "error", herr)
		} else {
			sub.log.Info("eventstore: dead letter redelivered", "dead_letter_id", d.ID, "stream_id", d.StreamID,
				"version", d.Version)
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		err := lease.q.DeadLetterRedelivered(sctx, p)
		cancel()
		if err != nil {
			return mapError(err)
		}
	}
	return nil
}

// redeliver reads the dead letter's event and calls the handler once.
func (sub *Subscription) redeliver(ctx context.Context, d DeadLetter) (attempts int, err error) {
	recs, err := sub.store.readPage(ctx, d.StreamID, d.Version, 1, true)
	var de *DecodeError
	switch {
	case errors.As(err, &de):
		return 0, err
	case errors.Is(err, ErrStreamNotFound), errors.Is(err, ErrStreamDeleted), errors.Is(err, pgx.ErrNoRows):
		return 0, fmt.Errorf("the event is no longer readable: %w", err)
	case err != nil:
		return 0, err
	case len(recs) == 0 || recs[0].ID != d.EventID:
		return 0, fmt.Errorf("event %s is no longer stored at %q version %d", d.EventID, d.StreamID, d.Version)
	}
	return 1, callHandler(ctx, sub.handler, recs[0])
}

// ContinueAfterDeadLetter is a DeadLetterFunc for persistent subscriptions
// that rely on the stored dead letters: it returns nil, so the subscription
// moves past the event, which waits in eventstore.dead_letters for an
// operator to retry or drop it. (An in-memory subscription stores no dead
// letters: with it, the event is only logged.)
func ContinueAfterDeadLetter(context.Context, Recorded, error) error { return nil }
