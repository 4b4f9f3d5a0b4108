package events

// GuessProcessed records one guess: both players of a team submitted a word
// and the bot decided whether the words match.
type GuessProcessed struct {
	Base
	// TeamID is the guessing team. Required.
	TeamID string `json:"team_id"`
	// Player1Info is the team's first player. Required.
	Player1Info PlayerInfo `json:"player1_info"`
	// Player2Info is the team's second player; distinct from the first.
	Player2Info PlayerInfo `json:"player2_info"`
	// Player1Word is the first player's word. Required.
	Player1Word string `json:"player1_word"`
	// Player2Word is the second player's word. Required.
	Player2Word string `json:"player2_word"`
	// GuessSuccessful reports whether the words matched.
	GuessSuccessful bool `json:"guess_successful"`
	// GuessCount is the attempt number on the current word pair, from 1.
	GuessCount int `json:"guess_count"`
	// MatchScore is the score the guess earned; 0 unless successful.
	MatchScore int `json:"match_score"`
	// GuessDurationMs is how long the guess took, in milliseconds.
	GuessDurationMs int64 `json:"guess_duration_ms"`
}

// EventType returns "guess_processed".
func (GuessProcessed) EventType() string { return "guess_processed" }

// EventVersion returns 1.
func (GuessProcessed) EventVersion() int { return 1 }

// Validate checks the base fields, the team and both players (required and
// distinct), both words, guess_count >= 1, match_score >= 0 and 0 for a
// failed guess, and guess_duration_ms >= 0.
func (e GuessProcessed) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	c.require("team_id", e.TeamID)
	e.Player1Info.check(c, "player1_info")
	e.Player2Info.check(c, "player2_info")
	if e.Player1Info.PlayerID != "" && e.Player1Info.PlayerID == e.Player2Info.PlayerID {
		c.failf("player2_info.player_id", "must differ from player1_info.player_id %q",
			e.Player1Info.PlayerID)
	}
	c.require("player1_word", e.Player1Word)
	c.require("player2_word", e.Player2Word)
	if e.GuessCount < 1 {
		c.failf("guess_count", "must be at least 1, got %d", e.GuessCount)
	}
	c.nonNegative("match_score", int64(e.MatchScore))
	if !e.GuessSuccessful && e.MatchScore != 0 {
		c.failf("match_score", "must be 0 for a failed guess, got %d", e.MatchScore)
	}
	c.nonNegative("guess_duration_ms", e.GuessDurationMs)
	return c.err
}
