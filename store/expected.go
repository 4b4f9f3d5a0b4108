package store

import (
	"fmt"
	"math"
	"strconv"
)

// ExpectedVersion states what the caller believes a stream's version to be
// when it appends or deletes. Use Any, NoStream, StreamExists or Exact(n).
type ExpectedVersion int64

const (
	// Any skips the concurrency check.
	Any ExpectedVersion = -1
	// NoStream requires that the stream does not exist yet (or is empty).
	NoStream ExpectedVersion = -2
	// StreamExists requires that the stream exists (it may be empty).
	StreamExists ExpectedVersion = -3
)

// invalidExact is the base of the values Exact gives a negative n: they
// lie far below the named constants, remember n (for the error message)
// and are refused with ErrInvalidExpectedVersion.
const invalidExact = math.MinInt64 / 2

// Exact requires the stream to be at version n (0 = missing or empty).
// A negative n is invalid and is refused with ErrInvalidExpectedVersion.
func Exact(n int64) ExpectedVersion {
	if n < 0 {
		return ExpectedVersion(invalidExact + max(n, invalidExact))
	}
	return ExpectedVersion(n)
}

// String returns "any", "no_stream", "stream_exists" or the exact version.
func (e ExpectedVersion) String() string {
	switch e {
	case Any:
		return "any"
	case NoStream:
		return "no_stream"
	case StreamExists:
		return "stream_exists"
	}
	if e <= invalidExact {
		return fmt.Sprintf("invalid Exact(%d)", int64(e-invalidExact))
	}
	if e < 0 {
		return fmt.Sprintf("invalid(%d)", int64(e))
	}
	return strconv.FormatInt(int64(e), 10)
}

// ParseExpectedVersion parses "any", "no_stream", "stream_exists" or a
// non-negative version number.
func ParseExpectedVersion(s string) (ExpectedVersion, error) {
	switch s {
	case "any":
		return Any, nil
	case "no_stream":
		return NoStream, nil
	case "stream_exists":
		return StreamExists, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q (want any, no_stream, stream_exists or a version >= 0)", ErrInvalidExpectedVersion, s)
	}
	return ExpectedVersion(n), nil
}

func (e ExpectedVersion) valid() bool { return e >= StreamExists }
