package events

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// FieldError reports the first field of an event that breaks the event's
// rules. It wraps serde.ErrInvalidEventData, so errors.Is(err,
// serde.ErrInvalidEventData) holds, and errors.As recovers the field.
type FieldError struct {
	// EventType is the type of the invalid event, e.g. "game_started".
	EventType string
	// EventVersion is the schema version of the invalid event.
	EventVersion int
	// Field is the JSON path of the offending field, e.g. "game_id" or
	// `teams["red"]`.
	Field string
	// Reason says what is wrong, e.g. "required".
	Reason string
}

// Error returns e.g. "invalid event data: game_started v1: game_id: required".
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s v%d: %s: %s",
		serde.ErrInvalidEventData, e.EventType, e.EventVersion, e.Field, e.Reason)
}

// Unwrap returns serde.ErrInvalidEventData.
func (e *FieldError) Unwrap() error { return serde.ErrInvalidEventData }
