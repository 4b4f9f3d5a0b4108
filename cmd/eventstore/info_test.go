package main

import (
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestInfo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.appendEvents(t, "guild-1", "game-1",
		fixtureEvent{"game_started", `{"mode": "race"}`},
		fixtureEvent{"guess_processed", `{"word": "apple"}`},
		fixtureEvent{"game_completed", `{"winner": "team-1"}`})
	require.NoError(t, b.store.CreateStream(store.WithGuild(t.Context(), "guild-2"), "empty"))
	b.numbered(t, "guild-1", "gone", 1)
	_, err := b.store.DeleteStream(t.Context(), "gone", store.Exact(1))
	require.NoError(t, err)

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		want, err := b.store.StreamInfo(t.Context(), "game-1")
		require.NoError(t, err)
		r := b.cli(t, "info", "game-1", "--json")
		requireOK(t, r)
		got := decodeJSON[streamInfoJSON](t, r.stdout)
		require.Equal(t, "game-1", got.StreamID)
		require.Equal(t, "guild-1", got.GuildID)
		require.Equal(t, int64(3), got.Version)
		require.Equal(t, "active", got.Status)
		require.True(t, want.CreatedAt.Equal(got.CreatedAt))
		require.Nil(t, got.DeletedAt)
		require.NotNil(t, got.FirstEvent)
		require.NotNil(t, got.LastEvent)
		require.Equal(t, "game_started", got.FirstEvent.Type)
		require.Equal(t, int64(1), got.FirstEvent.Version)
		require.Equal(t, "game_completed", got.LastEvent.Type)
		require.Equal(t, int64(3), got.LastEvent.Version)
	})
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "info", "game-1")
		requireOK(t, r)
		require.Regexp(t, `(?m)^stream\s+game-1$`, r.stdout)
		require.Regexp(t, `(?m)^guild\s+guild-1$`, r.stdout)
		require.Regexp(t, `(?m)^version\s+3$`, r.stdout)
		require.Regexp(t, `(?m)^status\s+active$`, r.stdout)
		require.Regexp(t, `(?m)^first event\s+1  \S+Z  game_started v1$`, r.stdout)
		require.Regexp(t, `(?m)^last event\s+3  \S+Z  game_completed v1$`, r.stdout)
	})
	t.Run("empty stream", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "info", "empty", "--json")
		requireOK(t, r)
		got := decodeJSON[streamInfoJSON](t, r.stdout)
		require.Equal(t, "guild-2", got.GuildID)
		require.Equal(t, int64(0), got.Version)
		require.Nil(t, got.FirstEvent)
		require.Nil(t, got.LastEvent)
	})
	t.Run("deleted stream", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "info", "gone", "--json")
		requireOK(t, r)
		got := decodeJSON[streamInfoJSON](t, r.stdout)
		require.Equal(t, "deleted", got.Status)
		require.NotNil(t, got.DeletedAt)
		require.Equal(t, int64(1), got.Version)

		r = b.cli(t, "info", "gone")
		requireOK(t, r)
		require.Regexp(t, `(?m)^status\s+deleted$`, r.stdout)
		require.Regexp(t, `(?m)^deleted\s+\S+Z$`, r.stdout)
	})
	t.Run("unknown stream", func(t *testing.T) {
		t.Parallel()
		requireFail(t, b.cli(t, "info", "nope"), `eventstore info: stream info "nope": stream not found`)
	})
}
