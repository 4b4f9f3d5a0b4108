package store

import (
	"encoding/json"
	"errors"

	"github.com/gamebot/eventstore/serde"
)

// Metadata is a stored event's metadata object, exactly as PostgreSQL
// renders it (its jsonb text: keys in its order, its white space), or nil
// when the event has none. A read keeps the bytes and decodes nothing:
// Get looks one member up, Strings gives the flat map of strings, Decode
// unmarshals the object into a type of the caller's.
//
// Metadata marshals to JSON as the object itself (null when nil).
type Metadata []byte

// Get returns the member key: the string itself when its value is a JSON
// string, else the value's JSON text (a nested object, a number, …), and
// whether the object has that member. It decodes nothing but that member.
func (m Metadata) Get(key string) (string, bool) {
	if len(m) == 0 {
		return "", false
	}
	if text, found, ok := serde.LookupMember(m, key); ok {
		return text, found
	}
	v, found := m.Strings()[key]
	return v, found
}

// Strings returns the metadata as a flat map of strings (nil when there
// is none): a string member as itself, any other value as its JSON text.
// Each call decodes the object into a new map.
func (m Metadata) Strings() map[string]string {
	if len(m) == 0 || string(m) == "{}" {
		return nil
	}
	// Metadata written by the store is a flat object of strings: parse it
	// directly, and take encoding/json's path only for other shapes.
	if flat, ok := serde.DecodeStringMap(m); ok {
		return flat
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(m, &raw); err != nil {
		return map[string]string{"": string(m)}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// Decode unmarshals the metadata object into v with encoding/json; with
// no metadata v is left as it is.
func (m Metadata) Decode(v any) error {
	if len(m) == 0 {
		return nil
	}
	return json.Unmarshal(m, v)
}

// String returns the metadata's JSON text ("" when there is none).
func (m Metadata) String() string { return string(m) }

// MarshalJSON returns the object (null when there is none).
func (m Metadata) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte("null"), nil
	}
	return m, nil
}

// UnmarshalJSON keeps a copy of a JSON object (nil for null).
func (m *Metadata) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = nil
		return nil
	}
	if !looksLikeObject(b) {
		return errors.New("store.Metadata: not a JSON object")
	}
	*m = append((*m)[:0:0], b...)
	return nil
}

// storedMetadata is a stored metadata object as Recorded.Metadata: nil for
// none.
func storedMetadata(b []byte) Metadata {
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	return Metadata(b)
}
