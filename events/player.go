package events

import "strings"

// PlayerInfo identifies a player taking part in a guess.
type PlayerInfo struct {
	// PlayerID is the player's Discord user id. Required.
	PlayerID string `json:"player_id"`
	// Name is the player's display name; optional.
	Name string `json:"name,omitempty"`
	// Role is the player's seat in the team; optional, known when set.
	Role Role `json:"role,omitempty"`
}

// check records the first broken rule of p, reported under field.
func (p PlayerInfo) check(c *checker, field string) {
	if strings.TrimSpace(p.PlayerID) == "" { // the field's name is built only for the error
		c.failf(field+".player_id", "required")
	}
	if p.Role != "" && !p.Role.Valid() {
		c.failf(field+".role", "unknown role %q", p.Role)
	}
}

// PlayerStats sums up one player's play, as reported when a team leaves.
type PlayerStats struct {
	// Guesses is how many guesses the player took part in.
	Guesses int `json:"guesses"`
	// Matches is how many of those guesses matched.
	Matches int `json:"matches"`
	// Abandoned is how many guess attempts were abandoned.
	Abandoned int `json:"abandoned"`
}

// check records the first broken rule of s, reported under field.
func (s PlayerStats) check(c *checker, field string) {
	c.nonNegative(field+".guesses", int64(s.Guesses))
	c.nonNegative(field+".matches", int64(s.Matches))
	c.nonNegative(field+".abandoned", int64(s.Abandoned))
	if s.Matches > s.Guesses {
		c.failf(field+".matches", "%d matches exceed %d guesses", s.Matches, s.Guesses)
	}
}
