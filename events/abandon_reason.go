package events

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// AbandonReason says why a guess attempt ended without a guess. It encodes
// as its name; decoding an unknown name fails.
type AbandonReason string

// The reasons a guess is abandoned.
const (
	// AbandonTimeout means the players did not answer in time.
	AbandonTimeout AbandonReason = "timeout"
	// AbandonPlayerQuit means a player left the game.
	AbandonPlayerQuit AbandonReason = "player_quit"
	// AbandonDisconnected means a player lost the connection.
	AbandonDisconnected AbandonReason = "disconnected"
	// AbandonInvalidWord means a submitted word was rejected.
	AbandonInvalidWord AbandonReason = "invalid_word"
)

// AbandonReasons returns every known AbandonReason in a stable order.
func AbandonReasons() []AbandonReason {
	return []AbandonReason{AbandonTimeout, AbandonPlayerQuit, AbandonDisconnected, AbandonInvalidWord}
}

// ParseAbandonReason returns the AbandonReason named s, or an error wrapping
// serde.ErrInvalidEventData.
func ParseAbandonReason(s string) (AbandonReason, error) {
	v := AbandonReason(s)
	if err := serde.CheckEnum(v, AbandonReasons()...); err != nil {
		return "", fmt.Errorf("abandon reason: %w", err)
	}
	return v, nil
}

// Valid reports whether r is a known abandon reason.
func (r AbandonReason) Valid() bool { return serde.CheckEnum(r, AbandonReasons()...) == nil }

// String returns the abandon reason's name.
func (r AbandonReason) String() string { return string(r) }

// MarshalJSON encodes r as a JSON string. An unknown abandon reason is an
// error wrapping serde.ErrInvalidEventData.
func (r AbandonReason) MarshalJSON() ([]byte, error) {
	return serde.EncodeEnum(r, AbandonReasons()...)
}

// AppendJSON appends what MarshalJSON returns to buf (serde.JSONAppender).
func (r AbandonReason) AppendJSON(buf []byte) ([]byte, error) {
	return serde.AppendEnum(buf, r, AbandonReasons()...)
}

// UnmarshalJSON decodes a JSON string naming a known abandon reason. Anything
// else is an error wrapping serde.ErrInvalidEventData.
func (r *AbandonReason) UnmarshalJSON(b []byte) (err error) {
	*r, err = serde.DecodeEnum(b, AbandonReasons()...)
	return err
}
