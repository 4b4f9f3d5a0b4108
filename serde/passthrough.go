package serde

import (
	"encoding/json"
	"fmt"
)

// Passthrough is the Serializer that knows no Go types: Marshal encodes any
// value with encoding/json (Raw as is) and Unmarshal returns a Raw.
type Passthrough struct{}

// Marshal encodes ev as a JSON object. A Raw (or *Raw) is returned as is
// after CheckObject; anything else must encode to a JSON object.
func (Passthrough) Marshal(ev Event) ([]byte, error) {
	if r, ok := asRaw(ev); ok {
		return marshalRaw(r)
	}
	if isNil(ev) {
		return nil, fmt.Errorf("%w: nil event", ErrInvalidEventType)
	}
	b, err := json.Marshal(ev)
	if err == nil {
		err = CheckObject(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %w", ErrSerializationFailed, ev.EventType(), ev.EventVersion(), err)
	}
	return b, nil
}

// Unmarshal returns the stored data as a Raw. It never fails.
func (Passthrough) Unmarshal(typ string, version int, data []byte) (Event, error) {
	return Raw{Type: typ, Version: version, Data: json.RawMessage(data)}, nil
}

var _ Serializer = Passthrough{}
