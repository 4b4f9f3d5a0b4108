package events_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

// enum describes one string enumeration for the shared table test.
type enum struct {
	name  string
	known []string
	parse func(string) error
	valid func(string) bool
	json  func([]byte) error
}

func newEnum[T ~string](name string, all []T, parse func(string) (T, error), valid func(T) bool) enum {
	known := make([]string, len(all))
	for i, v := range all {
		known[i] = string(v)
	}
	return enum{
		name:  name,
		known: known,
		parse: func(s string) error { _, err := parse(s); return err },
		valid: func(s string) bool { return valid(T(s)) },
		json: func(b []byte) error {
			var v T
			return json.Unmarshal(b, &v)
		},
	}
}

func TestEnums(t *testing.T) {
	t.Parallel()
	for _, e := range []enum{
		newEnum("role", events.Roles(), events.ParseRole, events.Role.Valid),
		newEnum("abandon reason", events.AbandonReasons(), events.ParseAbandonReason, events.AbandonReason.Valid),
		newEnum("elimination reason", events.EliminationReasons(), events.ParseEliminationReason,
			events.EliminationReason.Valid),
	} {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, e.known)
			for _, k := range e.known {
				require.NoError(t, e.parse(k))
				require.True(t, e.valid(k))
				require.NoError(t, e.json([]byte(`"`+k+`"`)))
			}
			for _, bad := range []string{"", "unknown", "TIMEOUT"} {
				require.ErrorIs(t, e.parse(bad), serde.ErrInvalidEventData, bad)
				require.False(t, e.valid(bad))
				require.ErrorIs(t, e.json([]byte(`"`+bad+`"`)), serde.ErrInvalidEventData, bad)
			}
		})
	}
}

func TestEnumValues(t *testing.T) {
	t.Parallel()
	require.Equal(t, []events.Role{"player1", "player2"}, events.Roles())
	require.Equal(t, []events.AbandonReason{"timeout", "player_quit", "disconnected", "invalid_word"},
		events.AbandonReasons())
	require.Equal(t, []events.EliminationReason{"max_guesses", "timeout", "forfeit", "knockout"},
		events.EliminationReasons())
	require.Equal(t, []events.Mode{"two_player", "knockout", "race"}, events.Modes())
}
