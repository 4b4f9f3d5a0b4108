package events

// TeamState is a team's standing at a point in the game, as carried by
// round_started and team_eliminated.
type TeamState struct {
	// Score is the team's total score so far; never negative.
	Score int `json:"score"`
	// GuessCount is the number of attempts on the team's current word
	// pair; never negative.
	GuessCount int `json:"guess_count"`
	// Matches is the number of matched word pairs so far; never negative.
	Matches int `json:"matches"`
	// Active is false once the team is eliminated.
	Active bool `json:"active"`
}

// check records the first broken rule of s, reported under field.
func (s TeamState) check(c *checker, field string) {
	c.nonNegative(field+".score", int64(s.Score))
	c.nonNegative(field+".guess_count", int64(s.GuessCount))
	c.nonNegative(field+".matches", int64(s.Matches))
}
