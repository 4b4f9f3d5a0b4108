package events_test

import (
	"fmt"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func ExampleNewRegistry() {
	j := serde.NewJSON(events.NewRegistry())
	ev := events.GuessProcessed{
		Base: events.NewBase("game-42", "guild-7", events.ModeTwoPlayer, 1,
			time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)),
		TeamID:          "team-1",
		Player1Info:     events.PlayerInfo{PlayerID: "alice"},
		Player2Info:     events.PlayerInfo{PlayerID: "bob"},
		Player1Word:     "river",
		Player2Word:     "river",
		GuessSuccessful: true,
		GuessCount:      1,
		MatchScore:      10,
	}
	b, err := j.Marshal(ev)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	back, err := j.Unmarshal("guess_processed", 1, b)
	if err != nil {
		panic(err)
	}
	g := back.(events.GameEvent).GameBase()
	fmt.Printf("%T %s %s round %d\n", back, g.GameID, g.Mode, g.RoundNumber)
	// Output:
	// {"game_id":"game-42","guild_id":"guild-7","mode":"two_player","round_number":1,"timestamp":"2025-01-01T12:00:00.000000000Z","team_id":"team-1","player1_info":{"player_id":"alice"},"player2_info":{"player_id":"bob"},"player1_word":"river","player2_word":"river","guess_successful":true,"guess_count":1,"match_score":10,"guess_duration_ms":0}
	// events.GuessProcessed game-42 two_player round 1
}

func ExampleGameCompleted_Validate() {
	ev := events.GameCompleted{
		Base:        events.NewBase("game-42", "guild-7", events.ModeKnockout, 3, time.Now()),
		FinalScores: map[string]int{"red": 12},
		TotalRounds: 3,
	}
	fmt.Println(ev.Validate())
	ev.Winners = serde.NewSet("red")
	fmt.Println(ev.Validate())
	// Output:
	// invalid event data: game_completed v1: winners: required
	// <nil>
}
