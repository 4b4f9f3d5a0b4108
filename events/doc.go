// Package events defines the GameBot domain events, version 1.
//
// GameBot is a Discord word-guessing game: teams of two players each submit
// a word and score when the words match. A game is one event stream and
// every event in it is one of the eight types defined here:
//
//	game_started               GameStarted
//	round_started              RoundStarted
//	guess_processed            GuessProcessed
//	guess_abandoned            GuessAbandoned
//	team_eliminated            TeamEliminated
//	game_completed             GameCompleted
//	knockout_round_completed   KnockoutRoundCompleted
//	race_mode_time_expired     RaceModeTimeExpired
//
// Every event embeds Base (game id, guild id, mode, round number, timestamp
// and free-form metadata) and satisfies GameEvent, so callers can read the
// base fields of any event without a type switch. Each event's Validate
// checks the rules that hold within the event itself (required ids, known
// enums, non-negative counts, team and player references that agree with
// each other) and reports the first broken field as a *FieldError, which
// wraps serde.ErrInvalidEventData. Rules that need the game's history (is
// this team still active? is this the first event?) live in package game.
//
// Events are plain values with snake_case JSON tags and no interface-typed
// fields, so their JSON encoding is stable. Enumerations (Mode, Role,
// AbandonReason, EliminationReason) encode as strings and reject unknown
// names when decoded. Register and NewRegistry make the eight types known to
// a serde.Registry; there is no package-level registry.
package events
