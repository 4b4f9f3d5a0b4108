package events

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// EliminationReason says why a team left the game. It encodes as its name;
// decoding an unknown name fails.
type EliminationReason string

// The reasons a team is eliminated.
const (
	// EliminationMaxGuesses means the team used all its guesses in a round
	// without a match.
	EliminationMaxGuesses EliminationReason = "max_guesses"
	// EliminationTimeout means the team ran out of time.
	EliminationTimeout EliminationReason = "timeout"
	// EliminationForfeit means a player quit or the team gave up.
	EliminationForfeit EliminationReason = "forfeit"
	// EliminationKnockout means the team was knocked out at the end of a
	// knockout round.
	EliminationKnockout EliminationReason = "knockout"
)

// EliminationReasons returns every known EliminationReason in a stable order.
func EliminationReasons() []EliminationReason {
	return []EliminationReason{
		EliminationMaxGuesses, EliminationTimeout, EliminationForfeit, EliminationKnockout,
	}
}

// ParseEliminationReason returns the EliminationReason named s, or an error
// wrapping serde.ErrInvalidEventData.
func ParseEliminationReason(s string) (EliminationReason, error) {
	v := EliminationReason(s)
	if err := serde.CheckEnum(v, EliminationReasons()...); err != nil {
		return "", fmt.Errorf("elimination reason: %w", err)
	}
	return v, nil
}

// Valid reports whether r is a known elimination reason.
func (r EliminationReason) Valid() bool {
	return serde.CheckEnum(r, EliminationReasons()...) == nil
}

// String returns the elimination reason's name.
func (r EliminationReason) String() string { return string(r) }

// MarshalJSON encodes r as a JSON string. An unknown elimination reason is an
// error wrapping serde.ErrInvalidEventData.
func (r EliminationReason) MarshalJSON() ([]byte, error) {
	return serde.EncodeEnum(r, EliminationReasons()...)
}

// AppendJSON appends what MarshalJSON returns to buf (serde.JSONAppender).
func (r EliminationReason) AppendJSON(buf []byte) ([]byte, error) {
	return serde.AppendEnum(buf, r, EliminationReasons()...)
}

// UnmarshalJSON decodes a JSON string naming a known elimination reason. Anything
// else is an error wrapping serde.ErrInvalidEventData.
func (r *EliminationReason) UnmarshalJSON(b []byte) (err error) {
	*r, err = serde.DecodeEnum(b, EliminationReasons()...)
	return err
}
