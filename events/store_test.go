package events_test

import (
	"testing"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func typedStore(t *testing.T) *store.Store {
	t.Helper()
	s := store.New(testdb.New(t), store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
	t.Cleanup(s.Close)
	return s
}

// TestStoreRoundTripEveryType appends simulated games of every mode (which
// between them use all eight event types) and reads them back: each decoded
// event equals the original.
func TestStoreRoundTripEveryType(t *testing.T) {
	t.Parallel()
	s := typedStore(t)
	ctx := store.WithGuild(t.Context(), "guild-1")
	seen := map[string]bool{}
	for i, mode := range []events.Mode{events.ModeTwoPlayer, events.ModeKnockout, events.ModeRace} {
		evs := game.Simulate(game.SimConfig{Seed: uint64(40 + i), Mode: mode, GameID: "game-" + string(mode), GuildID: "guild-1",
			Start: time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))})
		batch := make([]store.Event, len(evs))
		for j, ev := range evs {
			batch[j] = store.Event{Data: ev}
		}
		_, err := s.Append(ctx, "game-"+string(mode), store.NoStream, batch...)
		require.NoError(t, err)
		j := 0
		for rec, err := range s.Stream(ctx, "game-"+string(mode), 0, 100) {
			require.NoError(t, err)
			require.Equal(t, evs[j], rec.Event, "event %d (%s)", j+1, rec.Type)
			seen[rec.Type] = true
			j++
		}
		require.Equal(t, len(evs), j)
	}
	for _, proto := range events.All() {
		require.True(t, seen[proto.EventType()], "simulated games cover %s", proto.EventType())
	}
}

// TestStoreRefusesInvalidEvents: invalid events are rejected before
// anything is stored.
func TestStoreRefusesInvalidEvents(t *testing.T) {
	t.Parallel()
	s := typedStore(t)
	ctx := store.WithGuild(t.Context(), "guild-1")
	valid := game.Simulate(game.SimConfig{Seed: 1, GuildID: "guild-1", GameID: "g"})[0].(events.GameStarted)

	noGame := valid
	noGame.GameID = ""
	roundZero := valid
	roundZero.RoundNumber = 0
	badMode := valid
	badMode.Mode = events.Mode("chess")
	otherGuild := valid
	otherGuild.GuildID = "guild-2"

	tests := []struct {
		name string
		ev   events.GameEvent
		want error
	}{
		{"missing game_id", noGame, store.ErrInvalidEventData},
		{"round_number 0", roundZero, store.ErrInvalidEventData},
		{"unknown mode", badMode, store.ErrInvalidEventData},
		{"guild mismatch", otherGuild, store.ErrGuildMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(ctx, "g", store.Any, store.Event{Data: valid}, store.Event{Data: tt.ev})
			require.ErrorIs(t, err, tt.want)
			_, err = s.StreamInfo(ctx, "g")
			require.ErrorIs(t, err, store.ErrStreamNotFound, "nothing stored")
		})
	}
}
