package events

// GameConfig holds the settings a game is started with.
type GameConfig struct {
	// MaxRounds is the most rounds the game may have; at least 1.
	MaxRounds int `json:"max_rounds"`
	// MaxGuesses is the most attempts a team may make on one word pair;
	// 0 means no limit.
	MaxGuesses int `json:"max_guesses"`
	// TimeLimitSeconds is the game's time limit; 0 means none. Race mode
	// requires a limit.
	TimeLimitSeconds int `json:"time_limit_seconds"`
	// WordList names the word list words are drawn from; optional.
	WordList string `json:"word_list,omitempty"`
}

// check records the first broken rule of g for a game in mode.
func (g GameConfig) check(c *checker, mode Mode) {
	if g.MaxRounds < 1 {
		c.failf("config.max_rounds", "must be at least 1, got %d", g.MaxRounds)
	}
	c.nonNegative("config.max_guesses", int64(g.MaxGuesses))
	c.nonNegative("config.time_limit_seconds", int64(g.TimeLimitSeconds))
	if mode == ModeRace && g.TimeLimitSeconds == 0 {
		c.failf("config.time_limit_seconds", "required in race mode")
	}
}
