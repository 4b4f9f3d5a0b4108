package events

// TeamEliminated records a team leaving the game, with its final standing
// and its players' statistics. Teams are eliminated in knockout and race
// games; a two_player game has a single team and never eliminates it.
type TeamEliminated struct {
	Base
	// TeamID is the eliminated team. Required.
	TeamID string `json:"team_id"`
	// Reason says why the team was eliminated. Required.
	Reason EliminationReason `json:"reason"`
	// FinalState is the team's standing when it left; not active.
	FinalState TeamState `json:"final_state"`
	// PlayerStats maps the team's player ids to their statistics.
	PlayerStats map[string]PlayerStats `json:"player_stats"`
}

// EventType returns "team_eliminated".
func (TeamEliminated) EventType() string { return "team_eliminated" }

// EventVersion returns 1.
func (TeamEliminated) EventVersion() int { return 1 }

// Validate checks the base fields, that the mode is not two_player, the
// team and reason, that final_state is inactive with non-negative counts, and
// that player_stats names at most two players with non-negative counts.
func (e TeamEliminated) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	if e.Mode == ModeTwoPlayer {
		c.failf("mode", "team_eliminated events are not valid in two_player mode")
	}
	c.require("team_id", e.TeamID)
	switch {
	case e.Reason == "":
		c.failf("reason", "required")
	case !e.Reason.Valid():
		c.failf("reason", "unknown elimination reason %q", e.Reason)
	}
	e.FinalState.check(c, "final_state")
	if e.FinalState.Active {
		c.failf("final_state.active", "an eliminated team is not active")
	}
	if len(e.PlayerStats) > 2 {
		c.failf("player_stats", "a team has two players, got stats for %d", len(e.PlayerStats))
	}
	for _, p := range sortedKeys(e.PlayerStats) {
		field := key("player_stats", p)
		c.require(field, p)
		e.PlayerStats[p].check(c, field)
	}
	return c.err
}
