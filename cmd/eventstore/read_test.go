package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// versionsAndN returns the versions and the "n" fields of --json events.
func versionsAndN(t *testing.T, out string) (versions []int64, ns []int) {
	t.Helper()
	for _, e := range jsonLines[eventJSON](t, out) {
		var d struct{ N int }
		require.NoError(t, json.Unmarshal(e.Data, &d))
		versions = append(versions, e.Version)
		ns = append(ns, d.N)
	}
	return versions, ns
}

func seq(from, to int64) []int64 {
	var out []int64
	step := int64(1)
	if to < from {
		step = -1
	}
	for v := from; ; v += step {
		out = append(out, v)
		if v == to {
			return out
		}
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 5)
	b.numbered(t, "guild-1", "long", 1200)

	tests := []struct {
		name string
		args []string
		want []int64
	}{
		{"whole stream", []string{"read", "game-1"}, seq(1, 5)},
		{"from and count", []string{"read", "game-1", "--from", "3", "--count", "2"}, seq(3, 4)},
		{"from 0 is the start", []string{"read", "game-1", "--from", "0", "--count", "1"}, seq(1, 1)},
		{"backward from 0 is the end", []string{"read", "game-1", "--backward", "--from", "0", "--count", "1"}, seq(5, 5)},
		{"backward", []string{"read", "game-1", "--backward"}, seq(5, 1)},
		{"backward from and count", []string{"read", "--backward", "--from", "3", "--count", "2", "game-1"}, seq(3, 2)},
		{"backward from past the end", []string{"read", "game-1", "--backward", "--from", "99", "--count", "1"}, seq(5, 5)},
		{"default count is 100", []string{"read", "long"}, seq(1, 100)},
		{"pages past the store's batch limit", []string{"read", "long", "--count", "1100"}, seq(1, 1100)},
		{"pages from the middle", []string{"read", "long", "--from", "150", "--count", "5000"}, seq(150, 1200)},
		{"pages backward", []string{"read", "long", "--backward", "--count", "1100"}, seq(1200, 101)},
		{"pages backward to the start", []string{"read", "long", "--backward", "--from", "1050", "--count", "5000"}, seq(1050, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.cli(t, append([]string{"--json"}, tt.args...)...)
			requireOK(t, r)
			versions, ns := versionsAndN(t, r.stdout)
			require.Equal(t, tt.want, versions)
			for i, v := range versions {
				require.Equal(t, int(v), ns[i], "event %d carries its own data", v)
			}
		})
	}
}

func TestReadText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.appendEvents(t, "guild-1", "game-1",
		fixtureEvent{"game_started", `{"mode": "race", "game_id": "game-1"}`},
		fixtureEvent{"guess_processed", `{"word": "apple"}`})

	r := b.cli(t, "read", "game-1")
	requireOK(t, r)
	out := lines(r.stdout)
	require.Len(t, out, 2)
	require.Regexp(t, `^\s+1  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  game_started v1  \{"mode":"race","game_id":"game-1"\}$`, out[0])
	require.Regexp(t, `^\s+2  .*  guess_processed v1  \{"word":"apple"\}$`, out[1])
}

func TestReadJSONFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.appendEvents(t, "guild-7", "game-1", fixtureEvent{"game_started", `{"mode": "race"}`})
	want, err := b.store.ReadForward(t.Context(), "game-1", 1, 1)
	require.NoError(t, err)

	r := b.cli(t, "read", "game-1", "--json")
	requireOK(t, r)
	got := jsonLines[eventJSON](t, r.stdout)
	require.Len(t, got, 1)
	e := got[0]
	require.Equal(t, "game-1", e.StreamID)
	require.Equal(t, int64(1), e.Version)
	require.Equal(t, res.FirstPosition, e.GlobalPosition)
	require.Equal(t, want[0].Checkpoint().String(), e.Checkpoint)
	require.Equal(t, want[0].ID, e.ID)
	require.Equal(t, "game_started", e.Type)
	require.Equal(t, 1, e.TypeVersion)
	require.Equal(t, "guild-7", e.GuildID)
	require.JSONEq(t, `{"mode":"race"}`, string(e.Data))
	require.True(t, want[0].CreatedAt.Equal(e.CreatedAt))
}

func TestReadErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "gone", 2)
	_, err := b.store.DeleteStream(t.Context(), "gone", store.Any)
	require.NoError(t, err)
	b.numbered(t, "guild-1", "game-1", 2)

	requireFail(t, b.cli(t, "read", "nope"), `eventstore read: read stream "nope": stream not found`)
	requireFail(t, b.cli(t, "read", "gone"), `read stream "gone": stream deleted`)
	requireFail(t, b.cli(t, "read", "nope", "--backward"), `stream not found`)

	// Past the end of an existing stream is not an error: nothing to print.
	r := b.cli(t, "read", "game-1", "--from", "3")
	requireOK(t, r)
	require.Empty(t, r.stdout)
}

func TestReadManyStreamsConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const streams = 8
	for i := range streams {
		b.numbered(t, "guild-1", fmt.Sprintf("game-%d", i), i+1)
	}
	for i := range streams {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			r := b.cli(t, "--json", "read", fmt.Sprintf("game-%d", i))
			requireOK(t, r)
			versions, _ := versionsAndN(t, r.stdout)
			require.Equal(t, seq(1, int64(i+1)), versions)
		})
	}
}
