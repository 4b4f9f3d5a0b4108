package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
)

// End, as the start of ReadBackward, means the stream's last event.
const End int64 = -1

// ReadForward returns up to count events of streamID with version >= from,
// oldest first. from 0 and 1 both start at the first event; a from past the
// end gives an empty slice. count must be 1..MaxReadBatch.
//
// Errors: ErrInvalidStreamID, ErrInvalidStartVersion, ErrInvalidBatchSize,
// ErrStreamNotFound, ErrStreamDeleted, ErrConnection, and *DecodeError for
// events that cannot be decoded (the returned slice is then still complete;
// those records have a nil Event).
func (s *Store) ReadForward(ctx context.Context, streamID string, from int64, count int) ([]Recorded, error) {
	recs, err := s.readPage(ctx, streamID, from, count, true)
	return recs, opError("read stream", streamID, err)
}

// ReadBackward returns up to count events of streamID with version <= from,
// newest first; from End starts at the last event. Errors as ReadForward.
func (s *Store) ReadBackward(ctx context.Context, streamID string, from int64, count int) ([]Recorded, error) {
	recs, err := s.readPage(ctx, streamID, from, count, false)
	return recs, opError("read stream backward", streamID, err)
}

func (s *Store) checkRead(streamID string, from int64, count int, forward bool) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	if from < 0 && (forward || from != End) {
		return fmt.Errorf("%w: %d", ErrInvalidStartVersion, from)
	}
	if count < 1 || count > s.cfg.MaxReadBatch {
		return fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidBatchSize, count, s.cfg.MaxReadBatch)
	}
	return nil
}

// readPage reads one page through do (guild scope, retries, telemetry)
// and decodes it. The observation covers the read; undecodable events are
// reported to the caller (as *DecodeError), not as a failed read.
func (s *Store) readPage(ctx context.Context, streamID string, from int64, count int, forward bool) ([]Recorded, error) {
	rows, err := s.readRows(ctx, streamID, from, count, forward)
	if err != nil {
		return nil, err
	}
	return s.decodeRows(&rows)
}

// readRows reads one page's rows through do, without decoding them.
func (s *Store) readRows(ctx context.Context, streamID string, from int64, count int, forward bool) (eventRows, error) {
	op := OpReadForward
	if !forward {
		op = OpReadBackward
	}
	var rows eventRows
	err := s.do(ctx, opSpec{op: op, stream: streamID, replayable: true}, func(ctx context.Context) (int, error) {
		var err error
		rows, err = s.readPageOnce(ctx, streamID, from, count, forward)
		return len(rows.list), err
	})
	return rows, err
}

func (s *Store) readPageOnce(ctx context.Context, streamID string, from int64, count int, forward bool) (eventRows, error) {
	if err := s.checkRead(streamID, from, count, forward); err != nil {
		return eventRows{}, err
	}
	d := s.readDB(ctx, scopeStream(streamID))
	var (
		rows eventRows
		err  error
	)
	// The arguments in the order of the generated EventsReadForward and
	// EventsReadBackward.
	if forward {
		rows, err = queryEvents(ctx, d, count, s.newEarlyDecoder(), db.EventsReadForward, streamID, from, s.scopeGuild(ctx), int32(count))
	} else {
		if from == End {
			from = 1<<63 - 1
		}
		rows, err = queryEvents(ctx, d, count, s.newEarlyDecoder(), db.EventsReadBackward, streamID, from, s.scopeGuild(ctx), int32(count))
	}
	if err != nil {
		return eventRows{}, mapError(err)
	}
	// The hot table answers alone unless the page reaches into archived
	// events (see archive.go); only then is the archive read as well.
	if len(rows.list) > 0 && hotPageComplete(rows.list, from, count, forward) {
		return rows, nil
	}
	q := db.New(d)
	if len(rows.list) == 0 {
		// Tell a missing or deleted stream from a read past the end.
		info, err := s.streamState(ctx, q, streamID)
		if err != nil {
			return eventRows{}, err
		}
		if hotEmptyComplete(info, from, forward) {
			return rows, nil
		}
	}
	rows.release()
	archived, err := readWithArchive(ctx, q, s.scopeGuild(ctx), streamID, from, count, forward)
	if err != nil {
		return eventRows{}, err
	}
	return eventRows{list: archived}, nil
}

// decodeRows converts rows and decodes their events, a large page on
// several goroutines. Undecodable events keep their raw record; the first
// failure (in stream or feed order) is returned as a *DecodeError and the
// others are joined to it.
func (s *Store) decodeRows(rows *eventRows) ([]Recorded, error) {
	return s.decodeRowsInto(nil, rows)
}

