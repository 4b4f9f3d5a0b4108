package game_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
)

func TestSimulateReplays(t *testing.T) {
	t.Parallel()
	configs := []game.SimConfig{
		{Mode: events.ModeTwoPlayer},
		{Mode: events.ModeTwoPlayer, Rounds: 7, MaxGuesses: 2},
		{Mode: events.ModeKnockout},
		{Mode: events.ModeKnockout, Teams: 2, MaxGuesses: 1},
		{Mode: events.ModeKnockout, Teams: 9},
		{Mode: events.ModeRace},
		{Mode: events.ModeRace, Teams: 1},
		{Mode: events.ModeRace, Teams: 6, Rounds: 3, MaxGuesses: 4},
	}
	for _, base := range configs {
		t.Run(fmt.Sprintf("%s/teams=%d/rounds=%d/max=%d", base.Mode, base.Teams, base.Rounds, base.MaxGuesses),
			func(t *testing.T) {
				t.Parallel()
				for seed := range uint64(150) {
					cfg := base
					cfg.Seed = seed
					evs := game.Simulate(cfg)
					requireGame(t, cfg, evs)
				}
			})
	}
}

// requireGame checks a complete simulated game: every event is valid and
// applies, Check holds after each, timestamps strictly increase, the game
// starts with game_started and ends with game_completed, and it uses the
// event types its mode should.
func requireGame(t *testing.T, cfg game.SimConfig, evs []events.GameEvent) {
	t.Helper()
	var s game.State
	types := map[string]int{}
	var last time.Time
	for i, ev := range evs {
		require.NoError(t, ev.Validate(), "seed %d event %d", cfg.Seed, i+1)
		next, err := game.Apply(s, ev)
		require.NoError(t, err, "seed %d", cfg.Seed)
		require.NoError(t, next.Check(), "seed %d event %d", cfg.Seed, i+1)
		ts := ev.GameBase().Time()
		require.True(t, ts.After(last), "seed %d event %d: %s not after %s", cfg.Seed, i+1, ts, last)
		last = ts
		s = next
		types[ev.EventType()]++
	}
	require.Equal(t, "game_started", evs[0].EventType())
	require.Equal(t, "game_completed", evs[len(evs)-1].EventType())
	require.True(t, s.Completed())
	require.NotEmpty(t, s.Winners)
	require.Equal(t, 1, types["game_started"])
	require.Equal(t, 1, types["game_completed"])
	require.Positive(t, types["round_started"])
	require.Positive(t, types["guess_processed"])

	replayed, err := game.Replay(evs)
	require.NoError(t, err)
	require.Equal(t, s, replayed)

	switch s.Mode {
	case events.ModeTwoPlayer:
		require.Equal(t, s.Config.MaxRounds, types["round_started"])
		require.Zero(t, types["team_eliminated"]+types["knockout_round_completed"]+types["race_mode_time_expired"])
	case events.ModeKnockout:
		require.Len(t, s.ActiveTeams(), 1)
		require.Equal(t, s.ActiveTeams(), s.Winners)
		require.Equal(t, types["round_started"], types["knockout_round_completed"])
		require.Zero(t, types["race_mode_time_expired"])
	case events.ModeRace:
		require.Equal(t, 1, types["race_mode_time_expired"])
		require.Equal(t, "race_mode_time_expired", evs[len(evs)-2].EventType())
		require.Zero(t, types["knockout_round_completed"])
	}
}

func TestSimulateCoversEveryEventType(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for seed := range uint64(50) {
		for _, mode := range events.Modes() {
			for _, ev := range game.Simulate(game.SimConfig{Seed: seed, Mode: mode}) {
				seen[ev.EventType()] = true
			}
		}
	}
	for _, proto := range events.All() {
		require.True(t, seen[proto.EventType()], "no simulated game has %s", proto.EventType())
	}
}

func TestSimulateIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, mode := range events.Modes() {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			cfg := game.SimConfig{Seed: 42, Mode: mode}
			require.Equal(t, game.Simulate(cfg), game.Simulate(cfg))
			other := cfg
			other.Seed = 43
			require.NotEqual(t, game.Simulate(cfg), game.Simulate(other))
		})
	}
}

func TestSimulateDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		cfg       game.SimConfig
		mode      events.Mode
		teams     int
		maxRounds int
		maxGuess  int
	}{
		{name: "zero config", cfg: game.SimConfig{}, mode: events.ModeTwoPlayer, teams: 1, maxRounds: 3, maxGuess: 6},
		{name: "two_player ignores teams", cfg: game.SimConfig{Mode: events.ModeTwoPlayer, Teams: 5},
			mode: events.ModeTwoPlayer, teams: 1, maxRounds: 3, maxGuess: 6},
		{name: "unknown mode", cfg: game.SimConfig{Mode: "solo"}, mode: events.ModeTwoPlayer, teams: 1, maxRounds: 3, maxGuess: 6},
		{name: "knockout", cfg: game.SimConfig{Mode: events.ModeKnockout}, mode: events.ModeKnockout,
			teams: 4, maxRounds: 3, maxGuess: 6},
		{name: "knockout with one team", cfg: game.SimConfig{Mode: events.ModeKnockout, Teams: 1, Rounds: 9},
			mode: events.ModeKnockout, teams: 2, maxRounds: 1, maxGuess: 6},
		{name: "race", cfg: game.SimConfig{Mode: events.ModeRace}, mode: events.ModeRace, teams: 3, maxRounds: 1},
		{name: "race with negative values", cfg: game.SimConfig{Mode: events.ModeRace, Teams: -1, Rounds: -2, MaxGuesses: -3},
			mode: events.ModeRace, teams: 1, maxRounds: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs := game.Simulate(tc.cfg)
			start, ok := evs[0].(events.GameStarted)
			require.True(t, ok)
			require.Equal(t, tc.mode, start.Mode)
			require.Len(t, start.Teams, tc.teams)
			require.Equal(t, tc.maxRounds, start.Config.MaxRounds)
			require.Equal(t, tc.maxGuess, start.Config.MaxGuesses)
			require.Equal(t, "guild-1", start.GuildID)
			require.Equal(t, fmt.Sprintf("game-%d", tc.cfg.Seed), start.GameID)
			require.Equal(t, time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), start.Time())
		})
	}
}

func TestSimulateUsesIDsAndStart(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 6, 1, 8, 30, 0, 0, time.FixedZone("X", 3600))
	evs := game.Simulate(game.SimConfig{Seed: 1, Mode: events.ModeRace, GameID: "g-9", GuildID: "guild-9", Start: start})
	for _, ev := range evs {
		b := ev.GameBase()
		require.Equal(t, "g-9", b.GameID)
		require.Equal(t, "guild-9", b.GuildID)
		require.Equal(t, events.ModeRace, b.Mode)
		require.Equal(t, time.UTC, b.Time().Location())
	}
	require.True(t, evs[0].GameBase().Time().Equal(start))
}

func TestSimulateStopAfter(t *testing.T) {
	t.Parallel()
	for _, mode := range events.Modes() {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			full := game.Simulate(game.SimConfig{Seed: 9, Mode: mode})
			for n := 1; n < len(full); n++ {
				part := game.Simulate(game.SimConfig{Seed: 9, Mode: mode, StopAfter: n})
				require.Equal(t, full[:n], part)
				s, err := game.Replay(part)
				require.NoError(t, err)
				require.NoError(t, s.Check())
				require.True(t, s.InProgress(), "after %d of %d events", n, len(full))
				require.Equal(t, n, s.EventCount)
			}
			require.Equal(t, full, game.Simulate(game.SimConfig{Seed: 9, Mode: mode, StopAfter: len(full) + 5}))
		})
	}
}

func TestSimulatedEventsRoundTripJSON(t *testing.T) {
	t.Parallel()
	j := serde.NewJSON(events.NewRegistry())
	for _, mode := range events.Modes() {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			evs := game.Simulate(game.SimConfig{Seed: 5, Mode: mode})
			decoded := make([]events.GameEvent, len(evs))
			for i, ev := range evs {
				b, err := j.Marshal(ev)
				require.NoError(t, err)
				got, err := j.Unmarshal(ev.EventType(), ev.EventVersion(), b)
				require.NoError(t, err)
				require.Equal(t, ev, got)
				decoded[i] = got.(events.GameEvent)
			}
			want, err := game.Replay(evs)
			require.NoError(t, err)
			got, err := game.Replay(decoded)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func BenchmarkSimulate(b *testing.B) {
	for _, mode := range events.Modes() {
		b.Run(string(mode), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				game.Simulate(game.SimConfig{Seed: uint64(i), Mode: mode, Teams: 8})
			}
		})
	}
}

func BenchmarkReplay(b *testing.B) {
	for _, mode := range events.Modes() {
		evs := game.Simulate(game.SimConfig{Seed: 1, Mode: mode, Teams: 8, Rounds: 5})
		b.Run(fmt.Sprintf("%s/%d_events", mode, len(evs)), func(b *testing.B) {
			for b.Loop() {
				if _, err := game.Replay(evs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
