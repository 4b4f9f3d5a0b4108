package game

import (
	"context"
	"errors"
	"fmt"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// InvalidPolicy says what Recover does with a corrupt (undecodable) or
// invalid event.
type InvalidPolicy int

// The policies. Neither is silent: a failure returns the event's
// *RecoveryError, a skip lists it in Result.Skipped.
const (
	// FailOnInvalid, the default, ends recovery at the first corrupt or
	// invalid event with its *RecoveryError.
	FailOnInvalid InvalidPolicy = iota
	// SkipAndReport skips every event whose *RecoveryError is Resumable
	// (leaving the state as it was), lists it in Result.Skipped and goes
	// on. Errors that are not resumable (missing events, no game_started,
	// a broken state) still end recovery.
	SkipAndReport
)

// String returns "fail" or "skip_and_report".
func (p InvalidPolicy) String() string {
	switch p {
	case FailOnInvalid:
		return "fail"
	case SkipAndReport:
		return "skip_and_report"
	}
	return fmt.Sprintf("InvalidPolicy(%d)", int(p))
}

// Defaults applied to zero RecoverOptions fields.
const (
	// DefaultRecoverBatch is the default number of events read per query.
	DefaultRecoverBatch = 500
	// DefaultRecoverConcurrency is the default number of games RecoverAll
	// recovers at once.
	DefaultRecoverConcurrency = 4
)

// RecoverOptions configures Recover and RecoverAll. The zero value is
// valid: fail on the first invalid event, use the latest snapshot, read
// DefaultRecoverBatch events per query, retry like the store.
type RecoverOptions struct {
	// OnInvalid is the policy for corrupt and invalid events. Default
	// FailOnInvalid.
	OnInvalid InvalidPolicy
	// BatchSize is the number of events read per query, 1 to the store's
	// MaxReadBatch. Default DefaultRecoverBatch.
	BatchSize int
	// FullReplay ignores any snapshot and replays the stream from its
	// first event.
	FullReplay bool
	// Retry says how often a recovery that failed with a transient error
	// (store.ErrConnection, store.ErrTransactionConflict) is started over,
	// from the snapshot, with capped, jittered backoff between attempts.
	// The zero value means the store's own policy (Store.RetryPolicy);
	// MaxAttempts 1 disables these retries. Each store operation is also
	// retried by the store itself before recovery sees its error.
	Retry store.RetryPolicy
	// Concurrency is the number of games RecoverAll recovers at once.
	// Default DefaultRecoverConcurrency.
	Concurrency int
	// Prefix restricts RecoverAll to streams whose id starts with it
	// ("" = every active stream of the guild is a game).
	Prefix string
}

// withDefaults validates o and fills its zero fields.
func (o RecoverOptions) withDefaults(s *store.Store) (RecoverOptions, error) {
	if o.OnInvalid != FailOnInvalid && o.OnInvalid != SkipAndReport {
		return o, fmt.Errorf("%w: unknown invalid-event policy %v", store.ErrInvalidArgument, o.OnInvalid)
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultRecoverBatch
	}
	if o.Retry == (store.RetryPolicy{}) {
		o.Retry = s.RetryPolicy()
	}
	if o.Retry.MaxAttempts <= 0 {
		o.Retry.MaxAttempts = store.DefaultRetryAttempts
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultRecoverConcurrency
	}
	return o, nil
}

// Result is a recovered game.
type Result struct {
	// GameID is the game (and stream) id.
	GameID string
	// GuildID is the guild that owns the game's stream.
	GuildID string
	// State is the recovered state; the zero State when recovery failed
	// (a half-read or invalid stream never yields a state).
	State State
	// Version is the stream version recovery read up to: the expected
	// version for the game's next append. It equals State.EventCount
	// unless events were skipped.
	Version int64
	// SnapshotVersion is the version of the snapshot recovery started
	// from; 0 when it replayed the whole stream.
	SnapshotVersion int64
	// SnapshotIgnored says why a stored snapshot was not used (a
	// *store.SnapshotSchemaError for another schema version, or an error
	// wrapping ErrInvalidSnapshot); nil when there was none or it was used.
	SnapshotIgnored error
	// Replayed is the number of events applied after the snapshot (all of
	// them without one).
	Replayed int
	// Skipped lists the events SkipAndReport skipped, in stream order.
	Skipped []*RecoveryError
	// Attempts is the number of recovery attempts made (1 unless a
	// transient error made recovery start over).
	Attempts int
	// Err is the game's recovery error in RecoverAll's results (nil on
	// success). Recover returns it instead.
	Err error
}

// Recover rebuilds game gameID from its stream, whose id is the game id.
// It loads the latest snapshot (unless opts.FullReplay; a snapshot of
// another schema version, or one that fails its checks, is ignored and
// reported in Result.SnapshotIgnored), reads the remaining events in
// order with the store's Stream iterator, validates every one of them and
// applies it, and checks the final state.
//
// The checks (docs/RECOVERY.md has the details): stream versions
// contiguous from the snapshot or 1, and none missing at the end; every
// event decodable; every event of this game and of the stream's guild (the
// events' guild_id column and their data); causation ids that refer to an
// earlier event of the game or a command id in metadata; correlation ids
// consistent within a round; Apply's rules (game_started first, nothing
// after game_completed, rounds in order, …); State.Check at the end.
// A violation is a *RecoveryError; opts.OnInvalid decides whether a
// resumable one fails the recovery (the default) or is skipped and
// reported.
//
// A transient store error (store.ErrConnection,
// store.ErrTransactionConflict) starts the recovery over per opts.Retry;
// a half-read stream is never returned as a state. On error the Result
// has a zero State but keeps GameID, GuildID, Attempts and the events
// skipped so far.
//
// When ctx carries a guild (store.WithGuild), the stream must belong to
// it; with the least-privilege database role the guild is required to
// see the stream at all.
//
// Errors: *RecoveryError (matching ErrCorruptEvent, ErrSequenceGap,
// ErrForeignEvent, ErrCausality, ErrInvalidEvent, ErrGameNotStarted or
// ErrInvalidState); store.ErrStreamNotFound, store.ErrStreamDeleted,
// store.ErrInvalidStreamID, store.ErrInvalidBatchSize,
// store.ErrInvalidArgument (an unknown policy); store.ErrConnection once
// the retries are spent; the context's error.
func Recover(ctx context.Context, s *store.Store, gameID string, opts RecoverOptions) (Result, error) {
	opts, err := opts.withDefaults(s)
	if err != nil {
		return Result{GameID: gameID}, fmt.Errorf("recover game %q: %w", gameID, err)
	}
	return recoverGame(ctx, s, gameID, opts)
}

// recoverGame is Recover with opts already defaulted.
func recoverGame(ctx context.Context, s *store.Store, gameID string, opts RecoverOptions) (Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := recoverOnce(ctx, s, gameID, opts)
		res.Attempts = attempt
		if err == nil {
			return res, nil
		}
		failed := Result{GameID: gameID, GuildID: res.GuildID, Skipped: res.Skipped, Attempts: attempt}
		if !transient(err) || attempt >= opts.Retry.MaxAttempts {
			return failed, err
		}
		if serr := opts.Retry.Wait(ctx, attempt); serr != nil {
			return failed, fmt.Errorf("recover game %q: %w (stopped retrying after attempt %d failed: %w)",
				gameID, serr, attempt, err)
		}
	}
}

