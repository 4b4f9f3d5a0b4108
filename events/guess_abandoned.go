package events

// LastGuess is the last word a player submitted before a guess attempt was
// abandoned.
type LastGuess struct {
	// PlayerID is the player who submitted the word; one of the team's two.
	PlayerID string `json:"player_id"`
	// Word is the submitted word. Required.
	Word string `json:"word"`
}

// GuessAbandoned records a guess attempt that ended without both words, e.g.
// because a player timed out or quit.
type GuessAbandoned struct {
	Base
	// TeamID is the team whose attempt was abandoned. Required.
	TeamID string `json:"team_id"`
	// Player1Info is the team's first player. Required.
	Player1Info PlayerInfo `json:"player1_info"`
	// Player2Info is the team's second player; distinct from the first.
	Player2Info PlayerInfo `json:"player2_info"`
	// Reason says why the attempt was abandoned. Required.
	Reason AbandonReason `json:"reason"`
	// GuessCount is the attempt number on the current word pair, from 1;
	// an abandoned attempt counts as an attempt.
	GuessCount int `json:"guess_count"`
	// LastGuess is the word submitted before the attempt was abandoned,
	// if any.
	LastGuess *LastGuess `json:"last_guess,omitempty"`
}

// EventType returns "guess_abandoned".
func (GuessAbandoned) EventType() string { return "guess_abandoned" }

// EventVersion returns 1.
func (GuessAbandoned) EventVersion() int { return 1 }

// Validate checks the base fields, the team and both players (required and
// distinct), the reason, guess_count >= 1, and that a last guess names one of
// the two players and a word.
func (e GuessAbandoned) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	c.require("team_id", e.TeamID)
	e.Player1Info.check(c, "player1_info")
	e.Player2Info.check(c, "player2_info")
	if e.Player1Info.PlayerID != "" && e.Player1Info.PlayerID == e.Player2Info.PlayerID {
		c.failf("player2_info.player_id", "must differ from player1_info.player_id %q",
			e.Player1Info.PlayerID)
	}
	switch {
	case e.Reason == "":
		c.failf("reason", "required")
	case !e.Reason.Valid():
		c.failf("reason", "unknown abandon reason %q", e.Reason)
	}
	if e.GuessCount < 1 {
		c.failf("guess_count", "must be at least 1, got %d", e.GuessCount)
	}
	if g := e.LastGuess; g != nil {
		c.require("last_guess.player_id", g.PlayerID)
		if g.PlayerID != "" && g.PlayerID != e.Player1Info.PlayerID &&
			g.PlayerID != e.Player2Info.PlayerID {
			c.failf("last_guess.player_id", "player %q is neither player1 nor player2", g.PlayerID)
		}
		c.require("last_guess.word", g.Word)
	}
	return c.err
}
