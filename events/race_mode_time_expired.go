package events

// RaceModeTimeExpired records that a race game's time ran out. It ends play:
// only game_completed may follow it.
type RaceModeTimeExpired struct {
	Base
	// FinalMatches maps every team id to the number of word pairs it
	// matched.
	FinalMatches map[string]int `json:"final_matches"`
	// GameDurationMs is the game's length in milliseconds.
	GameDurationMs int64 `json:"game_duration_ms"`
}

// EventType returns "race_mode_time_expired".
func (RaceModeTimeExpired) EventType() string { return "race_mode_time_expired" }

// EventVersion returns 1.
func (RaceModeTimeExpired) EventVersion() int { return 1 }

// Validate checks the base fields, that the mode is race, that final_matches
// is present with non-blank team ids and non-negative counts, and that the
// duration is non-negative.
func (e RaceModeTimeExpired) Validate() error {
	c := &checker{typ: e.EventType(), ver: e.EventVersion()}
	e.Base.check(c)
	c.mode(e.Mode, ModeRace)
	if len(e.FinalMatches) == 0 {
		c.failf("final_matches", "required")
	}
	for _, id := range sortedKeys(e.FinalMatches) {
		field := key("final_matches", id)
		c.require(field, id)
		c.nonNegative(field, int64(e.FinalMatches[id]))
	}
	c.nonNegative("game_duration_ms", e.GameDurationMs)
	return c.err
}
