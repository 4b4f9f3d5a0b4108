package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/gamebot/eventstore/store"
)

// The operator commands: delete, hard-delete, archive, limit and snapshot
// act on one stream through the store's Go API, with the same guild rules:
// --guild G acts as guild G (the stream must belong to it, as for
// store.WithGuild); without --guild the command acts store-wide, which the
// database allows the administrator roles only where the Go API does.

// addGuildFlag adds --guild to an operator command.
func addGuildFlag(fs *flag.FlagSet, guild *string, what string) {
	fs.StringVar(guild, "guild", "", "act as this guild: the "+what+" must belong to it (default: none, store-wide as an administrator)")
}

// guildContext returns ctx carrying guild (validated) when one is given.
func guildContext(ctx context.Context, guild string) (context.Context, error) {
	if guild == "" {
		return ctx, nil
	}
	if err := store.ValidateGuildID(guild); err != nil {
		return nil, usagef("--guild: %v", err)
	}
	return store.WithGuild(ctx, guild), nil
}

// oneStream checks that args is exactly one valid stream id.
func oneStream(args []string) (string, error) {
	if len(args) != 1 {
		return "", usagef("want exactly one stream id")
	}
	if err := store.ValidateStreamID(args[0]); err != nil {
		return "", usagef("%v", err)
	}
	return args[0], nil
}

// subcommandOnStream splits "SUB STREAM" for a command with the two
// subcommands a and b.
func subcommandOnStream(args []string, a, b string) (sub, streamID string, err error) {
	if len(args) == 0 {
		return "", "", usagef("want %s or %s, then a stream id", a, b)
	}
	if sub = args[0]; sub != a && sub != b {
		return "", "", usagef("unknown subcommand %q (want %s or %s)", sub, a, b)
	}
	streamID, err = oneStream(args[1:])
	return sub, streamID, err
}

// parseExpectedFlag parses --expected.
func parseExpectedFlag(s string) (store.ExpectedVersion, error) {
	exp, err := store.ParseExpectedVersion(s)
	if err != nil {
		return 0, usagef("--expected: %v", err)
	}
	return exp, nil
}

// print writes v as JSON with --json, else the text line(s).
func (c *cmdContext) print(v any, format string, args ...any) error {
	if c.json {
		return printJSON(c.env.Stdout, v)
	}
	_, err := fmt.Fprintf(c.env.Stdout, format, args...)
	return err
}

// deleteResultJSON is the --json output of `eventstore delete`.
type deleteResultJSON struct {
	StreamID string `json:"stream_id"`
	Version  int64  `json:"version"`
	Status   string `json:"status"`
}

func deleteCommand() *command {
	var expected, guild string
	return &command{
		name:  "delete",
		usage: "STREAM [--expected any|N] [--guild G]",
		short: "soft-delete a stream: its events are kept, reads and appends are refused",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.StringVar(&expected, "expected", "any", "delete only if the stream is at this version (any or a number)")
			addGuildFlag(fs, &guild, "stream")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			streamID, err := oneStream(args)
			if err != nil {
				return err
			}
			exp, err := parseExpectedFlag(expected)
			if err != nil {
				return err
			}
			if ctx, err = guildContext(ctx, guild); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			v, err := s.DeleteStream(ctx, streamID, exp)
			if err != nil {
				return err
			}
			return c.print(deleteResultJSON{StreamID: streamID, Version: v, Status: "deleted"},
				"deleted stream %s at version %d (its events are kept; `eventstore hard-delete` removes them)\n", streamID, v)
		},
	}
}

// hardDeleteResultJSON is the --json output of `eventstore hard-delete`.
type hardDeleteResultJSON struct {
	StreamID      string `json:"stream_id"`
	Version       int64  `json:"version"`
	EventsDeleted int64  `json:"events_deleted"`
}

