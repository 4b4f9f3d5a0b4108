package serde

import (
	"encoding/json"
	"fmt"
)

// Event is a domain event: a value that names its type and schema version.
type Event interface {
	// EventType is the stable name stored with the event (e.g. "game_started").
	EventType() string
	// EventVersion is the schema version of the Go type, starting at 1.
	EventVersion() int
}

// Raw is an event whose data is already encoded as a JSON object. It is what
// a read returns when no Go type is registered for the stored type, and what
// a caller appends to store JSON as it is.
type Raw struct {
	// Type is the stored event type.
	Type string
	// Version is the stored schema version.
	Version int
	// Data is the event's JSON object.
	Data json.RawMessage
}

// EventType returns r.Type.
func (r Raw) EventType() string { return r.Type }

// EventVersion returns r.Version.
func (r Raw) EventVersion() int { return r.Version }

// asRaw reports whether ev is a Raw or a non-nil *Raw, and returns it.
func asRaw(ev Event) (Raw, bool) {
	switch r := ev.(type) {
	case Raw:
		return r, true
	case *Raw:
		if r != nil {
			return *r, true
		}
	}
	return Raw{}, false
}

// marshalRaw checks that r holds a JSON object and returns its data as is.
func marshalRaw(r Raw) ([]byte, error) {
	if err := CheckObject(r.Data); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %w", ErrInvalidEventData, r.Type, r.Version, err)
	}
	return r.Data, nil
}
