package game_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ExampleRecover shows a bot resuming one game after a restart, and an
// operator's view of a damaged one. (It needs a database, so it is
// compiled but not run.)
func ExampleRecover() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://localhost/gamebot")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	s := store.New(pool, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
	defer s.Close()
	ctx = store.WithGuild(ctx, "guild-1")

	res, err := game.Recover(ctx, s, "game-42", game.RecoverOptions{})
	var re *game.RecoveryError
	switch {
	case errors.As(err, &re):
		fmt.Printf("game %s: event %d (%s) breaks rule %s; resumable: %t\n",
			re.GameID, re.StreamVersion, re.EventID, re.Rule, re.Resumable)
		return
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(res.State.Status, "round", res.State.Round, "next append after version", res.Version)
	// Snapshot the state so the next recovery replays less.
	if _, err := game.SaveSnapshot(ctx, s, res.State, res.Version); err != nil {
		log.Print(err)
	}
}

// ExampleRecoverAll shows the bot's start-up: every game of the guild that
// is still in progress, four at a time, skipping (and reporting) events
// that cannot be applied.
func ExampleRecoverAll() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://localhost/gamebot")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	s := store.New(pool, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
	defer s.Close()

	results, err := game.RecoverAll(ctx, s, "guild-1", game.RecoverOptions{
		OnInvalid: game.SkipAndReport, Concurrency: 4, Prefix: "game-",
	})
	for _, r := range results {
		if r.Err != nil {
			continue // err joins every game's error
		}
		for _, skipped := range r.Skipped {
			log.Printf("game %s: skipped %v", r.GameID, skipped)
		}
		fmt.Println(r.GameID, "resumes in round", r.State.Round)
	}
	if err != nil {
		log.Print(err)
	}
}
