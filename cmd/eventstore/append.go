package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// maxAppendInput is the largest JSON input `eventstore append` reads.
const maxAppendInput = 64 << 20

// appendInput is one event of `eventstore append`'s JSON input.
type appendInput struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Version       *int            `json:"version"`
	Data          json.RawMessage `json:"data"`
	Metadata      json.RawMessage `json:"metadata"`
	CausationID   string          `json:"causation_id"`
	CorrelationID string          `json:"correlation_id"`
}

// appendResultJSON is the --json output of `eventstore append`.
type appendResultJSON struct {
	StreamID      string `json:"stream_id"`
	GuildID       string `json:"guild_id"`
	Events        int    `json:"events"`
	Version       int64  `json:"version"`
	FirstPosition int64  `json:"first_position"`
	LastPosition  int64  `json:"last_position"`
}

func appendCommand() *command {
	var expected, guild, file string
	return &command{
		name:  "append",
		usage: "STREAM --expected any|no_stream|stream_exists|N --guild GUILD [--file PATH] < events.json",
		short: "append a JSON array of events to a stream (all or nothing)",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.StringVar(&expected, "expected", "", "expected stream version: any, no_stream, stream_exists or a number (required)")
			fs.StringVar(&guild, "guild", "", "guild that owns the stream (required; a new stream belongs to it)")
			fs.StringVar(&file, "file", "-", "read the events from PATH instead of stdin")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one stream id")
			}
			streamID := args[0]
			if err := store.ValidateStreamID(streamID); err != nil {
				return usagef("%v", err)
			}
			if expected == "" {
				return usagef("--expected is required (any, no_stream, stream_exists or a version)")
			}
			exp, err := store.ParseExpectedVersion(expected)
			if err != nil {
				return usagef("--expected: %v", err)
			}
			if guild == "" {
				return usagef("--guild is required")
			}
			if err := store.ValidateGuildID(guild); err != nil {
				return usagef("--guild: %v", err)
			}
			input, source, err := readAppendInput(c, file)
			if err != nil {
				return err
			}
			events, err := parseEvents(input, source)
			if err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := s.Append(store.WithGuild(ctx, guild), streamID, exp, events...)
			if err != nil {
				return err
			}
			out := appendResultJSON{
				StreamID: res.StreamID, GuildID: guild, Events: len(events), Version: res.Version,
				FirstPosition: res.FirstPosition, LastPosition: res.LastPosition,
			}
			if c.json {
				return printJSON(c.env.Stdout, out)
			}
			_, err = fmt.Fprintf(c.env.Stdout, "appended %d event(s) to %s (guild %s): version %d, global positions %d-%d\n",
				out.Events, out.StreamID, out.GuildID, out.Version, out.FirstPosition, out.LastPosition)
			return err
		},
	}
}

// readAppendInput reads the whole input from stdin ("-") or a file.
func readAppendInput(c *cmdContext, file string) ([]byte, string, error) {
	var r io.Reader = c.env.Stdin
	source := "stdin"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		r, source = f, file
	}
	if r == nil {
		return nil, "", fmt.Errorf("no input on %s: want a JSON array of events", source)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxAppendInput+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", source, err)
	}
	if len(b) > maxAppendInput {
		return nil, "", fmt.Errorf("%s holds more than %d MiB: split the events into several appends", source, maxAppendInput>>20)
	}
	return b, source, nil
}

// parseEvents decodes a JSON array of events. Every problem is reported
// with its place (line and column, or the event's index), before anything
// is sent to the database.
func parseEvents(input []byte, source string) ([]store.Event, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		return nil, fmt.Errorf("no input on %s: want a JSON array of events", source)
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, jsonInputError(input, source, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(input, dec.InputOffset())
		return nil, fmt.Errorf("invalid JSON on %s at line %d, column %d: unexpected data after the array of events", source, line, col)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("no events: the JSON array on %s is empty", source)
	}
	events := make([]store.Event, len(raw))
	for i, r := range raw {
		ev, err := parseEvent(r)
		if err != nil {
			return nil, fmt.Errorf("event %d of %d on %s: %w", i+1, len(raw), source, err)
		}
		events[i] = ev
	}
	return events, nil
}

func parseEvent(raw json.RawMessage) (store.Event, error) {
	if t := bytes.TrimSpace(raw); t[0] != '{' {
		return store.Event{}, errors.New(`want an object {"type", "version", "data", "metadata", "id"}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var in appendInput
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if strings.HasPrefix(te.Field, "metadata") {
				return store.Event{}, fmt.Errorf(`"metadata" must be an object of strings, got JSON %s`, te.Value)
			}
			return store.Event{}, fmt.Errorf("field %q: want %s, got JSON %s", te.Field, jsonKind(te.Type.String()), te.Value)
		}
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return store.Event{}, fmt.Errorf("unknown field %s (want type, version, data, metadata, id, causation_id, correlation_id)", field)
		}
		return store.Event{}, err
	}
	if in.Type == "" {
		return store.Event{}, errors.New(`missing "type"`)
	}
	version := 1
	if in.Version != nil {
		version = *in.Version
	}
	if version < 1 {
		return store.Event{}, fmt.Errorf(`"version" must be at least 1, got %d`, version)
	}
	if len(in.Data) == 0 {
		return store.Event{}, errors.New(`missing "data" (a JSON object)`)
	}
	if err := serde.CheckObject(in.Data); err != nil {
		return store.Event{}, fmt.Errorf(`"data": %w`, err)
	}
	ev := store.Event{Data: serde.Raw{Type: in.Type, Version: version, Data: in.Data}}
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		if err := serde.CheckObject(in.Metadata); err != nil {
			return store.Event{}, fmt.Errorf(`"metadata": %w`, err)
		}
		ev.RawMetadata = in.Metadata
	}
	for _, f := range []struct {
		name string
		text string
		dst  *uuid.UUID
	}{{"id", in.ID, &ev.ID}, {"causation_id", in.CausationID, &ev.CausationID}, {"correlation_id", in.CorrelationID, &ev.CorrelationID}} {
		if f.text == "" {
			continue
		}
		id, err := uuid.Parse(f.text)
		if err != nil {
			return store.Event{}, fmt.Errorf("%q: %q is not a UUID", f.name, f.text)
		}
		*f.dst = id
	}
	return ev, nil
}

// jsonInputError describes a failure to decode the top-level array.
func jsonInputError(input []byte, source string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read, the offending one included.
		line, col := lineCol(input, max(se.Offset-1, 0))
		return fmt.Errorf("invalid JSON on %s at line %d, column %d: %v", source, line, col, se)
	case errors.As(err, &te):
		return fmt.Errorf("invalid input on %s: want a JSON array of events, got a JSON %s", source, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := lineCol(input, int64(len(bytes.TrimRight(input, " \t\r\n"))))
		return fmt.Errorf("invalid JSON on %s at line %d, column %d: unexpected end of input (an unclosed array, object or string)", source, line, col)
	}
	return fmt.Errorf("invalid JSON on %s: %w", source, err)
}

// lineCol converts a byte offset to a 1-based line and column.
func lineCol(input []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(input)))
	before := input[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// jsonKind names a Go type as the JSON a user should write.
func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "int", "int64":
		return "a whole number"
	}
	return goType
}
