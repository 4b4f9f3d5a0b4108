package game_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
)

func TestReplay(t *testing.T) {
	t.Parallel()
	evs := game.Simulate(game.SimConfig{Seed: 11, Mode: events.ModeKnockout})
	for _, tc := range []struct {
		name      string
		evs       []events.GameEvent
		wantCount int
		wantRule  string
	}{
		{name: "no events", evs: nil, wantCount: 0},
		{name: "whole game", evs: evs, wantCount: len(evs)},
		{name: "in progress", evs: evs[:5], wantCount: 5},
		{name: "event out of order", evs: append(append([]events.GameEvent{}, evs[:5]...), evs[3]),
			wantCount: 5, wantRule: game.RuleTimeOrder},
		{name: "missing start", evs: evs[1:], wantCount: 0, wantRule: game.RuleFirstEvent},
		{name: "after the end", evs: append(append([]events.GameEvent{}, evs...), evs[1]),
			wantCount: len(evs), wantRule: game.RuleGameOver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := game.Replay(tc.evs)
			require.Equal(t, tc.wantCount, s.EventCount, "the state after the last event that applied")
			require.NoError(t, s.Check())
			if tc.wantRule == "" {
				require.NoError(t, err)
				return
			}
			var re *game.RuleError
			require.True(t, errors.As(err, &re), "got %v", err)
			require.Equal(t, tc.wantRule, re.Rule)
			require.Equal(t, tc.wantCount+1, re.Event)
		})
	}
}
