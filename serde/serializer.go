package serde

import (
	"encoding/json"
	"errors"
)

// Serializer encodes events to JSON objects and decodes them back. An
// implementation must be safe for concurrent use.
type Serializer interface {
	// Marshal encodes ev's data as a JSON object. A Raw is returned as is,
	// after checking that it holds a JSON object.
	Marshal(ev Event) ([]byte, error)
	// Unmarshal decodes data stored under (typ, version) into an Event.
	Unmarshal(typ string, version int, data []byte) (Event, error)
}

// CheckObject returns nil if b is exactly one valid JSON object (white space
// around it allowed), and an error saying what is wrong otherwise.
func CheckObject(b []byte) error {
	if !json.Valid(b) {
		return errors.New("not valid JSON")
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return nil
		}
		return errors.New("not a JSON object")
	}
	return errors.New("not a JSON object")
}
