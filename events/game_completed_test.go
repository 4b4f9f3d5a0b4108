package events_test

import (
	"testing"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func TestGameCompleted_Validate(t *testing.T) {
	t.Parallel()
	type E = events.GameCompleted
	cases := baseCases(func(e *E) *events.Base { return &e.Base })
	cases = append(cases, []validateCase[E]{
		{name: "a tie", mutate: func(e *E) { e.Winners.Add("blue") }},
		{name: "winners missing", mutate: func(e *E) { e.Winners = serde.Set[string]{} }, field: "winners"},
		{name: "blank winner", mutate: func(e *E) { e.Winners.Add("") }, field: `winners[""]`},
		{name: "winner without a score", mutate: func(e *E) { e.Winners.Add("green") }, field: `winners["green"]`},
		{name: "final_scores missing", mutate: func(e *E) {
			e.FinalScores = nil
		}, field: `winners["red"]`},
		{name: "negative score", mutate: func(e *E) { e.FinalScores["blue"] = -1 }, field: `final_scores["blue"]`},
		{name: "blank team score", mutate: func(e *E) { e.FinalScores[""] = 1 }, field: `final_scores[""]`},
		{name: "duration negative", mutate: func(e *E) { e.GameDurationMs = -1 }, field: "game_duration_ms"},
		{name: "total_rounds zero", mutate: func(e *E) { e.TotalRounds = 0 }, field: "total_rounds"},
		{name: "total_rounds not round_number", mutate: func(e *E) { e.TotalRounds = 2 }, field: "total_rounds"},
	}...)
	runValidate(t, validGameCompleted, cases)
}
