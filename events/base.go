package events

import (
	"maps"
	"time"

	"github.com/gamebot/eventstore/serde"
)

// GameEvent is a GameBot event: a serde.Event that carries the base fields
// and can check its own data. All eight event types satisfy it, both as
// values and as pointers.
type GameEvent interface {
	serde.Event
	// GameBase returns the event's base fields.
	GameBase() Base
	// Validate returns nil or a *FieldError naming the first invalid field.
	Validate() error
}

// Base holds the fields every GameBot event carries. It is embedded in each
// event type, so its fields appear at the top level of the event's JSON.
type Base struct {
	// GameID identifies the game (and so its stream). Required.
	GameID string `json:"game_id"`
	// GuildID is the Discord guild the game runs in. Required.
	GuildID string `json:"guild_id"`
	// Mode is the game's mode; the same for every event of a game.
	Mode Mode `json:"mode"`
	// RoundNumber is the round the event belongs to, starting at 1.
	RoundNumber int `json:"round_number"`
	// Timestamp is when the event happened, in UTC. Required.
	Timestamp serde.Time `json:"timestamp"`
	// Metadata holds free-form string attributes (e.g. the Discord
	// channel); nil and empty are the same and are omitted from JSON.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// NewBase returns a Base with the timestamp converted to UTC and no metadata.
func NewBase(gameID, guildID string, mode Mode, round int, ts time.Time) Base {
	return Base{
		GameID:      gameID,
		GuildID:     guildID,
		Mode:        mode,
		RoundNumber: round,
		Timestamp:   serde.NewTime(ts),
	}
}

// GameBase returns a copy of b; the copy's Metadata is a fresh map.
func (b Base) GameBase() Base {
	b.Metadata = maps.Clone(b.Metadata)
	return b
}

// EventGuildID returns the guild the event belongs to. The store refuses to
// append an event whose guild differs from the guild in the context.
func (b Base) EventGuildID() string { return b.GuildID }

// Time returns the event's timestamp as a time.Time in UTC.
func (b Base) Time() time.Time { return b.Timestamp.Time.UTC() }

// check records the first broken base-field rule.
func (b Base) check(c *checker) {
	c.require("game_id", b.GameID)
	c.require("guild_id", b.GuildID)
	if b.Mode == "" {
		c.failf("mode", "required")
	} else if !b.Mode.Valid() {
		c.failf("mode", "unknown mode %q", b.Mode)
	}
	if b.RoundNumber < 1 {
		c.failf("round_number", "must be at least 1, got %d", b.RoundNumber)
	}
	if b.Timestamp.IsZero() {
		c.failf("timestamp", "required")
	}
	for k := range b.Metadata {
		c.require("metadata key", k)
	}
}
