package serde

import "errors"

// Errors returned by serializers. Each is wrapped with the event type and
// version involved, so errors.Is works on the result.
var (
	// ErrSerializationFailed reports an event that could not be encoded.
	ErrSerializationFailed = errors.New("serialization failed")
	// ErrDeserializationFailed reports stored data that could not be decoded.
	ErrDeserializationFailed = errors.New("deserialization failed")
	// ErrInvalidEventType reports an event type or version that is not
	// registered, or a registration that is refused.
	ErrInvalidEventType = errors.New("invalid event type")
	// ErrInvalidEventData reports event data that breaks the event's rules:
	// a failed Validate, an enum value outside its set, a duplicate set
	// member, or a Raw that does not hold a JSON object.
	ErrInvalidEventData = errors.New("invalid event data")
)
