package serde

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// DecodeEnum decodes a JSON string and returns it as a T if it is one of
// allowed, so a domain enum can implement json.Unmarshaler in two lines:
//
//	func (m *Mode) UnmarshalJSON(b []byte) (err error) {
//		*m, err = serde.DecodeEnum(b, TwoPlayer, Knockout, Race)
//		return err
//	}
//
// A value outside allowed is an error wrapping ErrInvalidEventData; data
// that is not a JSON string (null included) is an error too. With no
// allowed values every value is refused.
//
// encoding/json does not call UnmarshalJSON for a field that is missing,
// so a required enum field should also be checked with CheckEnum in the
// event's Validate (which JSON calls after decoding).
func DecodeEnum[T ~string](data []byte, allowed ...T) (T, error) {
	// Fast path: a plain JSON string is its own contents.
	if raw, ok := unquotePlain(data); ok {
		for _, a := range allowed {
			if string(a) == string(raw) {
				return a, nil
			}
		}
	}
	var s string
	if d := bytes.TrimSpace(data); len(d) == 0 || d[0] != '"' || json.Unmarshal(d, &s) != nil {
		return "", fmt.Errorf("enum: want a JSON string, got %.40q", data)
	}
	v := T(s)
	if !slices.Contains(allowed, v) {
		return "", CheckEnum(v, allowed...)
	}
	return v, nil
}

// EncodeEnum encodes v as a JSON string if it is one of allowed, the
// counterpart of DecodeEnum for MarshalJSON:
//
//	func (m Mode) MarshalJSON() ([]byte, error) {
//		return serde.EncodeEnum(m, TwoPlayer, Knockout, Race)
//	}
//
// A value outside allowed is an error wrapping ErrInvalidEventData.
func EncodeEnum[T ~string](v T, allowed ...T) ([]byte, error) {
	b, err := AppendEnum(make([]byte, 0, len(v)+2), v, allowed...)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendEnum appends v to buf as a JSON string if it is one of allowed,
// for a JSONAppender beside EncodeEnum's MarshalJSON:
//
//	func (m Mode) AppendJSON(buf []byte) ([]byte, error) {
//		return serde.AppendEnum(buf, m, TwoPlayer, Knockout, Race)
//	}
//
// A value outside allowed is an error wrapping ErrInvalidEventData, and
// buf is returned as it was.
func AppendEnum[T ~string](buf []byte, v T, allowed ...T) ([]byte, error) {
	if !slices.Contains(allowed, v) {
		return buf, CheckEnum(v, allowed...)
	}
	return appendJSONString(buf, string(v)), nil
}

// CheckEnum returns nil if v is one of allowed, and an error wrapping
// ErrInvalidEventData that lists the allowed values otherwise. Use it in
// Validate methods.
func CheckEnum[T ~string](v T, allowed ...T) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	// The error holds a copy: allowed itself stays off the heap, so a
	// Valid method's literal list costs no allocation.
	return fmt.Errorf("%w: %q is not one of %q", ErrInvalidEventData, string(v), slices.Clone(allowed))
}
