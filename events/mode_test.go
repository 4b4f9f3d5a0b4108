package events_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func TestMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		want  events.Mode
		valid bool
	}{
		{name: "two_player", in: "two_player", want: events.ModeTwoPlayer, valid: true},
		{name: "knockout", in: "knockout", want: events.ModeKnockout, valid: true},
		{name: "race", in: "race", want: events.ModeRace, valid: true},
		{name: "unknown", in: "solo"},
		{name: "empty", in: ""},
		{name: "wrong case", in: "Race"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.ParseMode(tc.in)
			require.Equal(t, tc.valid, events.Mode(tc.in).Valid())
			var m events.Mode
			jerr := json.Unmarshal([]byte(`"`+tc.in+`"`), &m)
			if !tc.valid {
				require.ErrorIs(t, err, serde.ErrInvalidEventData)
				require.ErrorIs(t, jerr, serde.ErrInvalidEventData)
				_, merr := json.Marshal(events.Mode(tc.in))
				require.Error(t, merr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, jerr)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.want, m)
			b, err := json.Marshal(tc.want)
			require.NoError(t, err)
			require.JSONEq(t, `"`+tc.in+`"`, string(b))
		})
	}
}

func TestModeRejectsNonStrings(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`1`, `null`, `["race"]`} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			var m events.Mode
			require.Error(t, json.Unmarshal([]byte(in), &m))
		})
	}
}
