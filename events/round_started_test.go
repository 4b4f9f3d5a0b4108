package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
)

func TestRoundStarted_Validate(t *testing.T) {
	t.Parallel()
	type E = events.RoundStarted
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "two_player with one team", mutate: func(e *E) {
			e.Mode = events.ModeTwoPlayer
			delete(e.TeamStates, "blue")
		}},
		{name: "team_states missing", mutate: func(e *E) { e.TeamStates = nil }, field: "team_states"},
		{name: "two_player with two teams", mutate: func(e *E) { e.Mode = events.ModeTwoPlayer }, field: "team_states"},
		{name: "blank team id", mutate: func(e *E) { e.TeamStates[""] = events.TeamState{} }, field: `team_states[""]`},
		{name: "negative score", mutate: func(e *E) {
			e.TeamStates["blue"] = events.TeamState{Score: -1}
		}, field: `team_states["blue"].score`},
		{name: "negative guess_count", mutate: func(e *E) {
			e.TeamStates["blue"] = events.TeamState{GuessCount: -1}
		}, field: `team_states["blue"].guess_count`},
		{name: "negative matches", mutate: func(e *E) {
			e.TeamStates["blue"] = events.TeamState{Matches: -1}
		}, field: `team_states["blue"].matches`},
		{name: "no active team", mutate: func(e *E) {
			e.TeamStates["red"] = events.TeamState{Score: 10, Matches: 1}
		}, field: "team_states"},
	}...)
	runValidate(t, validRoundStarted, cases)
}
