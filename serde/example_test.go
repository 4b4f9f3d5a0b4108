package serde_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/serde"
)

// WordGuessed is how a domain package declares an event.
type WordGuessed struct {
	GameID  string            `json:"game_id"`
	Word    string            `json:"word"`
	Players serde.Set[string] `json:"players"`
	At      serde.Time        `json:"at"`
}

// EventType names the event.
func (WordGuessed) EventType() string { return "word_guessed" }

// EventVersion is the schema version.
func (WordGuessed) EventVersion() int { return 1 }

// Validate is called by serde.JSON before encoding and after decoding.
func (w WordGuessed) Validate() error {
	if w.Word == "" {
		return errors.New("word is empty")
	}
	return nil
}

func ExampleRegistry() {
	reg := serde.NewRegistry()
	reg.MustRegister(WordGuessed{})

	ev, err := reg.New("word_guessed", 1)
	fmt.Printf("%T %v\n", ev, err)

	_, err = reg.New("word_guessed", 2)
	fmt.Println(err)

	latest, _ := reg.Latest("word_guessed")
	fmt.Println(reg.Types(), latest)
	// Output:
	// serde_test.WordGuessed <nil>
	// invalid event type: word_guessed v2 is not registered
	// [word_guessed v1] 1
}

func ExampleJSON() {
	reg := serde.NewRegistry()
	reg.MustRegister(WordGuessed{})
	s := serde.NewJSON(reg)

	cet := time.FixedZone("CET", 3600)
	data, err := s.Marshal(WordGuessed{
		GameID:  "game-42",
		Word:    "apple",
		Players: serde.NewSet("zoe", "amy"),
		At:      serde.NewTime(time.Date(2026, 11, 26, 11, 0, 0, 123456789, cet)),
	})
	fmt.Println(string(data), err)

	ev, err := s.Unmarshal("word_guessed", 1, data)
	fmt.Println(ev.(WordGuessed).Players.Sorted(), err)

	_, err = s.Unmarshal("word_guessed", 1, []byte(`{"game_id":"game-42","word":""}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, serde.ErrDeserializationFailed), errors.Is(err, serde.ErrInvalidEventData))
	// Output:
	// {"game_id":"game-42","word":"apple","players":["amy","zoe"],"at":"2026-11-26T10:00:00.123456789Z"} <nil>
	// [amy zoe] <nil>
	// deserialization failed: word_guessed v1: invalid event data: word is empty
	// true true
}
