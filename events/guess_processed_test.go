package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
)

func TestGuessProcessed_Validate(t *testing.T) {
	t.Parallel()
	type E = events.GuessProcessed
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "failed guess", mutate: func(e *E) {
			e.GuessSuccessful, e.MatchScore, e.Player2Word = false, 0, "pear"
		}},
		{name: "names and roles are optional", mutate: func(e *E) {
			e.Player1Info = events.PlayerInfo{PlayerID: "p1"}
			e.Player2Info = events.PlayerInfo{PlayerID: "p2"}
		}},
		{name: "team_id blank", mutate: func(e *E) { e.TeamID = "" }, field: "team_id"},
		{name: "player1 blank", mutate: func(e *E) { e.Player1Info.PlayerID = "" }, field: "player1_info.player_id"},
		{name: "player2 blank", mutate: func(e *E) { e.Player2Info.PlayerID = " " }, field: "player2_info.player_id"},
		{name: "player1 role unknown", mutate: func(e *E) { e.Player1Info.Role = "judge" }, field: "player1_info.role"},
		{name: "same player twice", mutate: func(e *E) { e.Player2Info.PlayerID = "p1" }, field: "player2_info.player_id"},
		{name: "player1_word blank", mutate: func(e *E) { e.Player1Word = "" }, field: "player1_word"},
		{name: "player2_word blank", mutate: func(e *E) { e.Player2Word = "" }, field: "player2_word"},
		{name: "guess_count zero", mutate: func(e *E) { e.GuessCount = 0 }, field: "guess_count"},
		{name: "match_score negative", mutate: func(e *E) { e.MatchScore = -1 }, field: "match_score"},
		{name: "failed guess scores", mutate: func(e *E) { e.GuessSuccessful = false }, field: "match_score"},
		{name: "duration negative", mutate: func(e *E) { e.GuessDurationMs = -1 }, field: "guess_duration_ms"},
	}...)
	runValidate(t, validGuessProcessed, cases)
}
