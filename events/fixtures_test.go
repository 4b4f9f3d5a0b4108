package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

// testTime is the timestamp of every fixture.
func testTime() time.Time { return time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC) }

// testBase returns valid base fields.
func testBase(mode events.Mode, round int) events.Base {
	b := events.NewBase("game-1", "guild-1", mode, round, testTime())
	b.Metadata = map[string]string{"channel_id": "chan-1"}
	return b
}

func validGameStarted() events.GameStarted {
	return events.GameStarted{
		Base:      testBase(events.ModeKnockout, 1),
		Teams:     map[string][]string{"red": {"p1", "p2"}, "blue": {"p3", "p4"}},
		TeamIDs:   serde.NewSet("red", "blue"),
		PlayerIDs: serde.NewSet("p1", "p2", "p3", "p4"),
		Roles: map[string]events.Role{
			"p1": events.RolePlayer1, "p2": events.RolePlayer2,
			"p3": events.RolePlayer1, "p4": events.RolePlayer2,
		},
		Config: events.GameConfig{MaxRounds: 3, MaxGuesses: 5, TimeLimitSeconds: 300, WordList: "default"},
	}
}

func validRoundStarted() events.RoundStarted {
	return events.RoundStarted{
		Base: testBase(events.ModeKnockout, 2),
		TeamStates: map[string]events.TeamState{
			"red":  {Score: 10, Matches: 1, Active: true},
			"blue": {Score: 0, Active: false},
		},
	}
}

func validGuessProcessed() events.GuessProcessed {
	return events.GuessProcessed{
		Base:            testBase(events.ModeKnockout, 1),
		TeamID:          "red",
		Player1Info:     events.PlayerInfo{PlayerID: "p1", Name: "Ann", Role: events.RolePlayer1},
		Player2Info:     events.PlayerInfo{PlayerID: "p2", Name: "Bob", Role: events.RolePlayer2},
		Player1Word:     "apple",
		Player2Word:     "apple",
		GuessSuccessful: true,
		GuessCount:      2,
		MatchScore:      8,
		GuessDurationMs: 4200,
	}
}

func validGuessAbandoned() events.GuessAbandoned {
	return events.GuessAbandoned{
		Base:        testBase(events.ModeKnockout, 1),
		TeamID:      "red",
		Player1Info: events.PlayerInfo{PlayerID: "p1"},
		Player2Info: events.PlayerInfo{PlayerID: "p2"},
		Reason:      events.AbandonTimeout,
		GuessCount:  1,
		LastGuess:   &events.LastGuess{PlayerID: "p2", Word: "river"},
	}
}

func validTeamEliminated() events.TeamEliminated {
	return events.TeamEliminated{
		Base:       testBase(events.ModeKnockout, 1),
		TeamID:     "blue",
		Reason:     events.EliminationMaxGuesses,
		FinalState: events.TeamState{Score: 0, GuessCount: 5},
		PlayerStats: map[string]events.PlayerStats{
			"p3": {Guesses: 5, Matches: 0},
			"p4": {Guesses: 5, Matches: 0, Abandoned: 1},
		},
	}
}

func validGameCompleted() events.GameCompleted {
	return events.GameCompleted{
		Base:           testBase(events.ModeKnockout, 3),
		Winners:        serde.NewSet("red"),
		FinalScores:    map[string]int{"red": 24, "blue": 6},
		GameDurationMs: 185000,
		TotalRounds:    3,
	}
}

func validKnockoutRoundCompleted() events.KnockoutRoundCompleted {
	return events.KnockoutRoundCompleted{
		Base:            testBase(events.ModeKnockout, 1),
		EliminatedTeams: serde.NewSet("blue"),
		AdvancingTeams:  serde.NewSet("red", "green"),
	}
}

func validRaceModeTimeExpired() events.RaceModeTimeExpired {
	return events.RaceModeTimeExpired{
		Base:           testBase(events.ModeRace, 1),
		FinalMatches:   map[string]int{"red": 4, "blue": 0},
		GameDurationMs: 120000,
	}
}

// validEvents returns one valid fixture of each event type, in All's order.
func validEvents() []events.GameEvent {
	return []events.GameEvent{
		validGameStarted(), validRoundStarted(), validGuessProcessed(), validGuessAbandoned(),
		validTeamEliminated(), validGameCompleted(), validKnockoutRoundCompleted(),
		validRaceModeTimeExpired(),
	}
}

// validateCase is one Validate table row: mutate a valid fixture and expect
// a *FieldError on field ("" means the event stays valid).
type validateCase[E events.GameEvent] struct {
	name   string
	mutate func(*E)
	field  string
}

// baseCases returns the base-field rows for an event type.
func baseCases[E events.GameEvent](base func(*E) *events.Base) []validateCase[E] {
	return []validateCase[E]{
		{name: "valid", mutate: func(*E) {}},
		{name: "no metadata is valid", mutate: func(e *E) { base(e).Metadata = nil }},
		{name: "game_id blank", mutate: func(e *E) { base(e).GameID = "" }, field: "game_id"},
		{name: "game_id white space", mutate: func(e *E) { base(e).GameID = " \t" }, field: "game_id"},
		{name: "guild_id blank", mutate: func(e *E) { base(e).GuildID = "" }, field: "guild_id"},
		{name: "mode blank", mutate: func(e *E) { base(e).Mode = "" }, field: "mode"},
		{name: "mode unknown", mutate: func(e *E) { base(e).Mode = "solo" }, field: "mode"},
		{name: "round_number zero", mutate: func(e *E) { base(e).RoundNumber = 0 }, field: "round_number"},
		{name: "round_number negative", mutate: func(e *E) { base(e).RoundNumber = -1 }, field: "round_number"},
		{name: "timestamp zero", mutate: func(e *E) { base(e).Timestamp = serde.Time{} }, field: "timestamp"},
		{
			name:   "metadata empty key",
			mutate: func(e *E) { base(e).Metadata = map[string]string{"": "x"} },
			field:  "metadata key",
		},
	}
}

// runValidate runs Validate table rows against fresh copies of valid().
func runValidate[E events.GameEvent](t *testing.T, valid func() E, cases []validateCase[E]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := valid()
			tc.mutate(&ev)
			err := ev.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, serde.ErrInvalidEventData)
			var fe *events.FieldError
			require.True(t, errors.As(err, &fe), "want a *FieldError, got %T: %v", err, err)
			require.Equal(t, tc.field, fe.Field, "error: %v", err)
			require.Equal(t, ev.EventType(), fe.EventType)
			require.Equal(t, 1, fe.EventVersion)
			require.Contains(t, err.Error(), ev.EventType()+" v1: "+tc.field+": ")
		})
	}
}
