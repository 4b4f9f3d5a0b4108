package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func TestGameStarted_Validate(t *testing.T) {
	t.Parallel()
	type E = events.GameStarted
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "two_player with one team", mutate: func(e *E) {
			e.Mode = events.ModeTwoPlayer
			delete(e.Teams, "blue")
			e.TeamIDs = serde.NewSet("red")
			e.PlayerIDs = serde.NewSet("p1", "p2")
			delete(e.Roles, "p3")
			delete(e.Roles, "p4")
		}},
		{name: "race without word list", mutate: func(e *E) { e.Mode = events.ModeRace; e.Config.WordList = "" }},
		{name: "no guess limit", mutate: func(e *E) { e.Config.MaxGuesses = 0 }},
		{name: "round_number not 1", mutate: func(e *E) { e.RoundNumber = 2 }, field: "round_number"},
		{name: "teams missing", mutate: func(e *E) { e.Teams = nil }, field: "teams"},
		{name: "two_player with two teams", mutate: func(e *E) { e.Mode = events.ModeTwoPlayer }, field: "teams"},
		{name: "knockout with one team", mutate: func(e *E) {
			delete(e.Teams, "blue")
			e.TeamIDs = serde.NewSet("red")
		}, field: "teams"},
		{name: "blank team id", mutate: func(e *E) {
			e.Teams[""] = e.Teams["blue"]
			delete(e.Teams, "blue")
		}, field: `teams[""]`},
		{name: "team of one", mutate: func(e *E) { e.Teams["blue"] = []string{"p3"} }, field: `teams["blue"]`},
		{name: "team of three", mutate: func(e *E) {
			e.Teams["blue"] = []string{"p3", "p4", "p5"}
		}, field: `teams["blue"]`},
		{name: "blank player", mutate: func(e *E) { e.Teams["blue"] = []string{"p3", ""} }, field: `teams["blue"][1]`},
		{name: "player twice in a team", mutate: func(e *E) {
			e.Teams["blue"] = []string{"p3", "p3"}
		}, field: `teams["blue"][1]`},
		{name: "player in two teams", mutate: func(e *E) {
			e.Teams["red"] = []string{"p1", "p3"}
		}, field: `teams["red"][1]`},
		{name: "role not the seat", mutate: func(e *E) { e.Roles["p1"] = events.RolePlayer2 }, field: `roles["p1"]`},
		{name: "team_ids missing a team", mutate: func(e *E) { e.TeamIDs = serde.NewSet("red") }, field: "team_ids"},
		{name: "team_ids with an unknown team", mutate: func(e *E) { e.TeamIDs.Add("green") }, field: "team_ids"},
		{name: "player_ids missing a player", mutate: func(e *E) {
			e.PlayerIDs = serde.NewSet("p1", "p2", "p3")
		}, field: "player_ids"},
		{name: "player_ids with a stranger", mutate: func(e *E) { e.PlayerIDs.Add("p9") }, field: "player_ids"},
		{name: "role unknown", mutate: func(e *E) { e.Roles["p9"] = "captain" }, field: `roles["p9"]`},
		{name: "role for a stranger", mutate: func(e *E) { e.Roles["p9"] = events.RolePlayer1 }, field: `roles["p9"]`},
		{name: "role missing", mutate: func(e *E) { delete(e.Roles, "p4") }, field: `roles["p4"]`},
		{name: "max_rounds zero", mutate: func(e *E) { e.Config.MaxRounds = 0 }, field: "config.max_rounds"},
		{name: "max_guesses negative", mutate: func(e *E) { e.Config.MaxGuesses = -1 }, field: "config.max_guesses"},
		{name: "time limit negative", mutate: func(e *E) {
			e.Config.TimeLimitSeconds = -1
		}, field: "config.time_limit_seconds"},
		{name: "race without time limit", mutate: func(e *E) {
			e.Mode = events.ModeRace
			e.Config.TimeLimitSeconds = 0
		}, field: "config.time_limit_seconds"},
	}...)
	runValidate(t, validGameStarted, cases)
}