func hardDeleteCommand() *command {
	var expected, guild, confirm string
	return &command{
		name:  "hard-delete",
		usage: "STREAM --confirm STREAM [--expected any|N] [--guild G]",
		short: "remove a stream, its events, snapshot and stream subscriptions for good (administrators only)",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.StringVar(&confirm, "confirm", "", "repeat the stream id to confirm that its events go for good (required)")
			fs.StringVar(&expected, "expected", "any", "delete only if the stream is at this version (any or a number)")
			addGuildFlag(fs, &guild, "stream")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			streamID, err := oneStream(args)
			if err != nil {
				return err
			}
			switch confirm {
			case streamID:
			case "":
				return usagef("hard delete removes the events of %s for good: confirm with --confirm %s", streamID, streamID)
			default:
				return usagef("--confirm %q is not the stream id %q: nothing was deleted", confirm, streamID)
			}
			exp, err := parseExpectedFlag(expected)
			if err != nil {
				return err
			}
			if ctx, err = guildContext(ctx, guild); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.HardDeleteStream(ctx, streamID, exp, store.ConfirmHardDelete)
			if err != nil {
				return err
			}
			return c.print(hardDeleteResultJSON{StreamID: streamID, Version: res.Version, EventsDeleted: res.EventsDeleted},
				"hard-deleted stream %s (version %d): %d event(s) removed for good\n", streamID, res.Version, res.EventsDeleted)
		},
	}
}

// archiveResultJSON is the --json output of `eventstore archive`.
type archiveResultJSON struct {
	StreamID       string `json:"stream_id"`
	Version        int64  `json:"version"`
	EventsArchived int64  `json:"events_archived"`
	// Before is --before: only the events below it were archived and the
	// stream stays writable (0: the whole stream, now read-only).
	Before int64 `json:"before,omitempty"`
}

func archiveCommand() *command {
	var (
		expected, guild string
		before          int64
	)
	return &command{
		name:  "archive",
		usage: "STREAM [--expected any|N] [--before VERSION] [--guild G]",
		short: "move a stream's events to archive storage; it stays readable (administrators only)",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.StringVar(&expected, "expected", "any", "archive only if the stream is at this version (any or a number)")
			fs.Int64Var(&before, "before", 0, "archive only the events below this version and keep the stream writable (a snapshot must cover them)")
			addGuildFlag(fs, &guild, "stream")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			streamID, err := oneStream(args)
			if err != nil {
				return err
			}
			exp, err := parseExpectedFlag(expected)
			if err != nil {
				return err
			}
			if before < 0 {
				return usagef("--before must be a version >= 1, got %d", before)
			}
			if before > 0 && exp != store.Any {
				return usagef("--before and --expected exclude each other")
			}
			if ctx, err = guildContext(ctx, guild); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			var res store.ArchiveResult
			if before > 0 {
				res, err = s.ArchiveBefore(ctx, streamID, before)
			} else {
				res, err = s.ArchiveStream(ctx, streamID, exp)
			}
			if err != nil {
				return err
			}
			out := archiveResultJSON{StreamID: streamID, Version: res.Version, EventsArchived: res.EventsArchived, Before: before}
			if before > 0 {
				return c.print(out, "archived %d event(s) of stream %s below version %d; the stream stays writable\n",
					res.EventsArchived, streamID, before)
			}
			return c.print(out, "archived stream %s (version %d): %d event(s) moved to archive storage; the stream is read-only\n",
				streamID, res.Version, res.EventsArchived)
		},
	}
}

// limitResultJSON is the --json output of `eventstore limit`.
type limitResultJSON struct {
	StreamID string `json:"stream_id"`
	// MaxEvents is the stream's own limit; null: the store's limit applies.
	MaxEvents *int64 `json:"max_events"`
}

