package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gamebot/eventstore/db"
	"github.com/gamebot/eventstore/serde"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Event is one event to append.
type Event struct {
	// ID identifies the event; a zero ID is replaced by a new UUIDv7.
	// Re-appending the same ids at the same positions is idempotent.
	ID uuid.UUID
	// Data is the domain event (or a serde.Raw holding a JSON object).
	Data serde.Event
	// Metadata is stored beside the data (user ids, command ids, …) as a
	// flat JSON object of strings.
	Metadata map[string]string
	// RawMetadata is metadata of any shape: a JSON object, stored as given
	// (nested objects, numbers, booleans and arrays keep their types). Set
	// Metadata or RawMetadata, not both.
	RawMetadata json.RawMessage
	// CausationID is the id of the event or command that caused this one.
	CausationID uuid.UUID
	// CorrelationID groups events of one conversation (e.g. a round).
	CorrelationID uuid.UUID
}

// Recorded is a stored event as read back.
type Recorded struct {
	// StreamID is the stream the event belongs to.
	StreamID string
	// Version is the event's position in its stream, starting at 1.
	Version int64
	// GlobalPosition is the event's position in the whole store (unique,
	// increasing in insertion order; see Checkpoint for commit order).
	GlobalPosition int64
	// TransactionID is the event's feed label: the id of the transaction
	// that wrote it, or the stream's previous label when that is higher
	// (so that the feed keeps every stream in version order).
	TransactionID uint64
	// ID is the event id.
	ID uuid.UUID
	// Type is the stored event type.
	Type string
	// StoredVersion is the schema version the event was stored with.
	StoredVersion int
	// GuildID is the guild that owns the stream.
	GuildID string
	// Data is the stored JSON, exactly as stored.
	Data json.RawMessage
	// Metadata is the stored metadata object, kept as its JSON text (nil
	// when the event has none) and decoded on demand: Metadata.Get looks
	// one member up, Metadata.Strings gives the flat map of strings and
	// Metadata.Decode any type of the caller's.
	Metadata Metadata
	// CausationID is the causing event or command id (zero when unset).
	CausationID uuid.UUID
	// CorrelationID is the correlation id (zero when unset).
	CorrelationID uuid.UUID
	// CreatedAt is when the event was stored, in UTC.
	CreatedAt time.Time
	// Event is the decoded (and translated) event; nil when decoding failed
	// (the read then also returns a *DecodeError).
	Event serde.Event
}

// Checkpoint returns the feed checkpoint just after r.
func (r Recorded) Checkpoint() Checkpoint {
	return Checkpoint{TransactionID: r.TransactionID, Position: r.GlobalPosition}
}

// recordFromRow converts a generated row to a Recorded (times in UTC). It is
// the one place where rows become public types.
func recordFromRow(row *db.EventstoreEvent) Recorded {
	return Recorded{
		StreamID:       row.StreamID,
		Version:        row.StreamVersion,
		GlobalPosition: row.GlobalPosition,
		TransactionID:  row.TransactionID,
		ID:             uuid.UUID(row.EventID.Bytes),
		Type:           row.EventType,
		StoredVersion:  int(row.EventVersion),
		GuildID:        row.GuildID,
		Data:           json.RawMessage(row.Data),
		Metadata:       storedMetadata(row.Metadata),
		CausationID:    fromPgUUID(row.CausationID),
		CorrelationID:  fromPgUUID(row.CorrelationID),
		CreatedAt:      row.CreatedAt.UTC(),
	}
}

// encodeAnyMetadata checks metadata given as JSON, and the choice between
// the two metadata fields; it returns what to store (nil: none).
func encodeAnyMetadata(flat map[string]string, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		if len(flat) == 0 {
			return nil, nil
		}
		return encodeMetadata(flat)
	}
	if len(flat) > 0 {
		return nil, errors.New("set Metadata or RawMetadata, not both")
	}
	if !utf8.Valid(raw) {
		return nil, errors.New("RawMetadata is not valid UTF-8")
	}
	if !looksLikeObject(raw) || !json.Valid(raw) {
		return nil, fmt.Errorf("RawMetadata must be a JSON object, got %q", truncate(string(raw)))
	}
	return raw, nil
}

func toPgUUID(u uuid.UUID) pgtype.UUID {
	return pgtype.UUID{Bytes: u, Valid: u != uuid.Nil}
}

func fromPgUUID(u pgtype.UUID) uuid.UUID {
	if !u.Valid {
		return uuid.Nil
	}
	return uuid.UUID(u.Bytes)
}

// encodeMetadata encodes metadata as a JSON object with sorted keys. Keys
// and values must be valid UTF-8 without NUL characters (PostgreSQL's jsonb
// cannot store them).
func encodeMetadata(m map[string]string) ([]byte, error) {
	for k, v := range m {
		for _, s := range [2]string{k, v} {
			if !utf8.ValidString(s) {
				return nil, fmt.Errorf("%q is not valid UTF-8", truncate(s))
			}
			if strings.IndexByte(s, 0) >= 0 {
				return nil, fmt.Errorf("%q contains a NUL character", truncate(s))
			}
		}
	}
	keys := make([]string, 0, len(m))
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = serde.AppendJSONString(b, k)
		b = append(b, ':')
		b = serde.AppendJSONString(b, m[k])
	}
	return append(b, '}'), nil
}
