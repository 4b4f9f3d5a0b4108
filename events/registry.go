package events

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// All returns a zero value of each of the eight event types, in the order
// a game usually uses them. Each call returns a new slice.
func All() []serde.Event {
	return []serde.Event{
		GameStarted{},
		RoundStarted{},
		GuessProcessed{},
		GuessAbandoned{},
		TeamEliminated{},
		GameCompleted{},
		KnockoutRoundCompleted{},
		RaceModeTimeExpired{},
	}
}

// Register registers the eight event types (as values) with reg, so that
// decoding returns e.g. a GameStarted, not a *GameStarted.
func Register(reg *serde.Registry) error {
	if err := reg.Register(All()...); err != nil {
		return fmt.Errorf("register GameBot events: %w", err)
	}
	return nil
}

// NewRegistry returns a new registry that knows the eight event types.
func NewRegistry() *serde.Registry {
	reg := serde.NewRegistry()
	if err := Register(reg); err != nil {
		// The eight types have distinct (type, version) pairs, so a fresh
		// registry cannot refuse them.
		panic(err)
	}
	return reg
}
