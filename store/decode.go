package store

import (
	"fmt"

	"github.com/gamebot/eventstore/serde"
)

// decode fills r.Event from r.Data: translated to the latest version the
// translator knows for r.Type (if any), then decoded by the serializer.
func (s *Store) decode(r *Recorded) error {
	to := r.StoredVersion
	if s.cfg.Translator != nil {
		if latest, ok := s.cfg.Translator.Latest(r.Type); ok {
			to = latest
		}
	}
	ev, err := s.decodeAt(*r, to)
	if err != nil {
		return &DecodeError{Record: *r, Err: err}
	}
	r.Event = ev
	return nil
}

// DecodeAs decodes a recorded event at the given version of its type,
// translating the stored JSON through the store's Translator when the
// versions differ (upgrades and downgrades alike, where migrations exist).
// It errors with ErrDeserializationFailed, ErrInvalidEventType, or the
// translator's errors (no path, failing migration).
func (s *Store) DecodeAs(r Recorded, version int) (serde.Event, error) {
	ev, err := s.decodeAt(r, version)
	if err != nil {
		return nil, &DecodeError{Record: r, Err: err}
	}
	return ev, nil
}

func (s *Store) decodeAt(r Recorded, to int) (serde.Event, error) {
	data := []byte(r.Data)
	if to != r.StoredVersion {
		if s.cfg.Translator == nil {
			return nil, fmt.Errorf("%w: %s v%d to v%d: the store has no translator", ErrInvalidEventType, r.Type, r.StoredVersion, to)
		}
		var err error
		if data, err = s.cfg.Translator.Translate(r.Type, r.StoredVersion, to, data); err != nil {
			return nil, err
		}
	}
	return s.cfg.Serializer.Unmarshal(r.Type, to, data)
}
