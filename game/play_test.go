package game_test

import (
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
)

// play builds valid events for a hand-played game: each builder returns the
// next valid event of its kind for the current state (without applying it),
// so a test can break exactly one rule by editing it.
type play struct {
	t    *testing.T
	mode events.Mode
	s    game.State
	sec  int
}

// newPlay starts a game: one team (red) in two_player mode, three (red,
// blue, green) otherwise; max_rounds 3, max_guesses 3.
func newPlay(t *testing.T, mode events.Mode) *play {
	t.Helper()
	p := &play{t: t, mode: mode}
	p.apply(p.started())
	return p
}

// started returns a valid game_started.
func (p *play) started() events.GameStarted {
	teams := map[string][]string{"red": {"r1", "r2"}, "blue": {"b1", "b2"}, "green": {"g1", "g2"}}
	if p.mode == events.ModeTwoPlayer {
		teams = map[string][]string{"red": {"r1", "r2"}}
	}
	e := events.GameStarted{
		Base:   p.base(1),
		Teams:  teams,
		Roles:  map[string]events.Role{},
		Config: events.GameConfig{MaxRounds: 3, MaxGuesses: 3, TimeLimitSeconds: 60},
	}
	for id, players := range teams {
		e.TeamIDs.Add(id)
		e.PlayerIDs.Add(players...)
		e.Roles[players[0]], e.Roles[players[1]] = events.RolePlayer1, events.RolePlayer2
	}
	return e
}

// base returns base fields one second after the previous event.
func (p *play) base(round int) events.Base {
	p.sec++
	return events.NewBase("game-1", "guild-1", p.mode, round, time.Date(2025, 1, 1, 0, 0, p.sec, 0, time.UTC))
}

// apply applies ev and requires success.
func (p *play) apply(ev events.GameEvent) {
	p.t.Helper()
	next, err := game.Apply(p.s, ev)
	require.NoError(p.t, err)
	require.NoError(p.t, next.Check())
	p.s = next
}

func (p *play) roundStarted() events.RoundStarted {
	states := map[string]events.TeamState{}
	for id, t := range p.s.Teams {
		ts := t.EventState()
		ts.GuessCount = 0
		states[id] = ts
	}
	return events.RoundStarted{Base: p.base(p.s.Round + 1), TeamStates: states}
}

func (p *play) players(team string) (events.PlayerInfo, events.PlayerInfo) {
	ps := p.s.Teams[team].Players
	return events.PlayerInfo{PlayerID: ps[0], Role: events.RolePlayer1},
		events.PlayerInfo{PlayerID: ps[1], Role: events.RolePlayer2}
}

func (p *play) guess(team string, success bool) events.GuessProcessed {
	p1, p2 := p.players(team)
	e := events.GuessProcessed{
		Base: p.base(max(p.s.Round, 1)), TeamID: team, Player1Info: p1, Player2Info: p2,
		Player1Word: "sun", Player2Word: "moon", GuessCount: p.s.Teams[team].GuessCount + 1,
	}
	if success {
		e.Player2Word, e.GuessSuccessful, e.MatchScore = "sun", true, 5
	}
	return e
}

func (p *play) abandoned(team string) events.GuessAbandoned {
	p1, p2 := p.players(team)
	return events.GuessAbandoned{
		Base: p.base(max(p.s.Round, 1)), TeamID: team, Player1Info: p1, Player2Info: p2,
		Reason: events.AbandonTimeout, GuessCount: p.s.Teams[team].GuessCount + 1,
	}
}

func (p *play) eliminated(team string) events.TeamEliminated {
	t := p.s.Teams[team]
	final := t.EventState()
	final.Active = false
	stats := map[string]events.PlayerStats{}
	for _, pl := range t.Players {
		stats[pl] = p.s.Players[pl]
	}
	return events.TeamEliminated{
		Base: p.base(max(p.s.Round, 1)), TeamID: team, Reason: events.EliminationForfeit,
		FinalState: final, PlayerStats: stats,
	}
}

func (p *play) knockout(out ...string) events.KnockoutRoundCompleted {
	e := events.KnockoutRoundCompleted{Base: p.base(max(p.s.Round, 1)), EliminatedTeams: serde.NewSet(out...)}
	for _, id := range p.s.ActiveTeams() {
		if !e.EliminatedTeams.Has(id) {
			e.AdvancingTeams.Add(id)
		}
	}
	return e
}

func (p *play) expired() events.RaceModeTimeExpired {
	m := map[string]int{}
	for id, t := range p.s.Teams {
		m[id] = t.Matches
	}
	return events.RaceModeTimeExpired{Base: p.base(max(p.s.Round, 1)), FinalMatches: m, GameDurationMs: 60000}
}

func (p *play) completed(winners ...string) events.GameCompleted {
	scores := map[string]int{}
	for id, t := range p.s.Teams {
		scores[id] = t.Score
	}
	return events.GameCompleted{
		Base: p.base(max(p.s.Round, 1)), Winners: serde.NewSet(winners...), FinalScores: maps.Clone(scores),
		GameDurationMs: 1000, TotalRounds: p.s.Round,
	}
}
