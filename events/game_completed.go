package events

import "github.com/gamebot/eventstore/serde"

// GameCompleted is the last event of every game: it names the winners and
// the final scores.
type GameCompleted struct {
	Base
	// Winners is the set of winning team ids; never empty.
	Winners serde.Set[string] `json:"winners"`
	// FinalScores maps team ids to their final score; every winner is
	// listed.
	FinalScores map[string]int `json:"final_scores"`
	// GameDurationMs is the game's length in milliseconds.
	GameDurationMs int64 `json:"game_duration_ms"`
	// TotalRounds is the number of rounds played; it equals RoundNumber.
	TotalRounds int `json:"total_rounds"`
}

// EventType returns "game_completed".
func (GameCompleted) EventType() string { return "game_completed" }

// EventVersion returns 1.
func (GameCompleted) EventVersion() int { return 1 }

// Validate checks the base fields, that winners is non-empty and every
// winner has a final score, that scores and the duration are non-negative,
// and that total_rounds equals round_number.
func (e GameCompleted) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	if e.Winners.Len() == 0 {
		c.failf("winners", "required")
	}
	for _, w := range e.Winners.Sorted() {
		c.require(key("winners", w), w)
		if _, ok := e.FinalScores[w]; !ok && w != "" {
			c.failf(key("winners", w), "winner %q has no final score", w)
		}
	}
	if len(e.FinalScores) == 0 {
		c.failf("final_scores", "required")
	}
	for _, id := range sortedKeys(e.FinalScores) {
		field := key("final_scores", id)
		c.require(field, id)
		c.nonNegative(field, int64(e.FinalScores[id]))
	}
	c.nonNegative("game_duration_ms", e.GameDurationMs)
	if e.TotalRounds < 1 {
		c.failf("total_rounds", "must be at least 1, got %d", e.TotalRounds)
	} else if e.RoundNumber >= 1 && e.TotalRounds != e.RoundNumber {
		c.failf("total_rounds", "must equal round_number %d, got %d", e.RoundNumber, e.TotalRounds)
	}
	return c.err
}
