package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
)

func TestRaceModeTimeExpired_Validate(t *testing.T) {
	t.Parallel()
	type E = events.RaceModeTimeExpired
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "knockout mode", mutate: func(e *E) { e.Mode = events.ModeKnockout }, field: "mode"},
		{name: "two_player mode", mutate: func(e *E) { e.Mode = events.ModeTwoPlayer }, field: "mode"},
		{name: "final_matches missing", mutate: func(e *E) { e.FinalMatches = nil }, field: "final_matches"},
		{name: "blank team", mutate: func(e *E) { e.FinalMatches[""] = 1 }, field: `final_matches[""]`},
		{name: "negative matches", mutate: func(e *E) { e.FinalMatches["red"] = -1 }, field: `final_matches["red"]`},
		{name: "duration negative", mutate: func(e *E) { e.GameDurationMs = -5 }, field: "game_duration_ms"},
	}...)
	runValidate(t, validRaceModeTimeExpired, cases)
}
