package game_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	completed := func(t *testing.T) game.State {
		s, err := game.Replay(game.Simulate(game.SimConfig{Seed: 8, Mode: events.ModeKnockout}))
		require.NoError(t, err)
		return s
	}
	inProgress := func(t *testing.T) game.State {
		s, err := game.Replay(game.Simulate(game.SimConfig{Seed: 8, Mode: events.ModeKnockout, StopAfter: 6}))
		require.NoError(t, err)
		return s
	}
	setTeam := func(s *game.State, id string, edit func(*game.Team)) {
		team := s.Teams[id]
		edit(&team)
		s.Teams[id] = team
	}
	for _, tc := range []struct {
		name      string
		state     func(*testing.T) game.State
		corrupt   func(*game.State)
		invariant string
	}{
		{name: "completed game", state: completed, corrupt: func(*game.State) {}},
		{name: "game in progress", state: inProgress, corrupt: func(*game.State) {}},
		{name: "zero state with teams", state: inProgress, corrupt: func(s *game.State) { s.EventCount = 0 }, invariant: "empty"},
		{name: "no game id", state: inProgress, corrupt: func(s *game.State) { s.GameID = "" }, invariant: "game_id"},
		{name: "no guild id", state: inProgress, corrupt: func(s *game.State) { s.GuildID = "" }, invariant: "guild_id"},
		{name: "unknown mode", state: inProgress, corrupt: func(s *game.State) { s.Mode = "solo" }, invariant: "mode"},
		{name: "unknown status", state: inProgress, corrupt: func(s *game.State) { s.Status = "paused" }, invariant: "status"},
		{name: "no teams", state: inProgress, corrupt: func(s *game.State) { s.Teams = nil }, invariant: "teams"},
		{name: "two_player with teams", state: inProgress, corrupt: func(s *game.State) {
			s.Mode = events.ModeTwoPlayer
		}, invariant: "teams"},
		{name: "negative score", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) { t.Score = -1 })
		}, invariant: "teams"},
		{name: "more matches than guesses", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) { t.Matches = t.Guesses + 1 })
		}, invariant: "teams"},
		{name: "guess_count over max_guesses", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) { t.GuessCount = 99 })
		}, invariant: "teams"},
		{name: "team under another id", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) { t.ID = "team-9" })
		}, invariant: "teams"},
		{name: "team of one", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) { t.Players = t.Players[:1] })
		}, invariant: "teams"},
		{name: "eliminated in a future round", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) {
				t.Eliminated, t.EliminatedRound, t.EliminationReason = true, 7, events.EliminationForfeit
			})
		}, invariant: "teams"},
		{name: "active with an elimination reason", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-1", func(t *game.Team) { t.EliminationReason = events.EliminationForfeit })
		}, invariant: "teams"},
		{name: "every team eliminated", state: inProgress, corrupt: func(s *game.State) {
			for _, id := range s.TeamIDs() {
				setTeam(s, id, func(t *game.Team) {
					t.Eliminated, t.EliminatedRound, t.EliminationReason = true, 1, events.EliminationForfeit
				})
			}
		}, invariant: "teams"},
		{name: "player in two teams", state: inProgress, corrupt: func(s *game.State) {
			setTeam(s, "team-2", func(t *game.Team) { t.Players = []string{"player-1", t.Players[1]} })
		}, invariant: "players"},
		{name: "role for a stranger", state: inProgress, corrupt: func(s *game.State) {
			s.Roles["stranger"] = events.RolePlayer1
		}, invariant: "roles"},
		{name: "statistics missing", state: inProgress, corrupt: func(s *game.State) {
			delete(s.Players, "player-1")
		}, invariant: "players"},
		{name: "negative statistics", state: inProgress, corrupt: func(s *game.State) {
			s.Players["player-1"] = events.PlayerStats{Guesses: -1}
		}, invariant: "players"},
		{name: "round beyond max_rounds", state: inProgress, corrupt: func(s *game.State) { s.Round = 99 }, invariant: "round"},
		{name: "time expired outside race", state: inProgress, corrupt: func(s *game.State) {
			s.TimeExpired = true
		}, invariant: "time_expired"},
		{name: "updated before started", state: inProgress, corrupt: func(s *game.State) {
			s.UpdatedAt = s.StartedAt.Add(-time.Second)
		}, invariant: "updated_at"},
		{name: "in progress with winners", state: inProgress, corrupt: func(s *game.State) {
			s.Winners = []string{"team-1"}
		}, invariant: "winners"},
		{name: "in progress with a completion time", state: inProgress, corrupt: func(s *game.State) {
			s.CompletedAt = s.UpdatedAt
		}, invariant: "completed_at"},
		{name: "completed without winners", state: completed, corrupt: func(s *game.State) { s.Winners = nil }, invariant: "winners"},
		{name: "completed without a completion time", state: completed, corrupt: func(s *game.State) {
			s.CompletedAt = time.Time{}
		}, invariant: "completed_at"},
		{name: "winner is not a team", state: completed, corrupt: func(s *game.State) {
			s.Winners = []string{"team-99"}
		}, invariant: "winners"},
		{name: "winner was eliminated", state: completed, corrupt: func(s *game.State) {
			for _, id := range s.TeamIDs() {
				if !s.Teams[id].Active() {
					s.Winners = []string{id}
					return
				}
			}
		}, invariant: "winners"},
		{name: "winners not sorted", state: completed, corrupt: func(s *game.State) {
			s.Winners = []string{"team-4", "team-1"}
		}, invariant: "winners"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.state(t)
			tc.corrupt(&s)
			err := s.Check()
			if tc.invariant == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, game.ErrInvalidState)
			require.Contains(t, err.Error(), "invalid state: "+tc.invariant+": ")
		})
	}
}
