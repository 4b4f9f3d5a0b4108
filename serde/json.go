package serde

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Validator is implemented by events that check their own rules. JSON calls
// Validate before encoding and after decoding.
type Validator interface {
	// Validate returns an error describing the first broken rule, or nil.
	Validate() error
}

// JSON is the Serializer backed by a Registry: it encodes registered Go
// types with encoding/json and decodes stored data into the Go type
// registered for its (type, version). It is safe for concurrent use.
//
// Output is deterministic: struct fields in declaration order, map keys
// sorted, no HTML escaping, no trailing newline. Decoding is strict:
// unknown fields are errors, and numbers decoded into interface values are
// json.Number, so integers of any size survive a round trip exactly.
// Neither method panics: a panic in an event's own MarshalJSON,
// UnmarshalJSON or Validate is returned as an error.
type JSON struct {
	reg *Registry
}

// NewJSON returns a JSON serializer for the types registered in reg. Types
// registered in reg later are also known. A nil reg is an empty Registry.
func NewJSON(reg *Registry) *JSON {
	if reg == nil {
		reg = NewRegistry()
	}
	return &JSON{reg: reg}
}

var _ Serializer = (*JSON)(nil)

// Marshal encodes ev as a JSON object.
//
// A Raw (or *Raw) is returned as is after CheckObject (error:
// ErrInvalidEventData). Any other event must have a Go type registered for
// its (EventType(), EventVersion()) — a value and a pointer of the
// registered struct both qualify — or the error wraps ErrInvalidEventType.
// If the event implements Validator, a failed Validate is returned wrapped
// with ErrInvalidEventData. Encoding failures, and encodings that are not a
// JSON object, wrap ErrSerializationFailed.
func (j *JSON) Marshal(ev Event) (b []byte, err error) {
	if r, ok := asRaw(ev); ok {
		return marshalRaw(r)
	}
	if isNil(ev) {
		return nil, fmt.Errorf("%w: nil event", ErrInvalidEventType)
	}
	var tv TypeVersion
	defer func() {
		if rec := recover(); rec != nil {
			b, err = nil, fmt.Errorf("%w: %s: panic: %v", ErrSerializationFailed, tv, rec)
		}
	}()
	tv = TypeVersion{ev.EventType(), ev.EventVersion()}
	e, ok := j.reg.lookup(tv)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not registered", ErrInvalidEventType, tv)
	}
	v := reflect.ValueOf(ev)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Type() != e.elem {
		return nil, fmt.Errorf("%w: %s is registered as %s, not %s", ErrInvalidEventType, tv, e.elem, v.Type())
	}
	// Validate through a pointer so pointer-receiver Validate methods count.
	p := reflect.New(e.elem)
	p.Elem().Set(v)
	if err := validate(p); err != nil {
		if errors.Is(err, ErrInvalidEventData) {
			return nil, fmt.Errorf("%s: %w", tv, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidEventData, tv, err)
	}
	// The fast encoder's output is a JSON object by construction; if it
	// gives up, encodeJSON decides the output or the error.
	if fb, ok := fastEncode(p.Elem()); ok {
		return fb, nil
	}
	b, err = encodeJSON(p.Interface())
	if err == nil {
		err = CheckObject(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSerializationFailed, tv, err)
	}
	return b, nil
}

// Unmarshal decodes data stored under (typ, version) into a new value of the
// registered Go type (a pointer if a pointer was registered).
//
// An unregistered (typ, version) wraps ErrInvalidEventType. Data that is
// not one JSON object, does not fit the Go type, or has fields the type
// does not declare wraps ErrDeserializationFailed. If the decoded event
// implements Validator and Validate fails, the error wraps both
// ErrDeserializationFailed and ErrInvalidEventData. Every message names the
// type and version.
func (j *JSON) Unmarshal(typ string, version int, data []byte) (Event, error) {
	return j.unmarshal(typ, version, data, true)
}

// unmarshal is Unmarshal; with fast false it decodes with encoding/json
// only, which tests compare the fast decoder against.
func (j *JSON) unmarshal(typ string, version int, data []byte, fast bool) (ev Event, err error) {
	tv := TypeVersion{typ, version}
	e, ok := j.reg.lookup(tv)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not registered", ErrInvalidEventType, tv)
	}
	defer func() {
		if rec := recover(); rec != nil {
			ev, err = nil, fmt.Errorf("%w: %s: panic: %v", ErrDeserializationFailed, tv, rec)
		}
	}()
	// The fast decoder validates the whole document itself. When it gives
	// up, encoding/json decodes a fresh value and decides the result.
	p := reflect.New(e.elem)
	if !fast || !decodeFast(p, data) {
		p = reflect.New(e.elem)
		if err := decodeSlow(p, data); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrDeserializationFailed, tv, err)
		}
	}
	if err := validate(p); err != nil {
		if errors.Is(err, ErrInvalidEventData) {
			return nil, fmt.Errorf("%w: %s: %w", ErrDeserializationFailed, tv, err)
		}
		return nil, fmt.Errorf("%w: %s: %w: %w", ErrDeserializationFailed, tv, ErrInvalidEventData, err)
	}
	if e.ptr {
		return p.Interface().(Event), nil
	}
	return p.Elem().Interface().(Event), nil
}

// decodeSlow checks that data is one JSON object and decodes it into p
// with encoding/json, refusing unknown fields.
func decodeSlow(p reflect.Value, data []byte) error {
	if err := CheckObject(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(p.Interface())
}

// validate calls Validate on the pointer p if its type implements Validator.
func validate(p reflect.Value) error {
	if v, ok := p.Interface().(Validator); ok {
		return v.Validate()
	}
	return nil
}

// encodeJSON encodes v like json.Marshal, without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