func limitCommand() *command {
	var (
		guild    string
		maxCount int64
	)
	return &command{
		name:  "limit",
		usage: "set STREAM --max-count N [--guild G]\n       eventstore limit clear STREAM [--guild G]",
		short: "set or clear a stream's own event limit (instead of the store's MaxStreamEvents)",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.Int64Var(&maxCount, "max-count", 0, "with set: the most events the stream may hold (at or below its version: every further append is refused)")
			addGuildFlag(fs, &guild, "stream")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			sub, streamID, err := subcommandOnStream(args, "set", "clear")
			if err != nil {
				return err
			}
			switch {
			case sub == "set" && maxCount < 1:
				return usagef("limit set needs --max-count N with N >= 1 (limit clear removes the limit)")
			case sub == "clear" && maxCount != 0:
				return usagef("limit clear takes no --max-count")
			}
			if ctx, err = guildContext(ctx, guild); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if sub == "clear" {
				if err := s.ClearStreamLimit(ctx, streamID); err != nil {
					return err
				}
				return c.print(limitResultJSON{StreamID: streamID},
					"cleared the limit of stream %s: the store's limit applies\n", streamID)
			}
			if err := s.SetStreamLimit(ctx, streamID, maxCount); err != nil {
				return err
			}
			return c.print(limitResultJSON{StreamID: streamID, MaxEvents: &maxCount},
				"stream %s may hold at most %d event(s)\n", streamID, maxCount)
		},
	}
}

// snapshotJSON is the --json output of `eventstore snapshot show`.
type snapshotJSON struct {
	StreamID      string            `json:"stream_id"`
	GuildID       string            `json:"guild_id"`
	Version       int64             `json:"version"`
	Type          string            `json:"type"`
	SchemaVersion int               `json:"schema_version"`
	CreatedAt     time.Time         `json:"created_at"`
	Data          json.RawMessage   `json:"data"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// snapshotDeleteJSON is the --json output of `eventstore snapshot delete`.
type snapshotDeleteJSON struct {
	StreamID string `json:"stream_id"`
	Deleted  bool   `json:"deleted"`
}

func snapshotCommand() *command {
	var guild string
	return &command{
		name:  "snapshot",
		usage: "show STREAM [--guild G]\n       eventstore snapshot delete STREAM [--guild G]",
		short: "show or delete a stream's snapshot",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			addGuildFlag(fs, &guild, "stream")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			sub, streamID, err := subcommandOnStream(args, "show", "delete")
			if err != nil {
				return err
			}
			if ctx, err = guildContext(ctx, guild); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if sub == "delete" {
				deleted, err := s.DeleteSnapshot(ctx, streamID)
				if err != nil {
					return err
				}
				if !deleted {
					return fmt.Errorf("delete snapshot of stream %q: %w", streamID, store.ErrSnapshotNotFound)
				}
				return c.print(snapshotDeleteJSON{StreamID: streamID, Deleted: true}, "deleted the snapshot of stream %s\n", streamID)
			}
			snap, err := s.ReadSnapshot(ctx, streamID, store.AnySchemaVersion)
			if err != nil {
				return err
			}
			out := snapshotJSON{
				StreamID: snap.StreamID, GuildID: snap.GuildID, Version: snap.Version, Type: snap.Type,
				SchemaVersion: snap.SchemaVersion, CreatedAt: snap.CreatedAt, Data: compactJSON(snap.Data), Metadata: snap.Metadata,
			}
			if c.json {
				return printJSON(c.env.Stdout, out)
			}
			w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "stream\t%s\n", out.StreamID)
			fmt.Fprintf(w, "guild\t%s\n", out.GuildID)
			fmt.Fprintf(w, "version\t%d\n", out.Version)
			fmt.Fprintf(w, "type\t%s v%d\n", out.Type, out.SchemaVersion)
			fmt.Fprintf(w, "created\t%s\n", formatTime(out.CreatedAt))
			for _, k := range slices.Sorted(maps.Keys(out.Metadata)) {
				fmt.Fprintf(w, "metadata %s\t%s\n", k, out.Metadata[k])
			}
			fmt.Fprintf(w, "data\t%s\n", out.Data)
			return w.Flush()
		},
	}
}
