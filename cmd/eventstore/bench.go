package main

import (
	"context"
	"flag"
	"io"
	"strings"

	"github.com/gamebot/eventstore/internal/bench"
)

func benchCommand() *command {
	var (
		opts  bench.Options
		only  string
		quiet bool
	)
	return &command{
		name:  "bench",
		usage: "[--scale N] [--only NAME,...] [--repeats N] [--prefill N] [--quiet]",
		short: "measure the store against raw PostgreSQL baselines (in a scratch database)",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.Float64Var(&opts.Scale, "scale", 1, "multiply every scenario's work by N (below 1 for a smoke run)")
			fs.IntVar(&opts.Repeats, "repeats", bench.DefaultRepeats, "measured repeats per side, median reported (at least 3)")
			fs.StringVar(&only, "only", "", "comma-separated scenarios to run: "+strings.Join(bench.Scenarios(), ", "))
			fs.Int64Var(&opts.Prefill, "prefill", 0, "load N events into the scratch store (and the baseline table) first")
			fs.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 0 {
				return usagef("bench takes no arguments, got %q", args)
			}
			if only != "" {
				for name := range strings.SplitSeq(only, ",") {
					if name = strings.TrimSpace(name); name != "" {
						opts.Only = append(opts.Only, name)
					}
				}
			}
			var progress io.Writer = c.env.Stderr
			if quiet {
				progress = nil
			}
			opts.Progress = progress
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			rep, err := bench.Run(ctx, pool, opts)
			if err != nil {
				return err
			}
			if c.json {
				return bench.WriteJSON(c.env.Stdout, rep)
			}
			return bench.WriteTable(c.env.Stdout, rep)
		},
	}
}
