package game

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Recovery sentinels. Every error Recover finds in a stored game is a
// *RecoveryError whose Err wraps one of these (or ErrInvalidState for a
// state that breaks its invariants).
var (
	// ErrCorruptEvent reports a stored event that cannot be decoded: JSON
	// that does not fit its type, an unknown event type or version, a
	// failing translation, or a decoded value that is not a GameBot event.
	// The Err chain holds the store's *store.DecodeError with the raw
	// record.
	ErrCorruptEvent = errors.New("corrupt event")
	// ErrSequenceGap reports missing events: stream versions that skip a
	// number, or a stream that ends before the version its stream row
	// records.
	ErrSequenceGap = errors.New("sequence gap")
	// ErrForeignEvent reports an event of another game or guild in the
	// game's stream, or a stream of another guild than the context's.
	ErrForeignEvent = errors.New("foreign event")
	// ErrCausality reports a causation id that refers to no earlier event
	// of the game and no known command, or correlation ids that are not
	// consistent within a round.
	ErrCausality = errors.New("causality violation")
	// ErrInvalidEvent reports an event the game's rules refuse: the Err
	// chain holds Apply's *RuleError.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrGameNotStarted reports a game stream without events.
	ErrGameNotStarted = errors.New("game not started")
	// ErrInvalidSnapshot reports a stored snapshot that cannot be used: not
	// a game state, a state that breaks its invariants, or one of another
	// game, guild or stream version. Recover then replays the whole stream
	// and reports the reason in Result.SnapshotIgnored.
	ErrInvalidSnapshot = errors.New("invalid snapshot")
)

// The rules Recover checks in addition to Apply's (see the package
// documentation and docs/RECOVERY.md). A *RecoveryError's Rule is one of
// these or one of Apply's Rule… constants (RuleSameGame and RuleSameGuild
// are checked against the stream before Apply sees the event).
const (
	// RuleContiguous: stream versions count up by one from the snapshot's
	// version (or from 1).
	RuleContiguous = "contiguous_versions"
	// RuleStreamEnd: the stream holds every event up to the version its
	// stream row records.
	RuleStreamEnd = "stream_end"
	// RuleDecodable: the stored event decodes to a GameBot event.
	RuleDecodable = "decodable"
	// RuleCausation: a causation id refers to an earlier event of the game
	// or to a command id named in metadata.
	RuleCausation = "causation"
	// RuleCorrelation: the events of one round share one correlation id,
	// and no two rounds share one.
	RuleCorrelation = "correlation"
	// RuleStateInvariants: the recovered state passes State.Check.
	RuleStateInvariants = "state_invariants"
)

// RecoveryError reports why a stored game could not be recovered, or why
// one event was skipped (Result.Skipped). It names the event by stream
// version and id, the broken rule, and whether recovery can go on past the
// event.
type RecoveryError struct {
	// GameID is the game (and stream) id.
	GameID string
	// StreamVersion is the offending event's stream version; for a gap, the
	// first missing version. 0 when the error concerns the stream as a
	// whole (no events, another guild).
	StreamVersion int64
	// EventID is the offending event's id (uuid.Nil for a missing event).
	EventID uuid.UUID
	// EventType is the stored event type ("" for a missing event).
	EventType string
	// Rule is the broken rule: one of the Rule… constants.
	Rule string
	// Resumable reports whether recovery can go on past this event by
	// skipping it, as SkipAndReport does: the event is present and was
	// refused on its own, the game had started before it, and the state
	// is left as it was. Missing events, a missing game_started and a
	// broken state are not resumable.
	Resumable bool
	// Err wraps one of the sentinels (ErrCorruptEvent, ErrSequenceGap,
	// ErrForeignEvent, ErrCausality, ErrInvalidEvent, ErrGameNotStarted,
	// ErrInvalidState) and the underlying cause (*RuleError,
	// *store.DecodeError) where there is one.
	Err error
}

// Error returns e.g. `recover game "game-7": event 12 (guess_processed
// 0195…): rule causation: causality violation: …`.
func (e *RecoveryError) Error() string {
	where := "stream"
	switch {
	case e.StreamVersion > 0 && e.EventID != uuid.Nil:
		where = fmt.Sprintf("event %d (%s %s)", e.StreamVersion, e.EventType, e.EventID)
	case e.StreamVersion > 0:
		where = fmt.Sprintf("event %d", e.StreamVersion)
	}
	return fmt.Sprintf("recover game %q: %s: rule %s: %v", e.GameID, where, e.Rule, e.Err)
}

// Unwrap returns Err.
func (e *RecoveryError) Unwrap() error { return e.Err }
