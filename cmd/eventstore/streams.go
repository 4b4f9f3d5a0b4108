package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// streamRowJSON is one stream in `eventstore streams` output.
type streamRowJSON struct {
	StreamID      string     `json:"stream_id"`
	GuildID       string     `json:"guild_id"`
	Version       int64      `json:"version"`
	Status        string     `json:"status"`
	FirstEventAt  *time.Time `json:"first_event_at,omitempty"`
	LastEventAt   *time.Time `json:"last_event_at,omitempty"`
	LastEventType string     `json:"last_event_type,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeletedAt     *time.Time `json:"deleted_at,omitempty"`
	ArchivedAt    *time.Time `json:"archived_at,omitempty"`
}

// streamPageJSON is the --json output of `eventstore streams`.
type streamPageJSON struct {
	Streams []streamRowJSON `json:"streams"`
	// Total counts every stream that matches the filters, on all pages.
	Total int64 `json:"total"`
	// Next is the --cursor value of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

func streamsCommand() *command {
	var (
		opts                                store.ListOptions
		status, createdAfter, createdBefore string
	)
	return &command{
		name: "streams",
		usage: "[--guild G] [--prefix P] [--status active|archived|deleted|all] [--created-after T] [--created-before T]\n" +
			"       [--newest] [--limit N] [--cursor C]",
		short: "list streams (oldest first, paged) with their guild, version, status and last event",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			addReplicaFlag(fs, c)
			fs.StringVar(&opts.GuildID, "guild", "", "only streams of this guild")
			fs.StringVar(&opts.Prefix, "prefix", "", "only stream ids starting with this prefix")
			fs.StringVar(&status, "status", "all", "only streams in this state: active, archived, deleted or all")
			fs.StringVar(&createdAfter, "created-after", "", "only streams created at or after this time (RFC 3339 or YYYY-MM-DD)")
			fs.StringVar(&createdBefore, "created-before", "", "only streams created before this time (RFC 3339 or YYYY-MM-DD)")
			fs.BoolVar(&opts.Newest, "newest", false, "newest first")
			fs.IntVar(&opts.Limit, "limit", 50, "page size, 1 to 10000")
			fs.StringVar(&opts.Cursor, "cursor", "", "continue with the page after the one that printed this cursor")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 0 {
				return usagef("unexpected argument %q", args[0])
			}
			switch status {
			case "active", "archived", "deleted":
				opts.Status = store.StreamStatus(status)
			case "all":
			default:
				return usagef("--status must be active, archived, deleted or all, got %q", status)
			}
			if opts.Limit < 1 || opts.Limit > store.DefaultMaxReadBatch {
				return usagef("--limit must be 1 to %d, got %d", store.DefaultMaxReadBatch, opts.Limit)
			}
			var err error
			if opts.CreatedFrom, err = parseTimeFlag("--created-after", createdAfter); err != nil {
				return err
			}
			if opts.CreatedBefore, err = parseTimeFlag("--created-before", createdBefore); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			list, err := s.ListStreams(ctx, opts)
			if err != nil {
				return err
			}
			page, err := streamPage(ctx, c.readPool(s), list)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.env.Stdout, page)
			}
			return printStreamPage(c, page)
		},
	}
}

// parseTimeFlag parses an optional RFC 3339 time or a date (midnight UTC).
func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s: %q is not a time (want RFC 3339, e.g. 2026-01-02T15:04:05Z, or YYYY-MM-DD)", name, s)
}

// streamPage adds each listed stream's first and last event, looked up in
// the eventstore.stream_summary view in one query.
func streamPage(ctx context.Context, pool *pgxpool.Pool, list store.StreamList) (streamPageJSON, error) {
	page := streamPageJSON{Streams: make([]streamRowJSON, len(list.Streams)), Total: list.Total, Next: list.Next}
	ids := make([]string, len(list.Streams))
	index := make(map[string]int, len(list.Streams))
	for i, info := range list.Streams {
		ids[i] = info.StreamID
		index[info.StreamID] = i
		page.Streams[i] = streamRowJSON{
			StreamID: info.StreamID, GuildID: info.GuildID, Version: info.Version, Status: string(info.Status()),
			CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt, DeletedAt: info.DeletedAt, ArchivedAt: info.ArchivedAt,
		}
	}
	if len(ids) == 0 {
		return page, nil
	}
	rows, err := pool.Query(ctx, `
SELECT s.stream_id, s.first_event_at, s.last_event_at, coalesce(s.last_event_type, '')
  FROM eventstore.stream_summary s
 WHERE s.stream_id = ANY($1::text[])`, ids)
	if err != nil {
		return page, fmt.Errorf("list streams: last events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id          string
			first, last *time.Time
			lastType    string
		)
		if err := rows.Scan(&id, &first, &last, &lastType); err != nil {
			return page, fmt.Errorf("list streams: last events: %w", err)
		}
		r := &page.Streams[index[id]]
		r.FirstEventAt, r.LastEventAt, r.LastEventType = utcTimePtr(first), utcTimePtr(last), lastType
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list streams: last events: %w", err)
	}
	return page, nil
}

func utcTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func printStreamPage(c *cmdContext, page streamPageJSON) error {
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "STREAM\tGUILD\tVERSION\tSTATUS\tCREATED\tLAST EVENT")
	for _, s := range page.Streams {
		last := "-"
		if s.LastEventAt != nil {
			last = formatTime(*s.LastEventAt) + "  " + s.LastEventType
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", s.StreamID, s.GuildID, s.Version, s.Status, formatTime(s.CreatedAt), last)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.env.Stdout, "%d of %d stream(s)", len(page.Streams), page.Total)
	if err == nil && page.Next != "" {
		_, err = fmt.Fprintf(c.env.Stdout, "; next page: --cursor %s", page.Next)
	}
	if err == nil {
		_, err = fmt.Fprintln(c.env.Stdout)
	}
	return err
}
