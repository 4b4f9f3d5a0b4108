package serde_test

import (
	"encoding/json"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

func TestSetOperations(t *testing.T) {
	t.Parallel()
	var s serde.Set[string]
	require.Zero(t, s.Len())
	require.False(t, s.Has("a"))
	require.Equal(t, []string{}, s.Sorted())

	s.Add("b", "a", "b")
	require.Equal(t, 2, s.Len())
	require.True(t, s.Has("a"))
	require.Equal(t, []string{"a", "b"}, s.Sorted())

	c := s.Clone()
	c.Add("c")
	require.False(t, s.Has("c"), "Clone is independent")
	require.False(t, s.Equal(c))
	c.Delete("c", "missing")
	require.True(t, s.Equal(c))

	s.Delete("a", "b")
	require.Zero(t, s.Len())
	require.Equal(t, serde.Set[string]{}, s, "an emptied set equals the zero set")
	require.Equal(t, serde.NewSet[string](), s)
	require.Equal(t, serde.NewSet(3, 1, 2), serde.NewSet(1, 2, 3, 3))
}

func TestSetJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  serde.Set[int]
		want string
	}{
		{name: "zero", set: serde.Set[int]{}, want: `[]`},
		{name: "empty", set: serde.NewSet[int](), want: `[]`},
		{name: "sorted", set: serde.NewSet(10, -3, 2, 0), want: `[-3,0,2,10]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(tt.set)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(data))

			var back serde.Set[int]
			require.NoError(t, json.Unmarshal(data, &back))
			require.Equal(t, tt.set, back)
		})
	}
}

func TestSetUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		want    []string
		wantErr string
	}{
		{name: "empty array", data: `[]`, want: []string{}},
		{name: "null", data: `null`, want: []string{}},
		{name: "unsorted", data: `["c","a","b"]`, want: []string{"a", "b", "c"}},
		{name: "unicode", data: `["é","e","😀"]`, want: []string{"e", "é", "😀"}},
		{name: "duplicate", data: `["a","b","a"]`, wantErr: `invalid event data: duplicate set member "a"`},
		{name: "not an array", data: `{"a":1}`, wantErr: "cannot unmarshal object"},
		{name: "wrong element", data: `["a",1]`, wantErr: "cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serde.NewSet("keep")
			err := json.Unmarshal([]byte(tt.data), &s)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, []string{"keep"}, s.Sorted(), "a failed decode leaves the set unchanged")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, s.Sorted())
		})
	}

	t.Run("duplicate wraps ErrInvalidEventData", func(t *testing.T) {
		t.Parallel()
		var s serde.Set[int]
		require.ErrorIs(t, json.Unmarshal([]byte(`[1,1]`), &s), serde.ErrInvalidEventData)
	})
}
