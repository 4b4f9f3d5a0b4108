package events_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func TestFieldError(t *testing.T) {
	t.Parallel()
	ev := validGameStarted()
	ev.GameID = ""
	err := ev.Validate()
	require.EqualError(t, err, "invalid event data: game_started v1: game_id: required")
	require.ErrorIs(t, err, serde.ErrInvalidEventData)
	var fe *events.FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, events.FieldError{
		EventType: "game_started", EventVersion: 1, Field: "game_id", Reason: "required",
	}, *fe)
}

func TestValidateReportsFirstBrokenField(t *testing.T) {
	t.Parallel()
	ev := validGuessProcessed()
	ev.GuildID = ""
	ev.TeamID = ""
	var fe *events.FieldError
	require.ErrorAs(t, ev.Validate(), &fe)
	require.Equal(t, "guild_id", fe.Field)
}
