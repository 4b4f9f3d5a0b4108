package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
)

func ExampleStore_Append() {
	ctx := context.Background()
	pool, drop := exampleDatabase(ctx)
	defer drop()
	s := store.New(pool, store.Config{})
	defer s.Close()

	ctx = store.WithGuild(ctx, "guild-1")
	started := store.Event{Data: serde.Raw{Type: "game_started", Version: 1, Data: json.RawMessage(`{"game_id":"game-42"}`)}}
	res, err := s.Append(ctx, "game-42", store.NoStream, started)
	fmt.Println(res.Version, err)

	// A second writer that still believes the stream is new loses.
	_, err = s.Append(ctx, "game-42", store.NoStream, started)
	var conflict *store.VersionConflictError
	fmt.Println(errors.Is(err, store.ErrWrongExpectedVersion), errors.As(err, &conflict), conflict.Actual)
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// true true 1
	// append to stream "game-42": wrong expected version: expected no_stream, actual 1
}

func ExampleStore_Stream() {
	ctx := context.Background()
	pool, drop := exampleDatabase(ctx)
	defer drop()
	s := store.New(pool, store.Config{})
	defer s.Close()

	ctx = store.WithGuild(ctx, "guild-1")
	for round := 1; round <= 3; round++ {
		ev := store.Event{Data: serde.Raw{Type: "round_started", Version: 1, Data: json.RawMessage(fmt.Sprintf(`{"round_number":%d}`, round))}}
		if _, err := s.Append(ctx, "game-7", store.Exact(int64(round-1)), ev); err != nil {
			panic(err)
		}
	}
	for rec, err := range s.Stream(ctx, "game-7", 0, 2) { // two events per query
		if err != nil {
			panic(err)
		}
		fmt.Println(rec.Version, rec.Type, string(rec.Data))
	}
	// Output:
	// 1 round_started {"round_number": 1}
	// 2 round_started {"round_number": 2}
	// 3 round_started {"round_number": 3}
}

func ExampleStore_InTx() {
	ctx := context.Background()
	pool, drop := exampleDatabase(ctx)
	defer drop()
	s := store.New(pool, store.Config{})
	defer s.Close()

	ctx = store.WithGuild(ctx, "guild-1")
	ev := store.Event{Data: serde.Raw{Type: "game_completed", Version: 1, Data: json.RawMessage(`{}`)}}
	err := s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.Append(ctx, "game-1", store.NoStream, ev); err != nil {
			return err
		}
		_, err := s.Append(ctx, "game-2", store.StreamExists, ev) // fails: game-2 does not exist
		return err
	})
	fmt.Println(errors.Is(err, store.ErrStreamNotFound))
	_, err = s.StreamInfo(ctx, "game-1")
	fmt.Println(errors.Is(err, store.ErrStreamNotFound)) // rolled back with the rest
	// Output:
	// true
	// true
}

// A read's metadata is the stored object, decoded only when asked: one
// member, the flat map, or a type of your own.
func ExampleMetadata() {
	m := store.Metadata(`{"command_id": "cmd-1", "actor": {"id": 42}}`)
	id, _ := m.Get("command_id")
	actor, _ := m.Get("actor")
	var v struct {
		Actor struct {
			ID int `json:"id"`
		} `json:"actor"`
	}
	if err := m.Decode(&v); err != nil {
		panic(err)
	}
	fmt.Println(id, actor, v.Actor.ID, m.Strings()["command_id"])
	// Output: cmd-1 {"id": 42} 42 cmd-1
}
