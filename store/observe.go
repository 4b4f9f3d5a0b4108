package store

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Operation names reported in Observation.Op.
const (
	OpAppend       = "append"
	OpReadForward  = "read_forward"
	OpReadBackward = "read_backward"
	OpReadFeed     = "read_feed"
	OpStreamInfo   = "stream_info"
	OpCreateStream = "create_stream"
	OpDeleteStream = "delete_stream"
	// OpTransaction is one attempt of InTx as a whole; the operations inside
	// it are reported on their own with InTx set.
	OpTransaction = "transaction"
)

// ErrorClass sorts errors for telemetry and retry decisions.
type ErrorClass string

// Error classes returned by Classify.
const (
	// ClassNone: no error.
	ClassNone ErrorClass = ""
	// ClassCanceled: the context was cancelled or its deadline passed, or
	// the server cancelled the statement (ErrStatementCanceled).
	ClassCanceled ErrorClass = "canceled"
	// ClassConnection: ErrConnection (lost connection, server shutting down
	// or full). Retried.
	ClassConnection ErrorClass = "connection"
	// ClassTransient: ErrTransactionConflict (serialization failure,
	// deadlock). Retried.
	ClassTransient ErrorClass = "transient"
	// ClassConflict: ErrWrongExpectedVersion (including ErrStreamExists and
	// ErrStreamNotFound reported as a *VersionConflictError).
	ClassConflict ErrorClass = "conflict"
	// ClassStream: the stream's state refused the operation (not found,
	// deleted, archived, full).
	ClassStream ErrorClass = "stream"
	// ClassGuild: ErrGuildRequired, ErrGuildMismatch.
	ClassGuild ErrorClass = "guild"
	// ClassPermission: ErrPermissionDenied, or a store error of the same
	// nature (events are immutable, administrators only).
	ClassPermission ErrorClass = "permission"
	// ClassValidation: an argument was refused (invalid stream id, version,
	// batch size, guild id, duplicate event id).
	ClassValidation ErrorClass = "validation"
	// ClassDomain: the event itself was refused or could not be decoded
	// (invalid type or data, serialization or deserialization failure).
	ClassDomain ErrorClass = "domain"
	// ClassOther: anything else.
	ClassOther ErrorClass = "other"
)

// numErrorClasses is the number of classes Stats counts.
const numErrorClasses = 10

// errorClasses returns the classes Stats counts, in a fixed order.
func errorClasses() [numErrorClasses]ErrorClass {
	return [numErrorClasses]ErrorClass{
		ClassCanceled, ClassConnection, ClassTransient, ClassConflict, ClassStream,
		ClassGuild, ClassPermission, ClassValidation, ClassDomain, ClassOther,
	}
}

// Classify returns the class of err (ClassNone for nil).
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassNone
	}
	err = mapError(err)
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	var decodeErr *DecodeError
	switch {
	case is(context.Canceled, context.DeadlineExceeded, ErrStatementCanceled):
		return ClassCanceled
	case is(ErrConnection):
		return ClassConnection
	case is(ErrTransactionConflict):
		return ClassTransient
	case is(ErrWrongExpectedVersion):
		return ClassConflict
	case is(ErrGuildRequired, ErrGuildMismatch):
		return ClassGuild
	case is(ErrStreamNotFound, ErrStreamDeleted, ErrStreamArchived, ErrStreamFull):
		return ClassStream
	case is(ErrPermissionDenied, ErrEventImmutable):
		return ClassPermission
	case errors.As(err, &decodeErr),
		is(ErrInvalidEventType, ErrInvalidEventData, ErrSerializationFailed, ErrDeserializationFailed):
		return ClassDomain
	case is(ErrInvalidStreamID, ErrInvalidStartVersion, ErrInvalidBatchSize, ErrInvalidExpectedVersion,
		ErrInvalidGuildID, ErrInvalidArgument, ErrDuplicateEvent, ErrEventTooLarge, ErrBatchTooLarge):
		return ClassValidation
	}
	return ClassOther
}

