package game_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
)

func TestZeroState(t *testing.T) {
	t.Parallel()
	var s game.State
	require.False(t, s.Started())
	require.False(t, s.InProgress())
	require.False(t, s.Completed())
	require.Empty(t, s.TeamIDs())
	require.Empty(t, s.ActiveTeams())
	require.NoError(t, s.Check())
}

func TestStateClone(t *testing.T) {
	t.Parallel()
	s, err := game.Replay(game.Simulate(game.SimConfig{Seed: 2, Mode: events.ModeKnockout}))
	require.NoError(t, err)
	c := s.Clone()
	require.Equal(t, s, c)
	c.Teams["team-1"].Players[0] = "x"
	c.Roles["x"] = events.RolePlayer1
	c.Players["x"] = events.PlayerStats{}
	c.Winners[0] = "x"
	require.NotEqual(t, s, c)
	require.NotEqual(t, "x", s.Teams["team-1"].Players[0])
	require.NotContains(t, s.Roles, "x")
	require.NotContains(t, s.Players, "x")
	require.NotEqual(t, "x", s.Winners[0])
}

func TestStateTeams(t *testing.T) {
	t.Parallel()
	p := newPlay(t, events.ModeKnockout)
	require.Equal(t, []string{"blue", "green", "red"}, p.s.TeamIDs())
	p.apply(p.roundStarted())
	p.apply(p.knockout("green"))
	require.Equal(t, []string{"blue", "red"}, p.s.ActiveTeams())
	require.Equal(t, []string{"blue", "green", "red"}, p.s.TeamIDs())
	require.False(t, p.s.Teams["green"].Active())
	require.Equal(t, events.TeamState{Active: false}, p.s.Teams["green"].EventState())
}

func TestStateJSONRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := game.Replay(game.Simulate(game.SimConfig{Seed: 4, Mode: events.ModeRace}))
	require.NoError(t, err)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var back game.State
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Check())
	require.True(t, s.UpdatedAt.Equal(back.UpdatedAt))
	back.StartedAt, back.UpdatedAt, back.CompletedAt = s.StartedAt, s.UpdatedAt, s.CompletedAt
	require.Equal(t, s, back)
}
