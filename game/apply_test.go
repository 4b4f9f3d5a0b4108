package game_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
)

// fakeEvent is a GameEvent that is not one of the eight GameBot types.
type fakeEvent struct{ events.Base }

func (fakeEvent) EventType() string { return "fake" }
func (fakeEvent) EventVersion() int { return 1 }
func (fakeEvent) Validate() error   { return nil }

func TestApplyRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode events.Mode
		// setup applies the events before the refused one and returns it.
		setup func(p *play) events.GameEvent
		rule  string
	}{
		{name: "nil event", setup: func(*play) events.GameEvent { return nil }, rule: game.RuleKnownEvent},
		{name: "nil pointer", setup: func(*play) events.GameEvent {
			return (*events.GuessProcessed)(nil)
		}, rule: game.RuleKnownEvent},
		{name: "foreign event type", setup: func(p *play) events.GameEvent {
			return fakeEvent{p.base(1)}
		}, rule: game.RuleKnownEvent},
		{name: "first event not game_started", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			p.s = game.State{}
			return ev
		}, rule: game.RuleFirstEvent},
		{name: "second game_started", setup: func(p *play) events.GameEvent {
			return p.started()
		}, rule: game.RuleStartOnce},
		{name: "invalid event", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", true)
			ev.TeamID = ""
			return ev
		}, rule: game.RuleValidEvent},
		{name: "other game", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.GameID = "game-2"
			return ev
		}, rule: game.RuleSameGame},
		{name: "other guild", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.GuildID = "guild-2"
			return ev
		}, rule: game.RuleSameGuild},
		{name: "other mode", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.Mode = events.ModeRace
			return ev
		}, rule: game.RuleSameMode},
		{name: "time goes backwards", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", false)
			ev.Timestamp = serde.NewTime(p.s.StartedAt.Add(-1))
			return ev
		}, rule: game.RuleTimeOrder},
		{name: "round skipped", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.RoundNumber = 2
			return ev
		}, rule: game.RuleRoundOrder},
		{name: "guess before the first round", setup: func(p *play) events.GameEvent {
			return p.guess("red", false)
		}, rule: game.RuleRoundOrder},
		{name: "guess in a future round", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", false)
			ev.RoundNumber = 2
			return ev
		}, rule: game.RuleRoundOrder},
		{name: "guess in a past round", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.roundStarted())
			ev := p.guess("red", false)
			ev.RoundNumber = 1
			return ev
		}, rule: game.RuleRoundOrder},
		{name: "round beyond max_rounds", setup: func(p *play) events.GameEvent {
			for range 3 {
				p.apply(p.roundStarted())
			}
			return p.roundStarted()
		}, rule: game.RuleMaxRounds},
		{name: "knockout round not completed", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			return p.roundStarted()
		}, rule: game.RuleRoundComplete},
		{name: "guess after the knockout round completed", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.knockout("blue"))
			return p.guess("red", true)
		}, rule: game.RuleRoundOpen},
		{name: "team_states missing a team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			delete(ev.TeamStates, "blue")
			return ev
		}, rule: game.RuleTeamStates},
		{name: "team_states with an unknown team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.TeamStates["purple"] = events.TeamState{Active: true}
			return ev
		}, rule: game.RuleTeamStates},
		{name: "team_states with a wrong score", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.TeamStates["red"] = events.TeamState{Score: 3, Active: true}
			return ev
		}, rule: game.RuleTeamStates},
		{name: "team_states with wrong matches", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.TeamStates["red"] = events.TeamState{Matches: 1, Active: true}
			return ev
		}, rule: game.RuleTeamStates},
		{name: "team_states reviving a team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.knockout("blue"))
			ev := p.roundStarted()
			ev.TeamStates["blue"] = events.TeamState{Active: true}
			return ev
		}, rule: game.RuleTeamStates},
		{name: "team_states over max_guesses", setup: func(p *play) events.GameEvent {
			ev := p.roundStarted()
			ev.TeamStates["red"] = events.TeamState{GuessCount: 4, Active: true}
			return ev
		}, rule: game.RuleGuessCount},
		{name: "guess for an unknown team", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", true)
			ev.TeamID = "purple"
			return ev
		}, rule: game.RuleKnownTeam},
		{name: "guess for an eliminated team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.knockout("blue"))
			p.apply(p.roundStarted())
			return p.guess("blue", true)
		}, rule: game.RuleTeamActive},
		{name: "abandon for an eliminated team", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.eliminated("green"))
			return p.abandoned("green")
		}, rule: game.RuleTeamActive},
		{name: "guess by another team's player", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", true)
			ev.Player2Info.PlayerID = "b2"
			return ev
		}, rule: game.RuleTeamPlayers},
		{name: "guess with a wrong role", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", true)
			ev.Player1Info.Role = events.RolePlayer2
			return ev
		}, rule: game.RuleTeamPlayers},
		{name: "abandon by a stranger", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.abandoned("red")
			ev.Player1Info.PlayerID = "x1"
			return ev
		}, rule: game.RuleTeamPlayers},
		{name: "guess_count skips", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.guess("red", false)
			ev.GuessCount = 2
			return ev
		}, rule: game.RuleGuessCount},
		{name: "guess_count repeats", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", false))
			ev := p.guess("red", false)
			ev.GuessCount = 1
			return ev
		}, rule: game.RuleGuessCount},
		{name: "guess beyond max_guesses", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", false))
			p.apply(p.abandoned("red"))
			p.apply(p.guess("red", false))
			return p.guess("red", true)
		}, rule: game.RuleGuessCount},
		{name: "score overflows", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			big := p.guess("red", true)
			big.MatchScore = math.MaxInt
			p.apply(big)
			return p.guess("red", true)
		}, rule: game.RuleScore},
		{name: "eliminating the last team", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.eliminated("blue"))
			p.apply(p.eliminated("green"))
			return p.eliminated("red")
		}, rule: game.RuleLastTeam},
		{name: "eliminating an eliminated team", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.eliminated("blue"))
			return p.eliminated("blue")
		}, rule: game.RuleTeamActive},
		{name: "final_state with a wrong score", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.eliminated("blue")
			ev.FinalState.Score = 7
			return ev
		}, rule: game.RuleFinalState},
		{name: "player_stats of a stranger", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.eliminated("blue")
			ev.PlayerStats["r1"] = ev.PlayerStats["b1"]
			delete(ev.PlayerStats, "b1")
			return ev
		}, rule: game.RuleFinalState},
		{name: "player_stats with wrong counts", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("blue", false))
			ev := p.eliminated("blue")
			ev.PlayerStats["b1"] = events.PlayerStats{}
			return ev
		}, rule: game.RuleFinalState},
		{name: "knockout result missing a team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.knockout("blue")
			ev.AdvancingTeams = serde.NewSet("red")
			return ev
		}, rule: game.RuleKnockoutTeams},
		{name: "knockout result with an unknown team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.knockout("blue")
			ev.EliminatedTeams.Add("purple")
			return ev
		}, rule: game.RuleKnownTeam},
		{name: "knockout result with an eliminated team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.eliminated("blue"))
			ev := p.knockout("green")
			ev.EliminatedTeams.Add("blue")
			return ev
		}, rule: game.RuleTeamActive},
		{name: "knockout_round_completed in race", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.knockout("blue")
			ev.Mode = events.ModeKnockout
			return ev
		}, rule: game.RuleModeEvent},
		{name: "race_mode_time_expired in knockout", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.expired()
			ev.Mode = events.ModeRace
			return ev
		}, rule: game.RuleModeEvent},
		{name: "team_eliminated in two_player", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			return p.eliminated("red")
		}, rule: game.RuleModeEvent},
		{name: "guess after the race time expired", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.expired())
			return p.guess("red", true)
		}, rule: game.RuleTimeExpired},
		{name: "race completed before its time expired", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			return p.completed("blue", "green", "red")
		}, rule: game.RuleTimeExpired},
		{name: "final_matches with a wrong count", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", true))
			ev := p.expired()
			ev.FinalMatches["red"] = 0
			return ev
		}, rule: game.RuleFinalMatches},
		{name: "final_matches missing a team", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.expired()
			delete(ev.FinalMatches, "green")
			return ev
		}, rule: game.RuleFinalMatches},
		{name: "final_matches with an unknown team", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.expired()
			ev.FinalMatches["purple"] = 0
			return ev
		}, rule: game.RuleKnownTeam},
		{name: "unknown winner", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.completed("purple")
			ev.FinalScores["purple"] = 0
			return ev
		}, rule: game.RuleWinners},
		{name: "eliminated winner", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.knockout("blue", "green"))
			return p.completed("blue")
		}, rule: game.RuleWinners},
		{name: "race winner without the most matches", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", true))
			p.apply(p.expired())
			return p.completed("blue")
		}, rule: game.RuleWinners},
		{name: "race winners missing a tied team", mode: events.ModeRace, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", true))
			p.apply(p.guess("blue", true))
			p.apply(p.expired())
			return p.completed("red")
		}, rule: game.RuleWinners},
		{name: "final_scores with a wrong score", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", true))
			ev := p.completed("red")
			ev.FinalScores["red"] = 50
			return ev
		}, rule: game.RuleFinalScores},
		{name: "final_scores missing a team", mode: events.ModeKnockout, setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.knockout("blue", "green"))
			ev := p.completed("red")
			delete(ev.FinalScores, "green")
			return ev
		}, rule: game.RuleFinalScores},
		{name: "final_scores with an unknown team", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			ev := p.completed("red")
			ev.FinalScores["purple"] = 0
			return ev
		}, rule: game.RuleFinalScores},
		{name: "event after game_completed", setup: func(p *play) events.GameEvent {
			p.apply(p.roundStarted())
			p.apply(p.completed("red"))
			return p.guess("red", true)
		}, rule: game.RuleGameOver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mode := tc.mode
			if mode == "" {
				mode = events.ModeTwoPlayer
			}
			p := newPlay(t, mode)
			ev := tc.setup(p)
			before := p.s.Clone()

			got, err := game.Apply(p.s, ev)

			var re *game.RuleError
			require.True(t, errors.As(err, &re), "want a *RuleError, got %T: %v", err, err)
			require.Equal(t, tc.rule, re.Rule, "error: %v", err)
			require.Equal(t, p.s.EventCount+1, re.Event)
			if ev != nil && tc.rule != game.RuleKnownEvent {
				require.Equal(t, ev.EventType(), re.EventType)
			}
			if tc.rule == game.RuleValidEvent {
				require.ErrorIs(t, err, serde.ErrInvalidEventData)
				require.NotErrorIs(t, err, game.ErrInvalidTransition)
			} else {
				require.ErrorIs(t, err, game.ErrInvalidTransition)
			}
			require.Contains(t, err.Error(), "rule "+tc.rule+": ")
			require.Equal(t, before, got, "a refused event returns the state unchanged")
			require.Equal(t, before, p.s, "Apply does not modify its input")
		})
	}
}

func TestApplyAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode events.Mode
		run  func(p *play)
	}{
		{name: "pointer events", run: func(p *play) {
			rs := p.roundStarted()
			p.apply(&rs)
			g := p.guess("red", true)
			p.apply(&g)
		}},
		{name: "players in either order and without roles", run: func(p *play) {
			p.apply(p.roundStarted())
			ev := p.guess("red", false)
			ev.Player1Info, ev.Player2Info = events.PlayerInfo{PlayerID: "r2"}, events.PlayerInfo{PlayerID: "r1"}
			p.apply(ev)
		}},
		{name: "equal timestamps", run: func(p *play) {
			p.apply(p.roundStarted())
			ev := p.guess("red", false)
			ev.Timestamp = serde.NewTime(p.s.UpdatedAt)
			p.apply(ev)
		}},
		{name: "a match resets guess_count", run: func(p *play) {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", false))
			p.apply(p.guess("red", false))
			p.apply(p.guess("red", true))
			require.Equal(t, 0, p.s.Teams["red"].GuessCount)
			p.apply(p.guess("red", false))
			require.Equal(t, 1, p.s.Teams["red"].GuessCount)
		}},
		{name: "round_started sets guess_count", run: func(p *play) {
			p.apply(p.roundStarted())
			p.apply(p.guess("red", false))
			p.apply(p.roundStarted())
			require.Equal(t, 0, p.s.Teams["red"].GuessCount)
			require.Equal(t, 2, p.s.Round)
		}},
		{name: "two_player and race rounds need no completion", mode: events.ModeRace, run: func(p *play) {
			p.apply(p.roundStarted())
			p.apply(p.roundStarted())
		}},
		{name: "knockout completes between rounds", mode: events.ModeKnockout, run: func(p *play) {
			p.apply(p.roundStarted())
			p.apply(p.knockout("blue"))
			p.apply(p.completed("green", "red"))
		}},
		{name: "knockout round with nobody knocked out", mode: events.ModeKnockout, run: func(p *play) {
			p.apply(p.roundStarted())
			p.apply(p.eliminated("blue"))
			p.apply(p.knockout())
			require.Equal(t, []string{"green", "red"}, p.s.ActiveTeams())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mode := tc.mode
			if mode == "" {
				mode = events.ModeTwoPlayer
			}
			tc.run(newPlay(t, mode))
		})
	}
}

