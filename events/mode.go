package events

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// Mode is a GameBot game mode. It encodes as its name; decoding an unknown
// name fails with an error wrapping serde.ErrInvalidEventData.
type Mode string

// The game modes.
const (
	// ModeTwoPlayer is one team of two players guessing for several rounds.
	ModeTwoPlayer Mode = "two_player"
	// ModeKnockout is several teams; teams are eliminated each round until
	// one remains.
	ModeKnockout Mode = "knockout"
	// ModeRace is several teams matching as many word pairs as they can
	// before the time limit expires.
	ModeRace Mode = "race"
)

// Modes returns every known Mode in a stable order.
func Modes() []Mode { return []Mode{ModeTwoPlayer, ModeKnockout, ModeRace} }

// ParseMode returns the Mode named s, or an error wrapping
// serde.ErrInvalidEventData.
func ParseMode(s string) (Mode, error) {
	v := Mode(s)
	if err := serde.CheckEnum(v, Modes()...); err != nil {
		return "", fmt.Errorf("mode: %w", err)
	}
	return v, nil
}

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return serde.CheckEnum(m, Modes()...) == nil }

// String returns the mode's name.
func (m Mode) String() string { return string(m) }

// MarshalJSON encodes m as a JSON string. An unknown mode is an
// error wrapping serde.ErrInvalidEventData.
func (m Mode) MarshalJSON() ([]byte, error) { return serde.EncodeEnum(m, Modes()...) }

// AppendJSON appends what MarshalJSON returns to buf (serde.JSONAppender).
func (m Mode) AppendJSON(buf []byte) ([]byte, error) { return serde.AppendEnum(buf, m, Modes()...) }

// UnmarshalJSON decodes a JSON string naming a known mode. Anything
// else is an error wrapping serde.ErrInvalidEventData.
func (m *Mode) UnmarshalJSON(b []byte) (err error) {
	*m, err = serde.DecodeEnum(b, Modes()...)
	return err
}
