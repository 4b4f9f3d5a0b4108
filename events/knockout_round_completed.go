package events

import "github.com/gamebot/eventstore/serde"

// KnockoutRoundCompleted closes a round of a knockout game: it eliminates
// some teams and lets the others advance.
type KnockoutRoundCompleted struct {
	Base
	// EliminatedTeams is the set of teams knocked out by this round; may
	// be empty.
	EliminatedTeams serde.Set[string] `json:"eliminated_teams"`
	// AdvancingTeams is the set of teams going on to the next round;
	// never empty and disjoint from EliminatedTeams.
	AdvancingTeams serde.Set[string] `json:"advancing_teams"`
}

// EventType returns "knockout_round_completed".
func (KnockoutRoundCompleted) EventType() string { return "knockout_round_completed" }

// EventVersion returns 1.
func (KnockoutRoundCompleted) EventVersion() int { return 1 }

// Validate checks the base fields, that the mode is knockout, that
// advancing_teams is non-empty, and that no team both advances and is
// eliminated.
func (e KnockoutRoundCompleted) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	c.mode(e.Mode, ModeKnockout)
	c.ids("eliminated_teams", e.EliminatedTeams.Sorted())
	c.ids("advancing_teams", e.AdvancingTeams.Sorted())
	if e.AdvancingTeams.Len() == 0 {
		c.failf("advancing_teams", "at least one team must advance")
	}
	for _, id := range e.EliminatedTeams.Sorted() {
		if e.AdvancingTeams.Has(id) {
			c.failf(key("eliminated_teams", id), "team %q both advances and is eliminated", id)
		}
	}
	return c.err
}
