package main

import (
	"context"
	"errors"
	"flag"

	"github.com/gamebot/eventstore/store"
)

func readCommand() *command {
	var (
		from     int64
		count    int
		backward bool
	)
	return &command{
		name:  "read",
		usage: "STREAM [--from N] [--count N] [--backward]",
		short: "print a stream's events, oldest first (or newest first with --backward)",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			addReplicaFlag(fs, c)
			fs.Int64Var(&from, "from", 0, "first version to print (default: the first event, or the last with --backward)")
			fs.IntVar(&count, "count", 100, "largest number of events to print (pages through longer streams)")
			fs.BoolVar(&backward, "backward", false, "newest first, from --from down")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one stream id")
			}
			streamID := args[0]
			if err := store.ValidateStreamID(streamID); err != nil {
				return usagef("%v", err)
			}
			if count < 1 {
				return usagef("--count must be at least 1, got %d", count)
			}
			if from < 0 {
				return usagef("--from must be a version >= 0, got %d", from)
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			return readStream(ctx, c, s, streamID, from, count, backward)
		},
	}
}

// readStream prints up to count events, one store page at a time. from 0
// starts at the first event, or with backward at the last.
func readStream(ctx context.Context, c *cmdContext, s *store.Store, streamID string, from int64, count int, backward bool) error {
	if from == 0 {
		from = 1
		if backward {
			from = store.End
		}
	}
	for count > 0 {
		batch := min(count, store.DefaultMaxReadBatch)
		var (
			recs []store.Recorded
			err  error
		)
		if backward {
			recs, err = s.ReadBackward(ctx, streamID, from, batch)
		} else {
			recs, err = s.ReadForward(ctx, streamID, from, batch)
		}
		if err != nil && !errors.As(err, new(*store.DecodeError)) {
			return err
		}
		for _, r := range recs {
			if err := c.printEvent(r, false); err != nil {
				return err
			}
		}
		count -= len(recs)
		if len(recs) < batch {
			return nil
		}
		last := recs[len(recs)-1].Version
		if backward {
			if last <= 1 {
				return nil
			}
			from = last - 1
		} else {
			from = last + 1
		}
	}
	return nil
}
