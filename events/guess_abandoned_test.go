package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
)

func TestGuessAbandoned_Validate(t *testing.T) {
	t.Parallel()
	type E = events.GuessAbandoned
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "no last guess", mutate: func(e *E) { e.LastGuess = nil }},
		{name: "every reason", mutate: func(e *E) { e.Reason = events.AbandonDisconnected }},
		{name: "team_id blank", mutate: func(e *E) { e.TeamID = "" }, field: "team_id"},
		{name: "player1 blank", mutate: func(e *E) { e.Player1Info.PlayerID = "" }, field: "player1_info.player_id"},
		{name: "player2 role unknown", mutate: func(e *E) { e.Player2Info.Role = "x" }, field: "player2_info.role"},
		{name: "same player twice", mutate: func(e *E) { e.Player2Info.PlayerID = "p1" }, field: "player2_info.player_id"},
		{name: "reason blank", mutate: func(e *E) { e.Reason = "" }, field: "reason"},
		{name: "reason unknown", mutate: func(e *E) { e.Reason = "bored" }, field: "reason"},
		{name: "guess_count zero", mutate: func(e *E) { e.GuessCount = 0 }, field: "guess_count"},
		{name: "last guess player blank", mutate: func(e *E) {
			e.LastGuess.PlayerID = ""
		}, field: "last_guess.player_id"},
		{name: "last guess by a stranger", mutate: func(e *E) {
			e.LastGuess.PlayerID = "p9"
		}, field: "last_guess.player_id"},
		{name: "last guess word blank", mutate: func(e *E) { e.LastGuess.Word = "" }, field: "last_guess.word"},
	}...)
	runValidate(t, validGuessAbandoned, cases)
}