// decodeRowsInto is decodeRows writing into buf's array when it is large
// enough (the iterators reuse one page's records for the next: they hand
// out copies).
func (s *Store) decodeRowsInto(buf []Recorded, page *eventRows) ([]Recorded, error) {
	rows := page.list
	if e := page.early; e != nil && len(e.chunks) > 0 {
		recs, errs := e.finish(buf, rows)
		page.release()
		return recs, errors.Join(errs...)
	}
	if cap(buf) < len(rows) {
		buf = make([]Recorded, len(rows))
	}
	recs := buf[:len(rows)]
	var (
		mu     sync.Mutex
		failed = map[int][]error{} // by the index of the chunk's first row
	)
	forEachChunk(len(rows), func(lo, hi int) {
		if errs := s.decodeInto(recs[lo:hi], rows[lo:hi]); len(errs) > 0 {
			mu.Lock()
			failed[lo] = errs
			mu.Unlock()
		}
	})
	page.release() // the records hold none of the rows' own memory
	var errs []error
	for _, lo := range slices.Sorted(maps.Keys(failed)) {
		errs = append(errs, failed[lo]...)
	}
	return recs, errors.Join(errs...)
}

// decodeInto converts rows into recs (of the same length) and decodes
// their events, returning the decode errors in row order.
func (s *Store) decodeInto(recs []Recorded, rows []*db.EventstoreEvent) []error {
	var errs []error
	for i, row := range rows {
		recs[i] = recordFromRow(row)
		if err := s.decode(&recs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// StreamInfo describes a stream.
type StreamInfo struct {
	// StreamID is the stream id.
	StreamID string
	// GuildID is the guild that owns the stream.
	GuildID string
	// Version is the number of events (the last event's version).
	Version int64
	// MaxEvents is the stream's own event limit (0: the store's limit applies).
	MaxEvents int64
	// CreatedAt and UpdatedAt are in UTC.
	CreatedAt time.Time
	UpdatedAt time.Time
	// DeletedAt is set when the stream was soft-deleted.
	DeletedAt *time.Time
	// ArchivedAt is set when the stream was archived.
	ArchivedAt *time.Time
}

// StreamInfo returns what is known of streamID, deleted or not. Errors:
// ErrInvalidStreamID, ErrStreamNotFound, ErrConnection.
func (s *Store) StreamInfo(ctx context.Context, streamID string) (StreamInfo, error) {
	var info StreamInfo
	err := s.do(ctx, opSpec{op: OpStreamInfo, stream: streamID, replayable: true}, func(ctx context.Context) (int, error) {
		var err error
		info, err = s.streamInfo(ctx, streamID)
		return 0, err
	})
	return info, opError("stream info", streamID, err)
}

func (s *Store) streamInfo(ctx context.Context, streamID string) (StreamInfo, error) {
	if err := ValidateStreamID(streamID); err != nil {
		return StreamInfo{}, err
	}
	q := s.readQueries(ctx, scopeStream(streamID))
	row, err := q.StreamGet(ctx, db.StreamGetParams{StreamID: streamID, GuildID: s.scopeGuild(ctx)})
	if errors.Is(err, pgx.ErrNoRows) {
		return StreamInfo{}, ErrStreamNotFound
	}
	if err != nil {
		return StreamInfo{}, mapError(err)
	}
	return streamInfoFromRow(row), nil
}

// streamState returns a live stream's info, or ErrStreamNotFound /
// ErrStreamDeleted.
func (s *Store) streamState(ctx context.Context, q *db.Queries, streamID string) (StreamInfo, error) {
	row, err := q.StreamGet(ctx, db.StreamGetParams{StreamID: streamID, GuildID: s.scopeGuild(ctx)})
	if errors.Is(err, pgx.ErrNoRows) {
		return StreamInfo{}, ErrStreamNotFound
	}
	if err != nil {
		return StreamInfo{}, mapError(err)
	}
	info := streamInfoFromRow(row)
	if info.DeletedAt != nil {
		return info, ErrStreamDeleted
	}
	return info, nil
}

func streamInfoFromRow(row *db.EventstoreStream) StreamInfo {
	return StreamInfo{
		StreamID:   row.StreamID,
		GuildID:    row.GuildID,
		Version:    row.Version,
		MaxEvents:  row.MaxEvents.Int64,
		CreatedAt:  row.CreatedAt.UTC(),
		UpdatedAt:  row.UpdatedAt.UTC(),
		DeletedAt:  utcPtr(row.DeletedAt),
		ArchivedAt: utcPtr(row.ArchivedAt),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