// Observation describes one attempt of one store operation.
type Observation struct {
	// Op names the operation (OpAppend, OpReadForward, …).
	Op string
	// StreamID is the stream operated on ("" for the feed and transactions).
	StreamID string
	// GuildID is the guild the operation ran for ("" when none applied).
	GuildID string
	// Duration is the attempt's duration.
	Duration time.Duration
	// Events is the number of events appended (Append, InTx) or read.
	Events int
	// Err is the attempt's error (nil on success) and Class its class.
	Err   error
	Class ErrorClass
	// Attempt is the attempt number, 1 for the first.
	Attempt int
	// Retrying reports that another attempt follows this failed one.
	Retrying bool
	// InTx reports an operation inside a transaction (InTx or WithTx).
	InTx bool
	// Coalesced, for an append that went out through the Store's
	// coalescer, is the number of appends sent in the same statement and
	// transaction as this one (1 when it went out alone); 0 otherwise.
	Coalesced int
	// HandedOff, for a coalesced append, reports that its flush waited
	// Config.FlushLockWait for a lock another transaction held and then
	// sent it again alone (Coalesced is then 1; Stats.FlushHandOffs counts
	// these).
	HandedOff bool
}

// Observer is told about every attempt of every store operation, after it
// ends. Observe is called from the goroutine of the operation and must be
// safe for concurrent use; it should return quickly.
type Observer interface {
	Observe(ctx context.Context, o Observation)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(ctx context.Context, o Observation)

// Observe calls f(ctx, o).
func (f ObserverFunc) Observe(ctx context.Context, o Observation) { f(ctx, o) }

// NewLogObserver returns the default Observer: it logs every observation
// to logger with the attributes op, stream_id, guild_id, duration, events,
// attempt and, on failure, error_class and error. Successes are logged at
// Debug, failures at Info, and connection, transient and unclassified
// failures at Warn.
func NewLogObserver(logger *slog.Logger) Observer {
	return logObserver{log: logger}
}

type logObserver struct{ log *slog.Logger }

func (l logObserver) Observe(ctx context.Context, o Observation) {
	level := slog.LevelDebug
	switch o.Class {
	case ClassNone:
	case ClassConnection, ClassTransient, ClassOther:
		level = slog.LevelWarn
	default:
		level = slog.LevelInfo
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("op", o.Op),
		slog.String("stream_id", o.StreamID),
		slog.String("guild_id", o.GuildID),
		slog.Duration("duration", o.Duration),
		slog.Int("events", o.Events),
		slog.Int("attempt", o.Attempt),
	}
	if o.InTx {
		attrs = append(attrs, slog.Bool("in_tx", true))
	}
	if o.Err != nil {
		attrs = append(attrs, slog.String("error_class", string(o.Class)), slog.String("error", o.Err.Error()),
			slog.Bool("retrying", o.Retrying))
	}
	l.log.LogAttrs(ctx, level, "eventstore "+o.Op, attrs...)
}

// Stats are the store's in-process counters since New.
type Stats struct {
	// Operations counts attempts of store operations (transactions and the
	// operations inside them included).
	Operations int64
	// Appends counts successful Append calls and EventsAppended the events
	// they stored (inside a transaction: once it commits or not, the
	// append itself succeeded).
	Appends        int64
	EventsAppended int64
	// EventsRead counts events returned by reads.
	EventsRead int64
	// Conflicts counts wrong-expected-version errors.
	Conflicts int64
	// Retries counts attempts that were followed by another one.
	Retries int64
	// Transactions counts InTx transactions that committed; Rollbacks the
	// attempts that rolled back.
	Transactions int64
	Rollbacks    int64
	// FlushHandOffs counts coalesced appends that waited
	// Config.FlushLockWait for a lock another transaction held (their
	// stream's row, say, in a caller's open transaction) and were then sent
	// again alone. A steady rise means transactions outside the Store hold
	// stream rows for long.
	FlushHandOffs int64
	// QueuedAppends is how many appends wait in the Store's coalescer now:
	// for a flusher, or for the flush or the append sent again alone that
	// writes their stream (a stream is in one flush at a time). Appends
	// that wait for a stream another transaction holds are counted here
	// once their first is handed off, not among the database's lock waits.
	QueuedAppends int
	// Errors counts failed attempts by class. A failed operation inside
	// InTx is counted for itself and again for its transaction.
	Errors map[ErrorClass]int64
	// Replicas describes each standby of Config.Replicas, in order: its
	// health, replay lag and the reads it served (nil without replicas).
	Replicas []ReplicaStats
	// PrimaryReads counts the statements of reads that a Store with
	// replicas sent to the primary: no standby was healthy, or none had
	// replayed a write the read had to see within MaxWait.
	PrimaryReads int64
	// Live describes the Store's live layer: its listener and the
	// subscriptions (and consumer group partitions) running on it.
	Live LiveStats
}

// LiveStats describes a Store's live layer (see Stats.Live).
type LiveStats struct {
	// Listening says that the Store's one LISTEN connection is open and
	// listening now (it is open while a subscription runs).
	Listening bool
	// ListenerConnects counts the listener's successful LISTENs since the
	// Store was created: more than one per run of subscriptions means it
	// reconnected.
	ListenerConnects int64
	// Consumers counts the running consumers (subscriptions and consumer
	// group partitions) by state.
	Consumers map[SubscriptionState]int
}

// counters are the atomic counters behind Stats.
type counters struct {
	operations, appends, eventsAppended, eventsRead atomic.Int64
	conflicts, retries, transactions, rollbacks     atomic.Int64
	errors                                          [numErrorClasses]atomic.Int64
	flushHandOffs                                   atomic.Int64
}

func (c *counters) count(o Observation) {
	c.operations.Add(1)
	if o.Retrying {
		c.retries.Add(1)
	}
	if o.Err != nil {
		if o.Class == ClassConflict {
			c.conflicts.Add(1)
		}
		if o.Op == OpTransaction {
			c.rollbacks.Add(1)
		}
		for i, class := range errorClasses() {
			if class == o.Class {
				c.errors[i].Add(1)
			}
		}
		return
	}
	switch o.Op {
	case OpAppend:
		c.appends.Add(1)
		c.eventsAppended.Add(int64(o.Events))
	case OpTransaction:
		c.transactions.Add(1)
	case OpReadForward, OpReadBackward, OpReadFeed:
		c.eventsRead.Add(int64(o.Events))
	}
}

// Stats returns a snapshot of the store's counters.
func (s *Store) Stats() Stats {
	c := &s.stats
	st := Stats{
		Operations:     c.operations.Load(),
		Appends:        c.appends.Load(),
		EventsAppended: c.eventsAppended.Load(),
		EventsRead:     c.eventsRead.Load(),
		Conflicts:      c.conflicts.Load(),
		Retries:        c.retries.Load(),
		Transactions:   c.transactions.Load(),
		Rollbacks:      c.rollbacks.Load(),
		FlushHandOffs:  c.flushHandOffs.Load(),
		Errors:         make(map[ErrorClass]int64),
	}
	if s.coalescer != nil {
		st.QueuedAppends = s.coalescer.queued()
	}
	for i, class := range errorClasses() {
		if n := c.errors[i].Load(); n > 0 {
			st.Errors[class] = n
		}
	}
	st.Replicas, st.PrimaryReads = s.replicas.stats()
	st.Live = s.live.stats()
	return st
}

// observe classifies o's error, counts o and hands it to the Observer.
func (s *Store) observe(ctx context.Context, o Observation) {
	o.Class = Classify(o.Err)
	s.stats.count(o)
	s.cfg.Observer.Observe(ctx, o)
}
