package serde

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TimeLayout is the layout a Time is encoded in: RFC 3339 in UTC with
// exactly nine fractional digits, e.g. "2026-11-26T10:00:00.123456789Z".
// The fixed width makes encoded times sort as strings.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// Time is a point in time that encodes as TimeLayout: always UTC, always
// nanoseconds, so the same instant always gives the same bytes whatever
// location or monotonic reading it was built with. Decoding accepts any
// RFC 3339 time (with or without fraction, any offset) and converts it to
// UTC; the zero Time encodes as "0001-01-01T00:00:00.000000000Z" and
// decodes back to the zero Time. Only years 0000 to 9999 (in UTC) can be
// encoded or decoded.
//
// Time embeds time.Time, so its methods (Before, Sub, IsZero, Format, …)
// are available directly and ev.Timestamp.Time is the time.Time. Build a
// Time with NewTime so that values compare equal with == and
// reflect.DeepEqual after a round trip.
type Time struct {
	time.Time
}

// NewTime returns t in UTC without its monotonic clock reading.
func NewTime(t time.Time) Time {
	return Time{t.Round(0).UTC()}
}

// Now returns the current time as a Time.
func Now() Time { return NewTime(time.Now()) }

// ParseTime parses an RFC 3339 time and returns it in UTC.
func ParseTime(s string) (Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Time{}, err
	}
	out := NewTime(t)
	if y := out.Year(); y < 0 || y > 9999 {
		return Time{}, fmt.Errorf("time %q: year %d in UTC is outside 0000-9999", s, y)
	}
	return out, nil
}

// String returns t in TimeLayout.
func (t Time) String() string { return t.UTC().Format(TimeLayout) }

// MarshalText encodes t in TimeLayout (used for map keys).
func (t Time) MarshalText() ([]byte, error) {
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("time: year %d in UTC is outside 0000-9999", y)
	}
	return []byte(u.Format(TimeLayout)), nil
}

// UnmarshalText decodes an RFC 3339 time into t, in UTC.
func (t *Time) UnmarshalText(data []byte) error {
	// time.Time's strict RFC 3339 parser reads the bytes as they are (no
	// string copy); what it refuses, ParseTime decides.
	var tt time.Time
	if tt.UnmarshalText(data) == nil {
		if v := NewTime(tt); v.Year() >= 0 && v.Year() <= 9999 {
			*t = v
			return nil
		}
	}
	v, err := ParseTime(string(data))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalJSON encodes t as a JSON string in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	if b, ok := t.appendJSON(make([]byte, 0, len(TimeLayout)+2)); ok {
		return b, nil
	}
	b, err := t.MarshalText()
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON decodes a JSON string holding an RFC 3339 time into t, in
// UTC. JSON null leaves t unchanged, as encoding/json does for time.Time.
func (t *Time) UnmarshalJSON(data []byte) error {
	// Fast path: a plain JSON string is its own contents.
	if raw, ok := unquotePlain(data); ok {
		return t.UnmarshalText(raw)
	}
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("time: want an RFC 3339 string")
	}
	return t.UnmarshalText([]byte(s))
}
