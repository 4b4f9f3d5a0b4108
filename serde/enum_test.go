package serde_test

import (
	"encoding/json"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

func TestDecodeEnum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    mode
		wantErr string
	}{
		{name: "allowed", data: `"knockout"`, want: knockout},
		{name: "white space", data: ` "race" `, want: race},
		{name: "escaped", data: `"r\u0061ce"`, want: race},
		{name: "not allowed", data: `"chess"`, wantErr: `invalid event data: "chess" is not one of ["two_player" "knockout" "race"]`},
		{name: "wrong case", data: `"Race"`, wantErr: `"Race" is not one of`},
		{name: "empty string", data: `""`, wantErr: `"" is not one of`},
		{name: "null", data: `null`, wantErr: "enum: want a JSON string"},
		{name: "number", data: `1`, wantErr: "enum: want a JSON string"},
		{name: "empty input", data: ``, wantErr: "enum: want a JSON string"},
		{name: "broken string", data: `"race`, wantErr: "enum: want a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := serde.DecodeEnum([]byte(tt.data), modes()...)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("outside the set wraps ErrInvalidEventData", func(t *testing.T) {
		t.Parallel()
		_, err := serde.DecodeEnum([]byte(`"chess"`), modes()...)
		require.ErrorIs(t, err, serde.ErrInvalidEventData)
	})

	t.Run("no allowed values refuses everything", func(t *testing.T) {
		t.Parallel()
		_, err := serde.DecodeEnum[mode]([]byte(`"race"`))
		require.ErrorIs(t, err, serde.ErrInvalidEventData)
	})
}

func TestEncodeEnum(t *testing.T) {
	t.Parallel()
	got, err := serde.EncodeEnum(twoPlayer, modes()...)
	require.NoError(t, err)
	require.Equal(t, `"two_player"`, string(got))

	_, err = serde.EncodeEnum(mode("chess"), modes()...)
	require.ErrorIs(t, err, serde.ErrInvalidEventData)

	require.NoError(t, serde.CheckEnum(race, modes()...))
	require.ErrorIs(t, serde.CheckEnum(mode(""), modes()...), serde.ErrInvalidEventData)

	t.Run("through encoding/json", func(t *testing.T) {
		t.Parallel()
		data, err := json.Marshal(map[string]mode{"m": knockout})
		require.NoError(t, err)
		require.Equal(t, `{"m":"knockout"}`, string(data))
		var back map[string]mode
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, knockout, back["m"])
	})
}

func TestAppendEnum(t *testing.T) {
	t.Parallel()
	buf := []byte(`{"m":`)
	got, err := serde.AppendEnum(buf, knockout, modes()...)
	require.NoError(t, err)
	require.Equal(t, `{"m":"knockout"`, string(got))

	got, err = serde.AppendEnum(buf, mode("chess"), modes()...)
	require.ErrorIs(t, err, serde.ErrInvalidEventData)
	require.ErrorContains(t, err, `"chess" is not one of ["two_player" "knockout" "race"]`)
	require.Equal(t, `{"m":`, string(got), "nothing appended")
}

// plainLevel encodes itself with MarshalJSON only; appendingLevel is also
// a serde.JSONAppender.
type (
	plainLevel     string
	appendingLevel string
)

func (l plainLevel) MarshalJSON() ([]byte, error) { return serde.EncodeEnum(l, "low", "high") }
func (l appendingLevel) MarshalJSON() ([]byte, error) {
	return serde.EncodeEnum(l, "low", "high")
}
func (l appendingLevel) AppendJSON(buf []byte) ([]byte, error) {
	return serde.AppendEnum(buf, l, "low", "high")
}

// TestFastEncodeJSONAppender: the JSON serializer's encoder appends a
// serde.JSONAppender's JSON to its buffer instead of asking MarshalJSON
// for a slice of its own: the same bytes as encoding/json, one allocation
// fewer a value, and a failing AppendJSON leaves the value to
// encoding/json, whose MarshalJSON error Marshal returns.
func TestFastEncodeJSONAppender(t *testing.T) {
	type appending struct {
		A, B, C appendingLevel
		P       plainLevel
	}
	type plain struct {
		A, B, C plainLevel
		P       plainLevel
	}
	v := appending{A: "low", B: "high", C: "low", P: "high"}
	fast, ok := serde.FastEncode(v)
	require.True(t, ok)
	slow, err := serde.SlowEncode(v)
	require.NoError(t, err)
	require.Equal(t, `{"A":"low","B":"high","C":"low","P":"high"}`, string(fast))
	require.Equal(t, string(slow), string(fast))

	w := plain{A: "low", B: "high", C: "low", P: "high"}
	appendAllocs := testing.AllocsPerRun(100, func() { serde.FastEncode(v) })
	plainAllocs := testing.AllocsPerRun(100, func() { serde.FastEncode(w) })
	require.Equal(t, plainAllocs-3, appendAllocs, "three appending fields, three slices fewer")

	v.B = "urgent"
	_, ok = serde.FastEncode(v)
	require.False(t, ok, "AppendJSON failed: the fast encoder gives up")
	_, err = serde.SlowEncode(v)
	require.ErrorIs(t, err, serde.ErrInvalidEventData)
	require.ErrorContains(t, err, `"urgent" is not one of`)
}
