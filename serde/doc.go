// Package serde turns domain events into JSON and back.
//
// An Event is any value that names its type and schema version. A
// Serializer encodes an Event's data as a JSON object and decodes stored JSON
// back into the Go type registered for (type, version). Raw carries JSON that
// is already encoded; every Serializer passes it through unchanged.
//
// A Registry maps (type, version) to a Go type; JSON is the Serializer built
// on it:
//
//	reg := serde.NewRegistry()
//	reg.MustRegister(GuessProcessed{})
//	s := serde.NewJSON(reg)
//	b, err := s.Marshal(GuessProcessed{...})
//	ev, err := s.Unmarshal("guess_processed", 1, b)
//
// Encoding is deterministic: the same event always gives the same bytes.
// Struct fields keep their declaration order, map keys are sorted, a Set is a
// sorted array, a Time is RFC 3339 in UTC with exactly nine fractional
// digits, and an enum built on EncodeEnum/DecodeEnum is a string checked
// against its allowed values. Decoding is strict: unknown fields, values of
// the wrong JSON shape, duplicate set members and enum values outside the
// allowed set are errors, never silently dropped.
//
// Decoded strings of a document of up to 4 KB share one copy of it (one
// allocation instead of one per string): a string kept on its own keeps that
// copy alive, as a substring keeps its whole string (strings.Clone one that
// long-lived state keeps alone, such as a map key). They never alias the
// caller's bytes: changing those afterwards changes no decoded string.
//
// Errors wrap one of ErrSerializationFailed, ErrDeserializationFailed,
// ErrInvalidEventType or ErrInvalidEventData (see errors.go) and name the
// event type and version, e.g.
//
//	deserialization failed: guess_processed v1: json: unknown field "wrod"
//
// Older stored versions are upcast with package translator before they are
// decoded; see docs/VERSIONING.md.
package serde
