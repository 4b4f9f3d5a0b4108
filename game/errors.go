package game

import (
	"errors"
	"fmt"
)

// Sentinel errors. Apply's errors wrap ErrInvalidTransition (or, for an
// event that fails its own Validate, serde.ErrInvalidEventData); Check's
// errors wrap ErrInvalidState.
var (
	// ErrInvalidTransition reports an event the game's rules do not allow
	// in the current state.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrInvalidState reports a State that breaks an invariant.
	ErrInvalidState = errors.New("invalid state")
)

// The rules Apply enforces; a *RuleError's Rule is one of these. The
// package documentation describes each.
const (
	// RuleKnownEvent: the event is one of the eight GameBot v1 types.
	RuleKnownEvent = "known_event"
	// RuleGameOver: nothing follows game_completed.
	RuleGameOver = "game_over"
	// RuleModeEvent: mode-specific events appear only in their modes.
	RuleModeEvent = "mode_event"
	// RuleValidEvent: the event passes its own Validate.
	RuleValidEvent = "valid_event"
	// RuleFirstEvent: a game starts with game_started.
	RuleFirstEvent = "first_event"
	// RuleStartOnce: game_started appears once.
	RuleStartOnce = "start_once"
	// RuleSameGame: every event names the game's id.
	RuleSameGame = "same_game"
	// RuleSameGuild: every event names the game's guild.
	RuleSameGuild = "same_guild"
	// RuleSameMode: every event names the game's mode.
	RuleSameMode = "same_mode"
	// RuleTimeOrder: timestamps never go backwards.
	RuleTimeOrder = "time_order"
	// RuleTimeExpired: after a race's time expired only game_completed follows, and a race completes only then.
	RuleTimeExpired = "time_expired"
	// RuleRoundOrder: rounds open one after another; other events are in the current round.
	RuleRoundOrder = "round_order"
	// RuleMaxRounds: no round beyond config.max_rounds.
	RuleMaxRounds = "max_rounds"
	// RuleRoundComplete: a knockout round is completed before the next starts.
	RuleRoundComplete = "round_complete"
	// RuleRoundOpen: play needs an open round.
	RuleRoundOpen = "round_open"
	// RuleTeamStates: round_started lists every team as the game has it.
	RuleTeamStates = "team_states"
	// RuleKnownTeam: a named team is a team of the game.
	RuleKnownTeam = "known_team"
	// RuleTeamActive: a named team is still active.
	RuleTeamActive = "team_active"
	// RuleTeamPlayers: a guess names the team's players in their roles.
	RuleTeamPlayers = "team_players"
	// RuleGuessCount: attempts count up by one within config.max_guesses.
	RuleGuessCount = "guess_count"
	// RuleScore: scores never become negative.
	RuleScore = "score"
	// RuleLastTeam: the last active team is never eliminated.
	RuleLastTeam = "last_team"
	// RuleFinalState: team_eliminated reports the team's real standing.
	RuleFinalState = "final_state"
	// RuleKnockoutTeams: a knockout round accounts for every active team.
	RuleKnockoutTeams = "knockout_teams"
	// RuleFinalMatches: race_mode_time_expired reports every team's matches.
	RuleFinalMatches = "final_matches"
	// RuleWinners: winners are active teams (in race: those with most matches).
	RuleWinners = "winners"
	// RuleFinalScores: game_completed reports every team's real score.
	RuleFinalScores = "final_scores"
)

// RuleError is the error Apply and Replay return: the event at position
// Event (1-based; the stream version the event has or would have) of type
// EventType broke Rule. Err says how; it wraps ErrInvalidTransition, or
// serde.ErrInvalidEventData when Rule is RuleValidEvent.
type RuleError struct {
	// Rule is the broken rule, one of the Rule… constants.
	Rule string
	// EventType is the refused event's type ("" for a nil event).
	EventType string
	// Event is the refused event's 1-based position in the game.
	Event int
	// Err describes the violation.
	Err error
}

// Error returns e.g. `apply event 7 (guess_processed): rule team_active:
// invalid transition: team "team-2" is eliminated`.
func (e *RuleError) Error() string {
	return fmt.Sprintf("apply event %d (%s): rule %s: %v", e.Event, e.EventType, e.Rule, e.Err)
}

// Unwrap returns Err.
func (e *RuleError) Unwrap() error { return e.Err }
