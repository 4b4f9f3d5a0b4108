package game

import (
	"maps"
	"slices"
	"time"

	"github.com/gamebot/eventstore/events"
)

// Status is a game's lifecycle status.
type Status string

// The game statuses. The zero State has status "" (not started).
const (
	// StatusInProgress is a started game that has not completed.
	StatusInProgress Status = "in_progress"
	// StatusCompleted is a game that received game_completed.
	StatusCompleted Status = "completed"
)

// State is a game as rebuilt from its events. The zero State is a game
// before its first event. A State is a value: Apply returns a new one and
// never changes the one it is given (maps and slices are copied).
type State struct {
	// GameID, GuildID and Mode come from game_started.
	GameID  string      `json:"game_id"`
	GuildID string      `json:"guild_id"`
	Mode    events.Mode `json:"mode"`
	// Status is "" before game_started, then in_progress, then completed.
	Status Status `json:"status"`
	// Config is the game's configuration from game_started.
	Config events.GameConfig `json:"config"`
	// Teams maps team ids to teams.
	Teams map[string]Team `json:"teams"`
	// Roles maps player ids to their roles.
	Roles map[string]events.Role `json:"roles"`
	// Players maps player ids to their statistics so far.
	Players map[string]events.PlayerStats `json:"players"`
	// Round is the current round: 0 until the first round_started.
	Round int `json:"round"`
	// RoundOpen is true between round_started and the round's end
	// (knockout_round_completed, race_mode_time_expired or
	// game_completed).
	RoundOpen bool `json:"round_open"`
	// TimeExpired is true once a race game's time expired.
	TimeExpired bool `json:"time_expired"`
	// Winners holds the winning team ids, sorted; set by game_completed.
	Winners []string `json:"winners"`
	// StartedAt is game_started's timestamp.
	StartedAt time.Time `json:"started_at"`
	// UpdatedAt is the last applied event's timestamp.
	UpdatedAt time.Time `json:"updated_at"`
	// CompletedAt is game_completed's timestamp; zero until then.
	CompletedAt time.Time `json:"completed_at"`
	// EventCount is the number of events applied, i.e. the stream version
	// the state reflects.
	EventCount int `json:"event_count"`
}

// Team is one team's standing.
type Team struct {
	// ID is the team id.
	ID string `json:"id"`
	// Players holds the two player ids, player1 first.
	Players []string `json:"players"`
	// Score is the total score; never negative.
	Score int `json:"score"`
	// GuessCount is the number of attempts on the current word pair.
	GuessCount int `json:"guess_count"`
	// Guesses is the number of guesses processed.
	Guesses int `json:"guesses"`
	// Abandoned is the number of abandoned attempts.
	Abandoned int `json:"abandoned"`
	// Matches is the number of successful guesses.
	Matches int `json:"matches"`
	// Eliminated is true once the team left the game.
	Eliminated bool `json:"eliminated"`
	// EliminatedRound is the round the team left in; 0 while active.
	EliminatedRound int `json:"eliminated_round,omitempty"`
	// EliminationReason says why the team left; "" while active.
	EliminationReason events.EliminationReason `json:"elimination_reason,omitempty"`
}

// Active reports whether the team is still in the game.
func (t Team) Active() bool { return !t.Eliminated }

// EventState returns the team's standing as events carry it.
func (t Team) EventState() events.TeamState {
	return events.TeamState{Score: t.Score, GuessCount: t.GuessCount, Matches: t.Matches, Active: t.Active()}
}

// Started reports whether game_started has been applied.
func (s State) Started() bool { return s.EventCount > 0 }

// Completed reports whether game_completed has been applied.
func (s State) Completed() bool { return s.Status == StatusCompleted }

// InProgress reports whether the game started and has not completed, e.g. a
// game to recover after a restart.
func (s State) InProgress() bool { return s.Status == StatusInProgress }

// TeamIDs returns every team id, sorted.
func (s State) TeamIDs() []string { return slices.Sorted(maps.Keys(s.Teams)) }

// ActiveTeams returns the ids of the teams still in the game, sorted.
func (s State) ActiveTeams() []string {
	var ids []string
	for _, id := range s.TeamIDs() {
		if s.Teams[id].Active() {
			ids = append(ids, id)
		}
	}
	return ids
}

// Clone returns a deep copy of s: changing the copy's maps or slices never
// changes s.
func (s State) Clone() State {
	s.Teams = maps.Clone(s.Teams)
	for id, t := range s.Teams {
		t.Players = slices.Clone(t.Players)
		s.Teams[id] = t
	}
	s.Roles = maps.Clone(s.Roles)
	s.Players = maps.Clone(s.Players)
	s.Winners = slices.Clone(s.Winners)
	return s
}
