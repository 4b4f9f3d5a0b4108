package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// AnySchemaVersion, passed to ReadSnapshot, accepts a snapshot of any
// schema version.
const AnySchemaVersion = 0

// Operation names of the snapshot API, reported in Observation.Op.
const (
	OpSaveSnapshot   = "save_snapshot"
	OpReadSnapshot   = "read_snapshot"
	OpDeleteSnapshot = "delete_snapshot"
)

// Snapshot is the state of a stream after its first Version events, in a
// format the caller defines (Type and SchemaVersion name it). A stream
// keeps one snapshot: its latest.
type Snapshot struct {
	// StreamID is the stream the snapshot belongs to.
	StreamID string
	// GuildID is the guild that owns the stream (set on read).
	GuildID string
	// Version is the stream version the snapshot reflects: replaying events
	// 1..Version gives the same state. It is at least 1 and never beyond the
	// stream's version.
	Version int64
	// Type names the state's format, e.g. "game_state".
	Type string
	// SchemaVersion is the version of that format, at least 1. Bump it when
	// the state's shape changes; readers then see older snapshots as
	// outdated and replay instead.
	SchemaVersion int
	// Data is the state as JSON (any JSON value but null).
	Data json.RawMessage
	// Metadata is stored beside the data, as a flat JSON object of strings
	// (on read: every value as a string, see Metadata.Strings).
	Metadata map[string]string
	// RawMetadata is metadata of any shape, a JSON object (on read: the
	// stored object, as Recorded.Metadata holds it). Set Metadata or
	// RawMetadata, not both.
	RawMetadata json.RawMessage
	// CreatedAt is when the snapshot was stored, in UTC (set on read).
	CreatedAt time.Time
}

// SnapshotSchemaError reports a stored snapshot whose schema version is not
// the reader's. It matches ErrSnapshotOutdated (stored older than current)
// or ErrSnapshotTooNew (stored newer); either way the caller should rebuild
// the state by replaying the stream from the start.
type SnapshotSchemaError struct {
	// Snapshot is the stored snapshot, complete.
	Snapshot Snapshot
	// Current is the schema version the reader asked for.
	Current int
}

// Error names both schema versions.
func (e *SnapshotSchemaError) Error() string {
	kind := ErrSnapshotOutdated
	if e.Snapshot.SchemaVersion > e.Current {
		kind = ErrSnapshotTooNew
	}
	return fmt.Sprintf("%v: stored %s schema version %d at stream version %d, current schema version %d",
		kind, e.Snapshot.Type, e.Snapshot.SchemaVersion, e.Snapshot.Version, e.Current)
}

// Is matches ErrSnapshotOutdated or ErrSnapshotTooNew.
func (e *SnapshotSchemaError) Is(target error) bool {
	switch target {
	case ErrSnapshotOutdated:
		return e.Snapshot.SchemaVersion < e.Current
	case ErrSnapshotTooNew:
		return e.Snapshot.SchemaVersion > e.Current
	}
	return false
}

// SaveSnapshot stores snap as the latest snapshot of snap.StreamID, which
// must exist, belong to the context's guild and not be soft-deleted
// (archived streams may be snapshotted). It replaces the stored snapshot
// unless that one is more useful — a higher schema version, or the same
// schema version at a higher stream version — and reports whether snap was
// stored.
//
// Errors: ErrInvalidStreamID, ErrGuildRequired, ErrInvalidGuildID,
// ErrInvalidArgument (bad version, type, schema version or data: nothing
// was sent), ErrStreamNotFound, ErrStreamDeleted, ErrGuildMismatch,
// ErrSnapshotBeyondStream (snap.Version is past the stream's version),
// ErrConnection.
func (s *Store) SaveSnapshot(ctx context.Context, snap Snapshot) (bool, error) {
	var stored bool
	err := s.do(ctx, opSpec{op: OpSaveSnapshot, stream: snap.StreamID, replayable: true}, func(ctx context.Context) (int, error) {
		var err error
		stored, err = s.saveSnapshot(ctx, snap)
		return 0, err
	})
	return stored, opError("save snapshot of stream", snap.StreamID, err)
}

