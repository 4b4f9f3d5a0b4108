package events

// RoundStarted opens a round and records every team's standing at its start.
type RoundStarted struct {
	Base
	// TeamStates maps every team of the game, eliminated ones included, to
	// its standing at the start of the round.
	TeamStates map[string]TeamState `json:"team_states"`
}

// EventType returns "round_started".
func (RoundStarted) EventType() string { return "round_started" }

// EventVersion returns 1.
func (RoundStarted) EventVersion() int { return 1 }

// Validate checks the base fields, that team_states is present with
// non-blank team ids and non-negative counts, that at least one team is
// active, and that a two_player game has exactly one team.
func (e RoundStarted) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	if len(e.TeamStates) == 0 {
		c.failf("team_states", "required")
	}
	if e.Mode == ModeTwoPlayer && len(e.TeamStates) > 1 {
		c.failf("team_states", "two_player mode has exactly one team, got %d", len(e.TeamStates))
	}
	active := 0
	for _, id := range sortedKeys(e.TeamStates) {
		field := key("team_states", id)
		c.require(field, id)
		e.TeamStates[id].check(c, field)
		if e.TeamStates[id].Active {
			active++
		}
	}
	if len(e.TeamStates) > 0 && active == 0 {
		c.failf("team_states", "at least one team must be active")
	}
	return c.err
}
