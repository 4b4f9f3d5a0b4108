package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
)

// replayJSON is the --json output of `eventstore replay`.
type replayJSON struct {
	GameID          string     `json:"game_id"`
	GuildID         string     `json:"guild_id"`
	Version         int64      `json:"version"`
	SnapshotVersion int64      `json:"snapshot_version"`
	Replayed        int        `json:"replayed"`
	Skipped         []string   `json:"skipped"`
	State           game.State `json:"state"`
}

func replayCommand() *command {
	var skip, full bool
	return &command{
		name:  "replay",
		usage: "GAME_ID [--skip-invalid] [--full]",
		short: "recover a game from its stream (snapshot + validated replay) and print its state",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			addReplicaFlag(fs, c)
			fs.BoolVar(&skip, "skip-invalid", false, "skip and report invalid or undecodable events instead of failing")
			fs.BoolVar(&full, "full", false, "ignore snapshots and replay the whole stream")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one game id")
			}
			if err := store.ValidateStreamID(args[0]); err != nil {
				return usagef("%v", err)
			}
			s, err := c.openStoreWith(ctx, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
			if err != nil {
				return err
			}
			defer s.Close()
			opts := game.RecoverOptions{FullReplay: full}
			if skip {
				opts.OnInvalid = game.SkipAndReport
			}
			res, err := game.Recover(ctx, s, args[0], opts)
			if err != nil {
				return err
			}
			out := replayJSON{GameID: res.GameID, GuildID: res.GuildID, Version: res.Version,
				SnapshotVersion: res.SnapshotVersion, Replayed: res.Replayed, Skipped: []string{}, State: res.State}
			for _, sk := range res.Skipped {
				out.Skipped = append(out.Skipped, sk.Error())
			}
			if c.json {
				return printJSON(c.env.Stdout, out)
			}
			printReplay(c.env.Stdout, out)
			return nil
		},
	}
}

func printReplay(w io.Writer, r replayJSON) {
	st := r.State
	from := "a full replay"
	if r.SnapshotVersion > 0 {
		from = fmt.Sprintf("the snapshot at version %d", r.SnapshotVersion)
	}
	fmt.Fprintf(w, "game %s (guild %s, %s): %s, round %d, %d events (replayed %d from %s)\n",
		r.GameID, r.GuildID, st.Mode, st.Status, st.Round, r.Version, r.Replayed, from)
	for _, id := range st.TeamIDs() {
		t := st.Teams[id]
		status := "active"
		if t.Eliminated {
			status = fmt.Sprintf("eliminated in round %d (%s)", t.EliminatedRound, t.EliminationReason)
		}
		fmt.Fprintf(w, "  team %-10s players %-24s score %3d  matches %3d  guesses %3d  %s\n",
			id, strings.Join(t.Players, ","), t.Score, t.Matches, t.Guesses, status)
	}
	if len(st.Winners) > 0 {
		fmt.Fprintf(w, "  winners: %s\n", strings.Join(st.Winners, ", "))
	}
	for _, sk := range r.Skipped {
		fmt.Fprintf(w, "  skipped: %s\n", sk)
	}
}
