package main

import (
	"encoding/json"
	"testing"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	typed := store.New(b.pool, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
	defer typed.Close()
	evs := game.Simulate(game.SimConfig{Seed: 7, Mode: events.ModeKnockout, GameID: "game-7", GuildID: "guild-1"})
	_, err := game.AppendGame(store.WithGuild(t.Context(), "guild-1"), typed, evs, 50)
	require.NoError(t, err)
	want, err := game.Replay(evs)
	require.NoError(t, err)

	r := b.cli(t, "replay", "game-7")
	requireOK(t, r)
	require.Contains(t, r.stdout, "game game-7 (guild guild-1, knockout): completed")
	require.Contains(t, r.stdout, "winners: "+want.Winners[0])

	r = b.cli(t, "--json", "replay", "game-7", "--full")
	requireOK(t, r)
	var got replayJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, int64(len(evs)), got.Version)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	gotJSON, err := json.Marshal(got.State)
	require.NoError(t, err)
	require.JSONEq(t, string(wantJSON), string(gotJSON))
	require.Empty(t, got.Skipped)
}

func TestReplayErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(store.WithGuild(t.Context(), "guild-1"), "not-a-game", store.NoStream,
		store.Event{Data: serde.Raw{Type: "note", Version: 1, Data: json.RawMessage(`{"text":"hi"}`)}})
	require.NoError(t, err)

	requireFail(t, b.cli(t, "replay"), "want exactly one game id")
	requireFail(t, b.cli(t, "replay", "a", "b"), "want exactly one game id")
	requireFail(t, b.cli(t, "replay", ""), "invalid stream id")
	requireFail(t, b.cli(t, "replay", "game-404"), "stream not found")
	requireFail(t, b.cli(t, "replay", "not-a-game"), "not-a-game")
	requireFail(t, runCLI(t, "replay", "game-1"), "no database")
}
