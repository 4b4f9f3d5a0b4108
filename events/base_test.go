package events_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
)

func TestNewBaseNormalisesTime(t *testing.T) {
	t.Parallel()
	local := time.Date(2025, 3, 14, 17, 9, 26, 535897932, time.FixedZone("CEST", 2*3600))
	b := events.NewBase("g", "guild", events.ModeRace, 1, local)
	require.Equal(t, time.UTC, b.Time().Location())
	require.True(t, b.Time().Equal(local))
	require.Nil(t, b.Metadata)
}

func TestGameBaseCopiesMetadata(t *testing.T) {
	t.Parallel()
	ev := validGuessProcessed()
	b := ev.GameBase()
	require.Equal(t, ev.Base, b)
	b.Metadata["channel_id"] = "other"
	require.Equal(t, "chan-1", ev.Metadata["channel_id"])
}

func TestEveryEventIsAGameEvent(t *testing.T) {
	t.Parallel()
	for _, ev := range events.All() {
		t.Run(ev.EventType(), func(t *testing.T) {
			t.Parallel()
			ge, ok := ev.(events.GameEvent)
			require.True(t, ok, "%T is not a GameEvent", ev)
			require.Equal(t, events.Base{}, ge.GameBase())
			require.Error(t, ge.Validate(), "a zero event is invalid")
		})
	}
}
