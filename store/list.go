package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5/pgtype"
)

// DefaultListLimit is the page size of ListStreams when ListOptions.Limit
// is zero.
const DefaultListLimit = 100

// OpListStreams names ListStreams in Observation.Op.
const OpListStreams = "list_streams"

// StreamStatus is a stream's lifecycle state.
type StreamStatus string

// Stream states. A soft-deleted stream is StatusDeleted even if it was
// archived before.
const (
	// StatusActive: neither archived nor deleted; appends are accepted.
	StatusActive StreamStatus = "active"
	// StatusArchived: events in archive storage; read-only.
	StatusArchived StreamStatus = "archived"
	// StatusDeleted: soft-deleted; neither readable nor appendable.
	StatusDeleted StreamStatus = "deleted"
)

// Status returns the stream's lifecycle state.
func (i StreamInfo) Status() StreamStatus {
	switch {
	case i.DeletedAt != nil:
		return StatusDeleted
	case i.ArchivedAt != nil:
		return StatusArchived
	}
	return StatusActive
}

// ListOptions filters and pages ListStreams. Every filter is optional and
// they combine (AND).
type ListOptions struct {
	// GuildID keeps the streams of one guild ("" = every guild the
	// connection may see; under row-level security that is the
	// transaction's guild only).
	GuildID string
	// Prefix keeps stream ids that start with it, e.g. "game-".
	Prefix string
	// Status keeps streams in that state ("" = any).
	Status StreamStatus
	// CreatedFrom keeps streams created at or after it (zero = no bound).
	CreatedFrom time.Time
	// CreatedBefore keeps streams created before it (zero = no bound).
	CreatedBefore time.Time
	// Newest lists newest first (created_at, then stream id, descending)
	// instead of oldest first.
	Newest bool
	// Limit is the page size, 1..MaxReadBatch. Default DefaultListLimit.
	Limit int
	// Cursor continues after the page that returned it as StreamList.Next
	// ("" = the first page). Keep the other options unchanged between pages.
	Cursor string
}

// StreamList is one page of ListStreams.
type StreamList struct {
	// Streams are ordered by (created_at, stream id), ascending or, with
	// ListOptions.Newest, descending.
	Streams []StreamInfo
	// Total is the number of streams matching the filters, on every page
	// (counted by a separate query, so it may differ from what the pages
	// add up to while streams are being created).
	Total int64
	// Next is the cursor of the next page, "" on the last page.
	Next string
}

// ListStreams returns one page of the streams matching opts. Pages are
// keyset-paginated on (created_at, stream id): a page starts strictly after
// the last stream of the previous one, so streams created while a caller
// pages through never shift, repeat or hide the streams already listed.
// Deleted and archived streams are included unless Status filters them.
//
// Errors: ErrInvalidArgument (bad status, range, limit or cursor),
// ErrInvalidGuildID, ErrConnection.
func (s *Store) ListStreams(ctx context.Context, opts ListOptions) (StreamList, error) {
	var list StreamList
	err := s.do(ctx, opSpec{op: OpListStreams, replayable: true}, func(ctx context.Context) (int, error) {
		var err error
		list, err = s.listStreams(ctx, opts)
		return 0, err
	})
	return list, opError("list streams", "", err)
}

func (s *Store) listStreams(ctx context.Context, opts ListOptions) (StreamList, error) {
	var err error
	if opts.GuildID, err = s.scopeTo(ctx, opts.GuildID); err != nil {
		return StreamList{}, err
	}
	p, err := s.listParams(opts)
	if err != nil {
		return StreamList{}, err
	}
	q := s.readQueries(ctx, scopeAll)
	var rows []*db.EventstoreStream
	if opts.Newest {
		rows, err = q.StreamsListDesc(ctx, db.StreamsListDescParams(p))
	} else {
		rows, err = q.StreamsList(ctx, p)
	}
	if err != nil {
		return StreamList{}, mapError(err)
	}
	total, err := q.StreamsCount(ctx, db.StreamsCountParams{
		GuildID: p.GuildID, Prefix: p.Prefix, Status: p.Status, CreatedFrom: p.CreatedFrom, CreatedTo: p.CreatedTo,
	})
	if err != nil {
		return StreamList{}, mapError(err)
	}
	limit := int(p.MaxCount) - 1
	list := StreamList{Streams: make([]StreamInfo, 0, min(len(rows), limit)), Total: total}
	for i, row := range rows {
		if i == limit {
			last := list.Streams[limit-1]
			list.Next = encodeListCursor(last.CreatedAt, last.StreamID)
			break
		}
		list.Streams = append(list.Streams, streamInfoFromRow(row))
	}
	return list, nil
}

// listParams validates opts; it asks for one row more than the page so the
// caller knows whether another page follows.
func (s *Store) listParams(opts ListOptions) (db.StreamsListParams, error) {
	var p db.StreamsListParams
	switch opts.Status {
	case "", StatusActive, StatusArchived, StatusDeleted:
	default:
		return p, fmt.Errorf("%w: stream status %q (want %s, %s or %s)", ErrInvalidArgument, opts.Status, StatusActive, StatusArchived, StatusDeleted)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = min(DefaultListLimit, s.cfg.MaxReadBatch)
	}
	if limit < 1 || limit > s.cfg.MaxReadBatch {
		return p, fmt.Errorf("%w: list limit %d (want 1 to %d)", ErrInvalidBatchSize, opts.Limit, s.cfg.MaxReadBatch)
	}
	if !opts.CreatedFrom.IsZero() && !opts.CreatedBefore.IsZero() && !opts.CreatedFrom.Before(opts.CreatedBefore) {
		return p, fmt.Errorf("%w: created range [%s, %s) is empty", ErrInvalidArgument,
			opts.CreatedFrom.Format(time.RFC3339Nano), opts.CreatedBefore.Format(time.RFC3339Nano))
	}
	if opts.GuildID != "" {
		if err := ValidateGuildID(opts.GuildID); err != nil {
			return p, err
		}
		p.GuildID = pgtype.Text{String: opts.GuildID, Valid: true}
	}
	p.Prefix = opts.Prefix
	p.Status = string(opts.Status)
	p.CreatedFrom = timePtr(opts.CreatedFrom)
	p.CreatedTo = timePtr(opts.CreatedBefore)
	if opts.Cursor != "" {
		at, id, err := decodeListCursor(opts.Cursor)
		if err != nil {
			return p, err
		}
		p.AfterCreatedAt, p.AfterStreamID = &at, id
	}
	p.MaxCount = int32(limit + 1)
	return p, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// encodeListCursor encodes a keyset position: created_at in microseconds
// (PostgreSQL's precision) and the stream id, base64url so it is safe in
// URLs and shell arguments.
func encodeListCursor(at time.Time, streamID string) string {
	raw := strconv.FormatInt(at.UnixMicro(), 10) + ":" + streamID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeListCursor(cursor string) (time.Time, string, error) {
	bad := fmt.Errorf("%w: list cursor %q is not one ListStreams returned", ErrInvalidArgument, truncate(cursor))
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", bad
	}
	micros, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || ValidateStreamID(id) != nil {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}
