package events

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// Role is a player's seat in a team of two. It encodes as its name; decoding
// an unknown name fails.
type Role string

// The player roles.
const (
	// RolePlayer1 is the first player listed for a team.
	RolePlayer1 Role = "player1"
	// RolePlayer2 is the second player listed for a team.
	RolePlayer2 Role = "player2"
)

// Roles returns every known Role in a stable order.
func Roles() []Role { return []Role{RolePlayer1, RolePlayer2} }

// ParseRole returns the Role named s, or an error wrapping
// serde.ErrInvalidEventData.
func ParseRole(s string) (Role, error) {
	v := Role(s)
	if err := serde.CheckEnum(v, Roles()...); err != nil {
		return "", fmt.Errorf("role: %w", err)
	}
	return v, nil
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return serde.CheckEnum(r, Roles()...) == nil }

// String returns the role's name.
func (r Role) String() string { return string(r) }

// MarshalJSON encodes r as a JSON string. An unknown role is an
// error wrapping serde.ErrInvalidEventData.
func (r Role) MarshalJSON() ([]byte, error) { return serde.EncodeEnum(r, Roles()...) }

// AppendJSON appends what MarshalJSON returns to buf (serde.JSONAppender).
func (r Role) AppendJSON(buf []byte) ([]byte, error) { return serde.AppendEnum(buf, r, Roles()...) }

// UnmarshalJSON decodes a JSON string naming a known role. Anything
// else is an error wrapping serde.ErrInvalidEventData.
func (r *Role) UnmarshalJSON(b []byte) (err error) {
	*r, err = serde.DecodeEnum(b, Roles()...)
	return err
}
