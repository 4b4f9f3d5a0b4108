package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
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
	// Metadata is stored beside the data (user ids, command ids, …).
	Metadata map[string]string
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
	// TransactionID is the id of the transaction that wrote the event.
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
	// Metadata is the stored metadata. A non-string value (written by other
	// tools) is given as its JSON text.
	Metadata map[string]string
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
func recordFromRow(row db.EventstoreEvent) Recorded {
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
		Metadata:       decodeMetadata(row.Metadata),
		CausationID:    fromPgUUID(row.CausationID),
		CorrelationID:  fromPgUUID(row.CorrelationID),
		CreatedAt:      row.CreatedAt.UTC(),
	}
}

func decodeMetadata(b []byte) map[string]string {
	if len(b) == 0 || string(b) == "{}" {
		return nil
	}
	// Metadata written by the store is a flat object of strings: parse it
	// directly, and take encoding/json's path only for other shapes.
	if flat, ok := parseFlatObject(b); ok {
		return flat
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return map[string]string{"": string(b)}
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

// parseFlatObject parses b when it is a JSON object whose values are all
// strings — the shape the store writes and jsonb returns it in
// ({"k": "v", …}) — into a map, with the result encoding/json would give.
// It reports false for anything else (other value types, invalid UTF-8,
// lone surrogates, any syntax error), which the caller hands to
// encoding/json.
func parseFlatObject(b []byte) (map[string]string, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	m := make(map[string]string, 4)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, skipSpace(b, i+1) == len(b)
	}
	for {
		k, next, ok := parseString(b, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		v, next, ok := parseString(b, skipSpace(b, i+1))
		if !ok {
			return nil, false
		}
		m[k] = v
		i = skipSpace(b, next)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// parseString parses the JSON string starting at b[i] and returns it and
// the index after its closing quote. It refuses (ok false) control
// characters, invalid UTF-8, unknown escapes and lone surrogates.
func parseString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	j := start
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
		j++
	}
	if j < len(b) && b[j] == '"' {
		if !utf8.Valid(b[start:j]) {
			return "", 0, false
		}
		return string(b[start:j]), j + 1, true
	}
	// Escapes: decode into a buffer.
	var sb strings.Builder
	sb.Write(b[start:j])
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			out := sb.String()
			if !utf8.ValidString(out) {
				return "", 0, false
			}
			return out, j + 1, true
		case c < 0x20:
			return "", 0, false
		case c != '\\':
			sb.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(b) {
			return "", 0, false
		}
		switch b[j+1] {
		case '"', '\\', '/':
			sb.WriteByte(b[j+1])
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return "", 0, false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one
				// makes a character.
				if r >= 0xDC00 || j+1 >= len(b) || b[j] != '\\' || b[j+1] != 'u' {
					return "", 0, false
				}
				r2, ok := hex4(b, j+2)
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return "", 0, false
				}
				r = utf16.DecodeRune(r, r2)
				j += 6
			}
			sb.WriteRune(r)
			continue
		default:
			return "", 0, false
		}
		j += 2
	}
	return "", 0, false
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
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
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}'), nil
}

// appendJSONString appends s, valid UTF-8, as a JSON string: quotes,
// backslashes and control characters escaped, everything else as is
// (PostgreSQL stores the parsed jsonb, so other spellings do not matter).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
