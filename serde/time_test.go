package serde_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

func TestTimeMarshal(t *testing.T) {
	t.Parallel()
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name string
		t    serde.Time
		want string
	}{
		{name: "nanoseconds", t: serde.NewTime(time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)), want: `"2026-11-26T10:00:00.123456789Z"`},
		{name: "whole second keeps nine digits", t: serde.NewTime(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)), want: `"2026-11-26T10:00:00.000000000Z"`},
		{name: "non-UTC normalized", t: serde.NewTime(time.Date(2026, 11, 26, 19, 0, 0, 5, tokyo)), want: `"2026-11-26T10:00:00.000000005Z"`},
		{name: "non-UTC without NewTime", t: serde.Time{Time: time.Date(2026, 11, 26, 19, 0, 0, 5, tokyo)}, want: `"2026-11-26T10:00:00.000000005Z"`},
		{name: "zero", t: serde.Time{}, want: `"0001-01-01T00:00:00.000000000Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(tt.t)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(data))

			var back serde.Time
			require.NoError(t, json.Unmarshal(data, &back))
			require.True(t, back.Equal(tt.t.Time))
			require.Equal(t, serde.NewTime(tt.t.Time), back, "decoding gives what NewTime gives")
		})
	}

	t.Run("out of range", func(t *testing.T) {
		t.Parallel()
		_, err := json.Marshal(serde.NewTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
		require.ErrorContains(t, err, "outside 0000-9999")
	})

	t.Run("monotonic reading dropped", func(t *testing.T) {
		t.Parallel()
		now := serde.Now()
		data, err := json.Marshal(now)
		require.NoError(t, err)
		var back serde.Time
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, now, back)
		require.True(t, now == back)
	})

	t.Run("map key", func(t *testing.T) {
		t.Parallel()
		m := map[serde.Time]int{serde.NewTime(time.Date(2026, 1, 1, 1, 0, 0, 0, tokyo)): 1}
		data, err := json.Marshal(m)
		require.NoError(t, err)
		require.Equal(t, `{"2025-12-31T16:00:00.000000000Z":1}`, string(data))
		var back map[serde.Time]int
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, m, back)
	})
}

func TestTimeUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    string // TimeLayout; empty when an error is expected
		wantErr string
	}{
		{name: "nanoseconds", data: `"2026-11-26T10:00:00.123456789Z"`, want: "2026-11-26T10:00:00.123456789Z"},
		{name: "no fraction", data: `"2026-11-26T10:00:00Z"`, want: "2026-11-26T10:00:00.000000000Z"},
		{name: "milliseconds", data: `"2026-11-26T10:00:00.5Z"`, want: "2026-11-26T10:00:00.500000000Z"},
		{name: "offset converted to UTC", data: `"2026-11-26T11:30:00.1+01:30"`, want: "2026-11-26T10:00:00.100000000Z"},
		{name: "zero offset", data: `"2026-11-26T10:00:00+00:00"`, want: "2026-11-26T10:00:00.000000000Z"},
		{name: "not RFC 3339", data: `"Thu, 26 Nov 2026 10:00:00 UTC"`, wantErr: "parsing time"},
		{name: "date only", data: `"2026-11-26"`, wantErr: "parsing time"},
		{name: "number", data: `1764151200`, wantErr: "want an RFC 3339 string"},
		{name: "past year 9999 in UTC", data: `"9999-12-31T23:59:59-01:00"`, wantErr: "outside 0000-9999"},
		{name: "before year 0 in UTC", data: `"0000-01-01T00:00:00+01:00"`, wantErr: "outside 0000-9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got serde.Time
			err := json.Unmarshal([]byte(tt.data), &got)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.String())
			require.Equal(t, time.UTC, got.Location())
		})
	}

	t.Run("null leaves the value unchanged", func(t *testing.T) {
		t.Parallel()
		got := serde.NewTime(time.Unix(1, 0))
		require.NoError(t, json.Unmarshal([]byte(`null`), &got))
		require.Equal(t, serde.NewTime(time.Unix(1, 0)), got)
	})
}
