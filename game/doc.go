// Package game rebuilds GameBot game state from events and enforces the
// game's rules. Its core is pure: Apply, Replay, Check and Simulate use no
// database, no clock and no randomness beyond the seeded simulator.
//
// A game is a stream of events.GameEvent values. Apply folds one event into
// a State and returns the new State, refusing events that break a rule
// (every error is a *RuleError naming the rule); Replay folds a whole
// stream. Check verifies a State's invariants. Simulate produces realistic,
// deterministic games for tests, demos and benchmarks.
//
// Recovery works on a store: a game's stream id is its game id. Recover
// rebuilds one stored game from its latest snapshot and the events after
// it, validating the stream (versions, guild, game, causation and
// correlation ids) as well as Apply's rules, and returns a
// *RecoveryError naming the event and rule it could not get past, or
// skips and reports such events under SkipAndReport. RecoverAll recovers
// every game of a guild that is in progress. AppendGame stores a game
// with the causal links Recover checks, and SaveSnapshot stores a State
// as the stream's snapshot. docs/RECOVERY.md describes the rules and
// policies.
//
// The rules, in the order Apply checks them:
//
//   - known_event: the event is one of the eight GameBot v1 types.
//   - game_over: nothing follows game_completed.
//   - mode_event: knockout_round_completed only in knockout games,
//     race_mode_time_expired only in race games, team_eliminated never in
//     two_player games.
//   - valid_event: the event passes its own Validate.
//   - first_event / start_once: a game starts with exactly one game_started.
//   - same_game, same_guild, same_mode: every event names the game's id,
//     guild and mode.
//   - time_order: timestamps never go backwards.
//   - time_expired: after race_mode_time_expired only game_completed may
//     follow, and a race game completes only after its time expired.
//   - round_order: round_started opens round current+1; every other event
//     belongs to the current round, so round numbers never go backwards.
//   - max_rounds: no round beyond config.max_rounds.
//   - round_complete: a knockout round is completed before the next starts.
//   - round_open: guesses, eliminations and round or time completions need
//     an open round.
//   - team_states: round_started lists every team with the standing the
//     game has for it.
//   - known_team / team_active: guesses, abandons and eliminations name a
//     known, still active team; so do knockout results.
//   - team_players: a guess names the team's two players, in their roles.
//   - guess_count: attempts on a word pair count up by one and stay within
//     config.max_guesses.
//   - score: scores never become negative.
//   - last_team: the last active team cannot be eliminated.
//   - final_state: team_eliminated reports the team's actual standing and
//     player statistics.
//   - knockout_teams: a knockout round's eliminated and advancing teams are
//     exactly the active teams.
//   - final_matches: race_mode_time_expired reports every team's matches.
//   - winners: winners are known, active teams; in race mode exactly the
//     active teams with the most matches.
//   - final_scores: game_completed reports every team's actual score.
//
// Race games end in two steps: race_mode_time_expired ends play (the game
// is still in progress, but only game_completed is accepted), and
// game_completed ends the game in every mode.
package game