func TestApplyTracksTheGame(t *testing.T) {
	t.Parallel()
	p := newPlay(t, events.ModeKnockout)
	require.Equal(t, game.StatusInProgress, p.s.Status)
	require.Equal(t, 0, p.s.Round)

	p.apply(p.roundStarted())
	p.apply(p.guess("red", false))
	p.apply(p.guess("red", true))
	p.apply(p.abandoned("blue"))
	p.apply(p.eliminated("blue"))
	p.apply(p.guess("green", true))
	p.apply(p.knockout("green"))
	p.apply(p.roundStarted())
	p.apply(p.guess("red", true))
	p.apply(p.completed("red"))

	s := p.s
	require.Equal(t, game.StatusCompleted, s.Status)
	require.True(t, s.Completed())
	require.False(t, s.InProgress())
	require.Equal(t, []string{"red"}, s.Winners)
	require.Equal(t, 11, s.EventCount)
	require.Equal(t, 2, s.Round)
	require.Equal(t, game.Team{
		ID: "red", Players: []string{"r1", "r2"}, Score: 10, Guesses: 3, Matches: 2,
	}, s.Teams["red"])
	require.Equal(t, game.Team{
		ID: "blue", Players: []string{"b1", "b2"}, Abandoned: 1,
		Eliminated: true, EliminatedRound: 1, EliminationReason: events.EliminationForfeit,
	}, s.Teams["blue"])
	require.Equal(t, events.EliminationKnockout, s.Teams["green"].EliminationReason)
	require.Equal(t, events.PlayerStats{Guesses: 3, Matches: 2}, s.Players["r1"])
	require.Equal(t, events.PlayerStats{Abandoned: 1}, s.Players["b2"])
	require.Equal(t, s.UpdatedAt, s.CompletedAt)
	require.True(t, s.StartedAt.Before(s.CompletedAt))
	require.NoError(t, s.Check())
}

func TestApplyDoesNotModifyItsInput(t *testing.T) {
	t.Parallel()
	evs := game.Simulate(game.SimConfig{Seed: 3, Mode: events.ModeKnockout, Teams: 5})
	var s game.State
	for i, ev := range evs {
		before := s.Clone()
		next, err := game.Apply(s, ev)
		require.NoError(t, err, "event %d", i+1)
		require.Equal(t, before, s, "event %d changed its input", i+1)

		// Writing through the result must not reach the input either.
		for id, team := range next.Teams {
			team.Players[0] = "mutated"
			next.Teams[id] = team
		}
		for p := range next.Players {
			next.Players[p] = events.PlayerStats{Guesses: 99}
		}
		next.Roles["mutated"] = events.RolePlayer1
		require.Equal(t, before, s, "event %d: the result shares memory with the input", i+1)

		s, err = game.Apply(s, ev)
		require.NoError(t, err)
	}
}

func TestRuleErrorMessage(t *testing.T) {
	t.Parallel()
	p := newPlay(t, events.ModeTwoPlayer)
	_, err := game.Apply(p.s, p.guess("red", true))
	require.EqualError(t, err,
		"apply event 2 (guess_processed): rule round_order: invalid transition: round 1 has not started (current round 0)")
}
