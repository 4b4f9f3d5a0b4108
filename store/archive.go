package store

import (
	"context"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5/pgtype"
)

// DefaultArchiveBatch is the default number of streams ArchiveCompleted
// archives per transaction.
const DefaultArchiveBatch = 20

// Operation names of archiving, reported in Observation.Op. ArchiveStream
// and ArchiveBefore are OpArchiveStream; each transaction of
// ArchiveCompleted is one OpArchiveCompleted.
const (
	OpArchiveStream    = "archive_stream"
	OpArchiveCompleted = "archive_completed"
)

// ArchiveResult describes one archived stream.
type ArchiveResult struct {
	// StreamID is the stream.
	StreamID string
	// Version is the stream's version (unchanged by archiving).
	Version int64
	// EventsArchived is the number of events moved to archive storage.
	EventsArchived int64
}

// ArchiveStream archives streamID, if it is at the expected version: in one
// transaction every event moves from the hot events table to archive
// storage (eventstore.events_archive, same columns and values) and the
// stream becomes read-only. ReadForward, ReadBackward and Stream keep
// returning exactly the same events; appends fail with ErrStreamArchived.
// Archived events leave the global feed (see docs/LIFECYCLE.md). When the
// context carries a guild, the stream must belong to it.
//
// Archiving is maintenance: only an administrator may do it (the schema
// owner, a superuser, a BYPASSRLS role or a member of eventstore_admin).
//
// Errors: ErrInvalidStreamID, ErrInvalidExpectedVersion, ErrAdminRequired,
// ErrStreamNotFound, ErrStreamDeleted, ErrStreamArchived (already archived),
// *VersionConflictError, ErrGuildMismatch, ErrConnection.
func (s *Store) ArchiveStream(ctx context.Context, streamID string, expected ExpectedVersion) (ArchiveResult, error) {
	res, err := s.archive(ctx, streamID, expected, pgtype.Int8{})
	return res, opError("archive stream", streamID, err)
}

// ArchiveBefore moves the events of streamID with a version below before
// to archive storage ("truncate before"), leaving the stream writable. A
// snapshot must cover them: the stream's snapshot must be at version
// before-1 or later (see SaveSnapshot). before may be at most the stream's
// version + 1 (which archives every event while the stream stays
// writable). Reads still return every event. Admin only, like
// ArchiveStream.
//
// Errors: ErrInvalidStreamID, ErrInvalidArgument (before out of range),
// ErrAdminRequired, ErrSnapshotRequired, ErrStreamNotFound,
// ErrStreamDeleted, ErrStreamArchived, ErrGuildMismatch, ErrConnection.
func (s *Store) ArchiveBefore(ctx context.Context, streamID string, before int64) (ArchiveResult, error) {
	if before < 1 {
		return ArchiveResult{}, opError("archive stream", streamID,
			fmt.Errorf("%w: archive boundary %d must be at least 1", ErrInvalidArgument, before))
	}
	res, err := s.archive(ctx, streamID, Any, pgtype.Int8{Int64: before, Valid: true})
	return res, opError("archive stream", streamID, err)
}

func (s *Store) archive(ctx context.Context, streamID string, expected ExpectedVersion, before pgtype.Int8) (ArchiveResult, error) {
	if err := ValidateStreamID(streamID); err != nil {
		return ArchiveResult{}, err
	}
	if !expected.valid() {
		return ArchiveResult{}, fmt.Errorf("%w: %s", ErrInvalidExpectedVersion, expected)
	}
	var guild pgtype.Text
	if g, ok := GuildFromContext(ctx); ok {
		guild = pgtype.Text{String: g, Valid: true}
	}
	var res ArchiveResult
	err := s.do(ctx, opSpec{op: OpArchiveStream, stream: streamID}, func(ctx context.Context) (int, error) {
		q, _ := s.queries(ctx)
		row, err := q.StreamArchive(ctx, db.StreamArchiveParams{
			StreamID: streamID, ExpectedVersion: int64(expected), BeforeVersion: before, GuildID: guild,
		})
		if err != nil {
			return 0, mapError(err)
		}
		res = ArchiveResult{StreamID: streamID, Version: row.Version, EventsArchived: row.EventsArchived}
		return int(row.EventsArchived), nil
	})
	return res, err
}

// ArchiveCompletedOptions selects the streams ArchiveCompleted archives.
// What "completed" means is explicit: set exactly one of CompletedTypes and
// AnyLastEvent.
type ArchiveCompletedOptions struct {
	// OlderThan is how long ago a stream must have completed: its last
	// change (the last append, streams.updated_at) is older than now minus
	// OlderThan, by the database clock. Zero archives as soon as completed.
	OlderThan time.Duration
	// CompletedTypes: a stream is completed when its last event has one of
	// these types, e.g. "game_completed".
	CompletedTypes []string
	// AnyLastEvent treats every live, non-empty stream as completed, so
	// OlderThan alone decides (idle streams).
	AnyLastEvent bool
	// GuildID limits the run to one guild ("" = every guild).
	GuildID string
	// BatchSize is the number of streams archived per transaction.
	// Default DefaultArchiveBatch.
	BatchSize int
	// MaxStreams stops the run after this many streams (0 = no limit).
	MaxStreams int
}

