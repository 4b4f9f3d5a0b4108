package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/gamebot/eventstore/internal/bench"
)

func benchCommand() *command {
	var (
		opts    bench.Options
		only    string
		quiet   bool
		replica bool
		profile string
	)
	return &command{
		name:  "bench",
		usage: "[--scale N] [--only NAME,...] [--repeats N] [--prefill N] [--quiet] [--cpuprofile FILE] [--replica [--replica-url URL]]",
		short: "measure the store against raw PostgreSQL baselines (in a scratch database)",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			fs.Float64Var(&opts.Scale, "scale", 1, "multiply every scenario's work by N (below 1 for a smoke run)")
			fs.IntVar(&opts.Repeats, "repeats", bench.DefaultRepeats, "measured repeats per side (at least 3): the median rate is reported, and the median of the repeats' ratios")
			fs.StringVar(&only, "only", "", "comma-separated scenarios to run: "+strings.Join(bench.Scenarios(), ", "))
			fs.Int64Var(&opts.Prefill, "prefill", 0, "load N events into the scratch store (and the baseline table) first")
			fs.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
			fs.StringVar(&profile, "cpuprofile", "", "write a Go CPU profile of the run (this process: the store's client and the baselines' clients) to FILE")
			fs.BoolVar(&replica, "replica", false, "run the replica scenarios on a hot standby of the server: --replica-url, else $STANDBY_DATABASE_URL")
			addReplicaFlag(fs, c)
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
			switch {
			case len(c.replicaURLs) > 1:
				return usagef("bench reads from one standby, got %d --replica-url", len(c.replicaURLs))
			case len(c.replicaURLs) == 1:
				opts.StandbyURL = c.replicaURLs[0]
			case replica:
				if opts.StandbyURL = c.env.Getenv("STANDBY_DATABASE_URL"); opts.StandbyURL == "" {
					return usagef("--replica needs --replica-url or $STANDBY_DATABASE_URL")
				}
			}
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
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

// startCPUProfile starts a CPU profile of this process into path; the
// returned function stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
