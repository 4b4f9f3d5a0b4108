package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gamebot/eventstore/store"
)

// streamInfoJSON is the --json output of `eventstore info`.
type streamInfoJSON struct {
	StreamID   string     `json:"stream_id"`
	GuildID    string     `json:"guild_id"`
	Version    int64      `json:"version"`
	Status     string     `json:"status"`
	MaxEvents  int64      `json:"max_events,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	DeletedAt  *time.Time `json:"deleted_at,omitempty"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	FirstEvent *eventJSON `json:"first_event,omitempty"`
	LastEvent  *eventJSON `json:"last_event,omitempty"`
}

func infoCommand() *command {
	return &command{
		name:  "info",
		usage: "STREAM",
		short: "show a stream: guild, version, status, first and last event",
		flags: addReplicaFlag,
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one stream id")
			}
			if err := store.ValidateStreamID(args[0]); err != nil {
				return usagef("%v", err)
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			info, err := s.StreamInfo(ctx, args[0])
			if err != nil {
				return err
			}
			out := streamInfoJSON{
				StreamID: info.StreamID, GuildID: info.GuildID, Version: info.Version, Status: string(info.Status()),
				MaxEvents: info.MaxEvents, CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt,
				DeletedAt: info.DeletedAt, ArchivedAt: info.ArchivedAt,
			}
			if info.DeletedAt == nil && info.Version > 0 {
				if out.FirstEvent, out.LastEvent, err = firstAndLast(ctx, s, info.StreamID); err != nil {
					return err
				}
			}
			if c.json {
				return printJSON(c.env.Stdout, out)
			}
			return printStreamInfo(c, out)
		},
	}
}

// firstAndLast reads a live stream's first and last events.
func firstAndLast(ctx context.Context, s *store.Store, streamID string) (first, last *eventJSON, err error) {
	head, err := s.ReadForward(ctx, streamID, 1, 1)
	if err != nil && !errors.As(err, new(*store.DecodeError)) {
		return nil, nil, err
	}
	tail, err := s.ReadBackward(ctx, streamID, store.End, 1)
	if err != nil && !errors.As(err, new(*store.DecodeError)) {
		return nil, nil, err
	}
	if len(head) == 1 {
		e := toEventJSON(head[0])
		first = &e
	}
	if len(tail) == 1 {
		e := toEventJSON(tail[0])
		last = &e
	}
	return first, last, nil
}

func printStreamInfo(c *cmdContext, out streamInfoJSON) error {
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "stream\t%s\n", out.StreamID)
	fmt.Fprintf(w, "guild\t%s\n", out.GuildID)
	fmt.Fprintf(w, "version\t%d\n", out.Version)
	fmt.Fprintf(w, "status\t%s\n", out.Status)
	if out.MaxEvents > 0 {
		fmt.Fprintf(w, "max events\t%d\n", out.MaxEvents)
	} else {
		fmt.Fprintf(w, "max events\tstore default\n")
	}
	fmt.Fprintf(w, "created\t%s\n", formatTime(out.CreatedAt))
	fmt.Fprintf(w, "updated\t%s\n", formatTime(out.UpdatedAt))
	if out.DeletedAt != nil {
		fmt.Fprintf(w, "deleted\t%s\n", formatTimePtr(out.DeletedAt))
	}
	if out.ArchivedAt != nil {
		fmt.Fprintf(w, "archived\t%s\n", formatTimePtr(out.ArchivedAt))
	}
	for _, ev := range []struct {
		label string
		e     *eventJSON
	}{{"first event", out.FirstEvent}, {"last event", out.LastEvent}} {
		if ev.e != nil {
			fmt.Fprintf(w, "%s\t%d  %s  %s v%d\n", ev.label, ev.e.Version, formatTime(ev.e.CreatedAt), ev.e.Type, ev.e.TypeVersion)
		}
	}
	return w.Flush()
}