// ArchiveCompleted archives every live stream whose game completed more
// than opts.OlderThan ago, BatchSize streams per transaction, until none is
// left (or MaxStreams were archived). Streams being appended to at that
// moment are skipped, and a stream that received an event after it was
// selected is left alone. It returns the archived streams, also when it
// stops on an error. Admin only, like ArchiveStream.
//
// Errors: ErrInvalidArgument (no or contradictory completion rule, negative
// age or sizes), ErrInvalidGuildID, ErrAdminRequired, ErrConnection.
func (s *Store) ArchiveCompleted(ctx context.Context, opts ArchiveCompletedOptions) ([]ArchiveResult, error) {
	res, err := s.archiveCompleted(ctx, opts)
	return res, opError("archive completed streams", "", err)
}

func (s *Store) archiveCompleted(ctx context.Context, opts ArchiveCompletedOptions) ([]ArchiveResult, error) {
	switch {
	case len(opts.CompletedTypes) == 0 && !opts.AnyLastEvent:
		return nil, fmt.Errorf("%w: say what completed means: CompletedTypes (e.g. game_completed) or AnyLastEvent", ErrInvalidArgument)
	case len(opts.CompletedTypes) > 0 && opts.AnyLastEvent:
		return nil, fmt.Errorf("%w: CompletedTypes and AnyLastEvent exclude each other", ErrInvalidArgument)
	case opts.OlderThan < 0:
		return nil, fmt.Errorf("%w: age %s must not be negative", ErrInvalidArgument, opts.OlderThan)
	case opts.BatchSize < 0 || opts.MaxStreams < 0:
		return nil, fmt.Errorf("%w: batch size %d and max streams %d must not be negative", ErrInvalidArgument, opts.BatchSize, opts.MaxStreams)
	}
	p := db.StreamsArchiveCompletedParams{
		OlderThanSeconds: opts.OlderThan.Seconds(),
		CompletedTypes:   opts.CompletedTypes,
		MaxStreams:       int32(opts.BatchSize),
	}
	if opts.AnyLastEvent {
		p.CompletedTypes = nil
	}
	if opts.GuildID != "" {
		if err := ValidateGuildID(opts.GuildID); err != nil {
			return nil, err
		}
		p.GuildID = pgtype.Text{String: opts.GuildID, Valid: true}
	}
	if p.MaxStreams == 0 {
		p.MaxStreams = DefaultArchiveBatch
	}
	var out []ArchiveResult
	for {
		if opts.MaxStreams > 0 {
			p.MaxStreams = int32(min(int(p.MaxStreams), opts.MaxStreams-len(out)))
		}
		var rows []*db.StreamsArchiveCompletedRow
		err := s.do(ctx, opSpec{op: OpArchiveCompleted}, func(ctx context.Context) (int, error) {
			q, _ := s.queries(ctx)
			var err error
			rows, err = q.StreamsArchiveCompleted(ctx, p)
			n := 0
			for _, r := range rows {
				n += int(r.EventsArchived)
			}
			return n, mapError(err)
		})
		if err != nil {
			return out, err
		}
		for _, r := range rows {
			out = append(out, ArchiveResult{StreamID: r.StreamID, Version: r.Version, EventsArchived: r.EventsArchived})
		}
		if len(rows) == 0 || (opts.MaxStreams > 0 && len(out) >= opts.MaxStreams) {
			return out, nil
		}
	}
}

// hotPageComplete reports whether a page read from the hot events table
// alone is the whole answer. Archiving only ever moves a prefix of a stream
// (all of it, or the versions below a boundary), so the hot table holds a
// contiguous suffix, and a page is complete unless it misses versions at
// its start (forward) or stops short above version 1 (backward). An empty
// page is decided by hotEmptyComplete.
func hotPageComplete(rows []*db.EventstoreEvent, from int64, count int, forward bool) bool {
	if forward {
		return rows[0].StreamVersion == max(from, 1)
	}
	return len(rows) == count || rows[len(rows)-1].StreamVersion == 1
}

// hotEmptyComplete reports whether an empty page from the hot table is the
// whole answer for a stream in state info: it is unless the stream has
// events in the requested range, which must then be archived.
func hotEmptyComplete(info StreamInfo, from int64, forward bool) bool {
	if forward {
		return max(from, 1) > info.Version
	}
	return from < 1 || info.Version == 0
}

// readWithArchive reads one page from the hot and the archived events in a
// single statement, so an archive committing meanwhile is seen whole or not
// at all.
func readWithArchive(ctx context.Context, q *db.Queries, guild, streamID string, from int64, count int, forward bool) ([]*db.EventstoreEvent, error) {
	var (
		rows []*db.EventstoreEvent
		err  error
	)
	if forward {
		rows, err = q.EventsReadForwardWithArchive(ctx, db.EventsReadForwardWithArchiveParams{StreamID: streamID, GuildID: guild, FromVersion: from, MaxCount: int32(count)})
	} else {
		rows, err = q.EventsReadBackwardWithArchive(ctx, db.EventsReadBackwardWithArchiveParams{StreamID: streamID, GuildID: guild, FromVersion: from, MaxCount: int32(count)})
	}
	return rows, mapError(err)
}
