package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
)

func TestTeamEliminated_Validate(t *testing.T) {
	t.Parallel()
	type E = events.TeamEliminated
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "race", mutate: func(e *E) { e.Mode = events.ModeRace }},
		{name: "no player stats", mutate: func(e *E) { e.PlayerStats = nil }},
		{name: "two_player", mutate: func(e *E) { e.Mode = events.ModeTwoPlayer }, field: "mode"},
		{name: "team_id blank", mutate: func(e *E) { e.TeamID = "" }, field: "team_id"},
		{name: "reason blank", mutate: func(e *E) { e.Reason = "" }, field: "reason"},
		{name: "reason unknown", mutate: func(e *E) { e.Reason = "boredom" }, field: "reason"},
		{name: "final score negative", mutate: func(e *E) { e.FinalState.Score = -2 }, field: "final_state.score"},
		{name: "final state active", mutate: func(e *E) { e.FinalState.Active = true }, field: "final_state.active"},
		{name: "stats for three players", mutate: func(e *E) {
			e.PlayerStats["p5"] = events.PlayerStats{}
		}, field: "player_stats"},
		{name: "stats for a blank player", mutate: func(e *E) {
			delete(e.PlayerStats, "p4")
			e.PlayerStats[""] = events.PlayerStats{}
		}, field: `player_stats[""]`},
		{name: "negative guesses", mutate: func(e *E) {
			e.PlayerStats["p3"] = events.PlayerStats{Guesses: -1}
		}, field: `player_stats["p3"].guesses`},
		{name: "negative abandoned", mutate: func(e *E) {
			e.PlayerStats["p3"] = events.PlayerStats{Abandoned: -1}
		}, field: `player_stats["p3"].abandoned`},
		{name: "more matches than guesses", mutate: func(e *E) {
			e.PlayerStats["p3"] = events.PlayerStats{Guesses: 1, Matches: 2}
		}, field: `player_stats["p3"].matches`},
	}...)
	runValidate(t, validTeamEliminated, cases)
}
