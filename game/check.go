package game

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gamebot/eventstore/events"
)

// Check verifies s's invariants and returns nil or an error wrapping
// ErrInvalidState that names the first broken invariant. Every State that
// Apply returns passes Check; Check guards states from elsewhere, such as
// snapshots. The invariants: the zero State is empty; a started game has
// ids, a known mode and status, teams of two distinct players each playing
// in one team only, roles and statistics for exactly those players,
// non-negative counts, a two_player game with one team and no elimination,
// at least one active team, 0 <= round <= max_rounds, eliminations in
// rounds that happened, time expiry only in race games, winners that are
// sorted active teams and set exactly when completed, and
// started <= updated, completed_at set exactly when completed.
func (s State) Check() error {
	if !s.Started() {
		if s.Status != "" || len(s.Teams) != 0 || len(s.Winners) != 0 {
			return invalid("empty", "a state with no events has status %q, %d teams, %d winners",
				s.Status, len(s.Teams), len(s.Winners))
		}
		return nil
	}
	switch {
	case s.GameID == "":
		return invalid("game_id", "required")
	case s.GuildID == "":
		return invalid("guild_id", "required")
	case !s.Mode.Valid():
		return invalid("mode", "unknown mode %q", s.Mode)
	case s.Status != StatusInProgress && s.Status != StatusCompleted:
		return invalid("status", "unknown status %q", s.Status)
	case len(s.Teams) == 0:
		return invalid("teams", "a started game has teams")
	case s.Mode == events.ModeTwoPlayer && len(s.Teams) != 1:
		return invalid("teams", "a two_player game has one team, got %d", len(s.Teams))
	case len(s.ActiveTeams()) == 0:
		return invalid("teams", "no active team")
	case s.Round < 0 || s.Round > s.Config.MaxRounds:
		return invalid("round", "round %d outside 0..%d", s.Round, s.Config.MaxRounds)
	case s.TimeExpired && s.Mode != events.ModeRace:
		return invalid("time_expired", "time expired in a %s game", s.Mode)
	case s.UpdatedAt.Before(s.StartedAt):
		return invalid("updated_at", "%s is before started_at %s", s.UpdatedAt, s.StartedAt)
	}
	if err := s.checkTeams(); err != nil {
		return err
	}
	return s.checkOutcome()
}

// checkTeams verifies the teams, players, roles and statistics.
func (s State) checkTeams() error {
	teamOf := make(map[string]string)
	for _, id := range s.TeamIDs() {
		t := s.Teams[id]
		switch {
		case t.ID != id:
			return invalid("teams", "team %q is stored under %q", t.ID, id)
		case len(t.Players) != 2 || t.Players[0] == t.Players[1]:
			return invalid("teams", "team %q has players %q, want two distinct", id, t.Players)
		case t.Score < 0 || t.GuessCount < 0 || t.Guesses < 0 || t.Abandoned < 0 || t.Matches < 0:
			return invalid("teams", "team %q has a negative count: %+v", id, t)
		case t.Matches > t.Guesses:
			return invalid("teams", "team %q has %d matches in %d guesses", id, t.Matches, t.Guesses)
		case s.Config.MaxGuesses > 0 && t.GuessCount > s.Config.MaxGuesses:
			return invalid("teams", "team %q: guess_count %d exceeds max_guesses %d",
				id, t.GuessCount, s.Config.MaxGuesses)
		case t.Eliminated && (t.EliminatedRound < 1 || t.EliminatedRound > s.Round):
			return invalid("teams", "team %q eliminated in round %d of %d", id, t.EliminatedRound, s.Round)
		case t.Eliminated && !t.EliminationReason.Valid():
			return invalid("teams", "team %q eliminated for unknown reason %q", id, t.EliminationReason)
		case !t.Eliminated && (t.EliminatedRound != 0 || t.EliminationReason != ""):
			return invalid("teams", "active team %q has an elimination round or reason", id)
		case t.Eliminated && s.Mode == events.ModeTwoPlayer:
			return invalid("teams", "team %q eliminated in a two_player game", id)
		}
		for _, p := range t.Players {
			if other, ok := teamOf[p]; ok {
				return invalid("players", "player %q plays in teams %q and %q", p, other, id)
			}
			teamOf[p] = id
		}
	}
	players := slices.Sorted(maps.Keys(teamOf))
	if got := slices.Sorted(maps.Keys(s.Roles)); !slices.Equal(got, players) {
		return invalid("roles", "roles for %q, players are %q", got, players)
	}
	if got := slices.Sorted(maps.Keys(s.Players)); !slices.Equal(got, players) {
		return invalid("players", "statistics for %q, players are %q", got, players)
	}
	for _, p := range players {
		ps := s.Players[p]
		if ps.Guesses < 0 || ps.Matches < 0 || ps.Abandoned < 0 || ps.Matches > ps.Guesses {
			return invalid("players", "player %q has statistics %+v", p, ps)
		}
	}
	return nil
}

// checkOutcome verifies status, winners and completion time agree.
func (s State) checkOutcome() error {
	completed := s.Status == StatusCompleted
	switch {
	case completed && len(s.Winners) == 0:
		return invalid("winners", "a completed game has winners")
	case !completed && len(s.Winners) != 0:
		return invalid("winners", "a game in progress has winners %q", s.Winners)
	case completed && s.CompletedAt.IsZero():
		return invalid("completed_at", "a completed game has a completion time")
	case !completed && !s.CompletedAt.IsZero():
		return invalid("completed_at", "a game in progress has completion time %s", s.CompletedAt)
	case completed && (s.CompletedAt.Before(s.StartedAt) || s.UpdatedAt.Before(s.CompletedAt)):
		return invalid("completed_at", "%s is outside %s..%s", s.CompletedAt, s.StartedAt, s.UpdatedAt)
	case !slices.IsSorted(s.Winners) || len(slices.Compact(slices.Clone(s.Winners))) != len(s.Winners):
		return invalid("winners", "%q are not sorted and distinct", s.Winners)
	}
	for _, w := range s.Winners {
		t, ok := s.Teams[w]
		switch {
		case !ok:
			return invalid("winners", "winner %q is not a team", w)
		case t.Eliminated:
			return invalid("winners", "winner %q is eliminated", w)
		}
	}
	return nil
}

// invalid returns an error wrapping ErrInvalidState for invariant.
func invalid(invariant, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidState, invariant, fmt.Sprintf(format, args...))
}
