package game_test

import (
	"fmt"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
)

func ExampleSimulate() {
	evs := game.Simulate(game.SimConfig{Seed: 1, Mode: events.ModeKnockout, Teams: 3})
	s, err := game.Replay(evs)
	if err != nil {
		panic(err)
	}
	fmt.Println(evs[0].EventType(), "...", evs[len(evs)-1].EventType())
	fmt.Println(s.Status, s.Winners, "after", s.Round, "rounds")
	// Output:
	// game_started ... game_completed
	// completed [team-2] after 2 rounds
}

func ExampleSimulate_inProgress() {
	evs := game.Simulate(game.SimConfig{Seed: 1, Mode: events.ModeRace, StopAfter: 10})
	s, err := game.Replay(evs)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(evs), s.Status, s.InProgress())
	// Output:
	// 10 in_progress true
}

func ExampleApply() {
	at := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	start := events.GameStarted{
		Base:      events.NewBase("game-42", "guild-7", events.ModeTwoPlayer, 1, at),
		Teams:     map[string][]string{"duo": {"alice", "bob"}},
		TeamIDs:   serde.NewSet("duo"),
		PlayerIDs: serde.NewSet("alice", "bob"),
		Roles:     map[string]events.Role{"alice": events.RolePlayer1, "bob": events.RolePlayer2},
		Config:    events.GameConfig{MaxRounds: 1, MaxGuesses: 3},
	}
	s, err := game.Apply(game.State{}, start)
	fmt.Println(s.Status, err)

	guess := events.GuessProcessed{
		Base:        events.NewBase("game-42", "guild-7", events.ModeTwoPlayer, 1, at.Add(time.Second)),
		TeamID:      "duo",
		Player1Info: events.PlayerInfo{PlayerID: "alice"},
		Player2Info: events.PlayerInfo{PlayerID: "bob"},
		Player1Word: "sun", Player2Word: "moon", GuessCount: 1,
	}
	_, err = game.Apply(s, guess)
	fmt.Println(err)
	// Output:
	// in_progress <nil>
	// apply event 2 (guess_processed): rule round_order: invalid transition: round 1 has not started (current round 0)
}