func (s *Store) saveSnapshot(ctx context.Context, snap Snapshot) (bool, error) {
	if err := ValidateStreamID(snap.StreamID); err != nil {
		return false, err
	}
	guild, err := requireGuild(ctx)
	if err != nil {
		return false, err
	}
	switch {
	case snap.Version < 1:
		return false, fmt.Errorf("%w: snapshot version %d must be at least 1", ErrInvalidArgument, snap.Version)
	case snap.Type == "" || len(snap.Type) > 255:
		return false, fmt.Errorf("%w: snapshot type must be 1 to 255 characters", ErrInvalidArgument)
	case snap.SchemaVersion < 1 || snap.SchemaVersion > 1<<30:
		return false, fmt.Errorf("%w: snapshot schema version %d must be at least 1", ErrInvalidArgument, snap.SchemaVersion)
	case !json.Valid(snap.Data) || string(snap.Data) == "null":
		return false, fmt.Errorf("%w: snapshot data must be a JSON value other than null", ErrInvalidArgument)
	}
	p := db.SnapshotSaveParams{
		StreamID:      snap.StreamID,
		GuildID:       pgtype.Text{String: guild, Valid: true},
		StreamVersion: snap.Version,
		SnapshotType:  snap.Type,
		SchemaVersion: int32(snap.SchemaVersion),
		Data:          string(snap.Data),
	}
	if len(snap.Metadata) > 0 || len(snap.RawMetadata) > 0 {
		meta, err := encodeAnyMetadata(snap.Metadata, snap.RawMetadata)
		if err != nil {
			return false, fmt.Errorf("%w: snapshot metadata: %w", ErrInvalidArgument, err)
		}
		p.Metadata = pgtype.Text{String: string(meta), Valid: true}
	}
	q, _ := s.queries(ctx)
	row, err := q.SnapshotSave(ctx, p)
	if err != nil {
		return false, mapError(err)
	}
	return row.Stored, nil
}

// ReadSnapshot returns the latest snapshot of streamID. current is the
// schema version the caller understands: a snapshot with another schema
// version is returned inside a *SnapshotSchemaError (matching
// ErrSnapshotOutdated or ErrSnapshotTooNew), so the caller can fall back to
// a full replay; AnySchemaVersion skips the check.
//
// To rebuild a state: read the snapshot, then read the stream forward from
// Snapshot.Version+1 and apply those events to it.
//
// Errors: ErrInvalidStreamID, ErrInvalidArgument (negative current),
// ErrSnapshotNotFound, ErrStreamDeleted, *SnapshotSchemaError,
// ErrConnection.
func (s *Store) ReadSnapshot(ctx context.Context, streamID string, current int) (Snapshot, error) {
	var snap Snapshot
	err := s.do(ctx, opSpec{op: OpReadSnapshot, stream: streamID, replayable: true}, func(ctx context.Context) (int, error) {
		var err error
		snap, err = s.readSnapshot(ctx, streamID, current)
		return 0, err
	})
	return snap, opError("read snapshot of stream", streamID, err)
}

func (s *Store) readSnapshot(ctx context.Context, streamID string, current int) (Snapshot, error) {
	if err := ValidateStreamID(streamID); err != nil {
		return Snapshot{}, err
	}
	if current < 0 {
		return Snapshot{}, fmt.Errorf("%w: schema version %d (want AnySchemaVersion or at least 1)", ErrInvalidArgument, current)
	}
	q := s.readQueries(ctx, scopeStream(streamID))
	row, err := q.SnapshotGet(ctx, db.SnapshotGetParams{StreamID: streamID, GuildID: s.scopeGuild(ctx)})
	if errors.Is(err, pgx.ErrNoRows) {
		return Snapshot{}, ErrSnapshotNotFound
	}
	if err != nil {
		return Snapshot{}, mapError(err)
	}
	if row.StreamDeleted {
		return Snapshot{}, ErrStreamDeleted
	}
	md := storedMetadata(row.Metadata)
	snap := Snapshot{
		StreamID:      row.StreamID,
		GuildID:       row.GuildID,
		Version:       row.StreamVersion,
		Type:          row.SnapshotType,
		SchemaVersion: int(row.SchemaVersion),
		Data:          json.RawMessage(row.Data),
		Metadata:      md.Strings(),
		RawMetadata:   json.RawMessage(md),
		CreatedAt:     row.CreatedAt.UTC(),
	}
	if current != AnySchemaVersion && snap.SchemaVersion != current {
		return snap, &SnapshotSchemaError{Snapshot: snap, Current: current}
	}
	return snap, nil
}

// DeleteSnapshot removes the snapshot of streamID and reports whether there
// was one. When the context carries a guild, only that guild's snapshot is
// removed. Errors: ErrInvalidStreamID, ErrGuildMismatch, ErrConnection.
func (s *Store) DeleteSnapshot(ctx context.Context, streamID string) (bool, error) {
	if err := ValidateStreamID(streamID); err != nil {
		return false, opError("delete snapshot of stream", streamID, err)
	}
	var guild pgtype.Text
	if g, ok := GuildFromContext(ctx); ok {
		guild = pgtype.Text{String: g, Valid: true}
	}
	var deleted bool
	err := s.do(ctx, opSpec{op: OpDeleteSnapshot, stream: streamID}, func(ctx context.Context) (int, error) {
		q, _ := s.queries(ctx)
		var err error
		deleted, err = q.SnapshotDelete(ctx, db.SnapshotDeleteParams{StreamID: streamID, GuildID: guild})
		return 0, mapError(err)
	})
	return deleted, opError("delete snapshot of stream", streamID, err)
}
