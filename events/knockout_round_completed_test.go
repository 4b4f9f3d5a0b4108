package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func TestKnockoutRoundCompleted_Validate(t *testing.T) {
	t.Parallel()
	type E = events.KnockoutRoundCompleted
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "nobody eliminated", mutate: func(e *E) { e.EliminatedTeams = serde.Set[string]{} }},
		{name: "race mode", mutate: func(e *E) { e.Mode = events.ModeRace }, field: "mode"},
		{name: "two_player mode", mutate: func(e *E) { e.Mode = events.ModeTwoPlayer }, field: "mode"},
		{name: "nobody advances", mutate: func(e *E) {
			e.AdvancingTeams = serde.Set[string]{}
		}, field: "advancing_teams"},
		{name: "blank eliminated", mutate: func(e *E) { e.EliminatedTeams.Add("") }, field: `eliminated_teams[""]`},
		{name: "blank advancing", mutate: func(e *E) { e.AdvancingTeams.Add("") }, field: `advancing_teams[""]`},
		{name: "both advances and is eliminated", mutate: func(e *E) {
			e.AdvancingTeams.Add("blue")
		}, field: `eliminated_teams["blue"]`},
	}...)
	runValidate(t, validKnockoutRoundCompleted, cases)
}