// transient reports whether err is worth starting the recovery over: a
// store error of class connection or transient. A *RecoveryError never is.
func transient(err error) bool {
	var re *RecoveryError
	if errors.As(err, &re) {
		return false
	}
	switch store.Classify(err) {
	case store.ClassConnection, store.ClassTransient:
		return true
	}
	return false
}

// recoverOnce is one recovery attempt.
func recoverOnce(ctx context.Context, s *store.Store, gameID string, opts RecoverOptions) (Result, error) {
	res := Result{GameID: gameID}
	// The stream's version is read first: events appended while recovery
	// runs only add to what must be read.
	info, err := s.StreamInfo(ctx, gameID)
	if err != nil {
		return res, err
	}
	if info.DeletedAt != nil {
		return res, fmt.Errorf("recover game %q: %w", gameID, store.ErrStreamDeleted)
	}
	res.GuildID = info.GuildID
	if g, ok := store.GuildFromContext(ctx); ok && g != info.GuildID {
		return res, &RecoveryError{
			GameID: gameID, Rule: RuleSameGuild,
			Err: fmt.Errorf("%w: the stream belongs to guild %q, the context's guild is %q", ErrForeignEvent, info.GuildID, g),
		}
	}
	from, st := int64(1), State{}
	if !opts.FullReplay {
		snapState, version, ignored, err := loadSnapshot(ctx, s, gameID, info)
		if err != nil {
			return res, err
		}
		res.SnapshotIgnored = ignored
		if version > 0 {
			from, st, res.SnapshotVersion = version, snapState, version
		}
	}
	c := newStreamCheck(gameID, info.GuildID, opts.OnInvalid, st, from)
	if res.SnapshotVersion > 0 {
		c.prefix = func() (prefixIDs, error) {
			return readPrefix(ctx, s, gameID, res.SnapshotVersion, opts.BatchSize)
		}
	}
	// From a snapshot, the first record read is the snapshot's last event:
	// it is not applied again, but later events may refer to it.
	seeding := res.SnapshotVersion > 0
	for rec, err := range s.Stream(ctx, gameID, from, opts.BatchSize) {
		var de *store.DecodeError
		if err != nil && !errors.As(err, &de) {
			res.Skipped = c.skipped
			return res, err
		}
		if seeding {
			seeding = false
			if err := c.seed(rec); err != nil {
				return res, err
			}
			continue
		}
		if err := c.add(rec, err); err != nil {
			res.Skipped = c.skipped
			return res, err
		}
	}
	res.Skipped = c.skipped
	if err := c.finish(info.Version); err != nil {
		return res, err
	}
	res.State = c.state
	res.Version = c.next - 1
	res.Replayed = c.replayed
	return res, nil
}

// readPrefix returns the ids of the events before version before, and the
// command ids their metadata names, for causation checks that reach behind
// a snapshot.
func readPrefix(ctx context.Context, s *store.Store, gameID string, before int64, batch int) (prefixIDs, error) {
	ids := prefixIDs{events: make(map[uuid.UUID]struct{}), commands: make(map[uuid.UUID]struct{})}
	for rec, err := range s.Stream(ctx, gameID, 1, min(batch, int(before))) {
		var de *store.DecodeError
		if err != nil && !errors.As(err, &de) {
			return ids, err
		}
		if rec.Version >= before {
			break
		}
		ids.events[rec.ID] = struct{}{}
		if cmd, ok := commandID(rec); ok {
			ids.commands[cmd] = struct{}{}
		}
	}
	return ids, nil
}
