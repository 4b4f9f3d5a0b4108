package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// openStore returns a Store over the command's database, reading from the
// --replica-url standbys if any. The caller closes it (before the pools,
// which run closes).
func (c *cmdContext) openStore(ctx context.Context) (*store.Store, error) {
	return c.openStoreWith(ctx, store.Config{})
}

// eventJSON is how the CLI prints a stored event with --json: one object
// per line.
type eventJSON struct {
	StreamID       string          `json:"stream_id"`
	Version        int64           `json:"version"`
	GlobalPosition int64           `json:"global_position"`
	Checkpoint     string          `json:"checkpoint"`
	ID             uuid.UUID       `json:"id"`
	Type           string          `json:"type"`
	TypeVersion    int             `json:"type_version"`
	GuildID        string          `json:"guild_id"`
	CreatedAt      time.Time       `json:"created_at"`
	Data           json.RawMessage `json:"data"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	CausationID    *uuid.UUID      `json:"causation_id,omitempty"`
	CorrelationID  *uuid.UUID      `json:"correlation_id,omitempty"`
}

func toEventJSON(r store.Recorded) eventJSON {
	out := eventJSON{
		StreamID:       r.StreamID,
		Version:        r.Version,
		GlobalPosition: r.GlobalPosition,
		Checkpoint:     r.Checkpoint().String(),
		ID:             r.ID,
		Type:           r.Type,
		TypeVersion:    r.StoredVersion,
		GuildID:        r.GuildID,
		CreatedAt:      r.CreatedAt,
		Data:           compactJSON(r.Data),
	}
	if len(r.Metadata) > 0 {
		out.Metadata = compactJSON(r.Metadata)
	}
	if r.CausationID != uuid.Nil {
		id := r.CausationID
		out.CausationID = &id
	}
	if r.CorrelationID != uuid.Nil {
		id := r.CorrelationID
		out.CorrelationID = &id
	}
	return out
}

// compactJSON drops the insignificant spaces PostgreSQL puts in jsonb text.
func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return json.RawMessage(b)
	}
	return json.RawMessage(buf.Bytes())
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// formatTime formats a time for text output: UTC, millisecond precision.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// formatTimePtr is formatTime for an optional time.
func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

// printEvent writes one event as text or, with --json, as one line of JSON.
// withStream prefixes the line with the feed checkpoint and the stream.
func (c *cmdContext) printEvent(r store.Recorded, withStream bool) error {
	if c.json {
		return printJSON(c.env.Stdout, toEventJSON(r))
	}
	prefix := fmt.Sprintf("%6d", r.Version)
	if withStream {
		prefix = fmt.Sprintf("%-14s %s@%d", r.Checkpoint(), r.StreamID, r.Version)
	}
	_, err := fmt.Fprintf(c.env.Stdout, "%s  %s  %s v%d  %s\n",
		prefix, formatTime(r.CreatedAt), r.Type, r.StoredVersion, compactJSON(r.Data))
	return err
}
