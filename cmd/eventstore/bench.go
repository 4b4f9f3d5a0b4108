package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
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
		compare bool
		fset    *flag.FlagSet
	)
	return &command{
		name:  "bench",
		usage: "[--scale N] [--only NAME,...] [--repeats N] [--prefill N] [--quiet] [--cpuprofile FILE] [--replica [--replica-url URL]] | --compare FILE FILE...",
		short: "measure the store against raw PostgreSQL baselines (in a scratch database)",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			fset = fs
			fs.BoolVar(&compare, "compare", false, "compare the reports of earlier runs (files of bench --json, \"-\" for stdin) instead of running: each scenario's ratio per run, its spread and the runs that met its target")
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
			if compare {
				var other []string
				fset.Visit(func(f *flag.Flag) {
					if isBenchRunFlag(f.Name) {
						other = append(other, "--"+f.Name)
					}
				})
				if len(other) > 0 {
					return usagef("--compare reads earlier runs; %s would change a run", strings.Join(other, ", "))
				}
				return compareReports(c, args)
			}
			if len(args) != 0 {
				return usagef("bench takes no arguments, got %q (to compare the JSON of earlier runs: bench --compare FILE FILE...)", args)
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

// isBenchRunFlag reports whether name is one of bench's own flags that
// shape a run (as opposed to the global ones, such as --json).
func isBenchRunFlag(name string) bool {
	switch name {
	case "scale", "repeats", "only", "prefill", "quiet", "cpuprofile", "replica", "replica-url":
		return true
	}
	return false
}

// compareReports reads the reports in files (each the output of bench
// --json; "-" is stdin, once) and writes their comparison.
func compareReports(c *cmdContext, files []string) error {
	if len(files) < 2 {
		return usagef("--compare needs the JSON reports of at least two runs, got %d", len(files))
	}
	if stdin := slices.IndexFunc(files, func(f string) bool { return f == "-" }); stdin >= 0 && slices.Contains(files[stdin+1:], "-") {
		return usagef("--compare reads stdin (\"-\") once")
	}
	reps := make([]bench.Report, len(files))
	for i, name := range files {
		var r io.Reader
		if name == "-" {
			r = c.env.Stdin
		} else {
			f, err := os.Open(name)
			if err != nil {
				return fmt.Errorf("bench --compare: %w", err)
			}
			defer f.Close()
			r = f
		}
		rep, err := bench.ReadReport(r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		reps[i] = rep
	}
	cmp, err := bench.Compare(reps)
	if err != nil {
		var mismatch *bench.MismatchError
		if errors.As(err, &mismatch) {
			return fmt.Errorf("%s: %w", files[mismatch.Run-1], err)
		}
		return err
	}
	if c.json {
		return bench.WriteComparisonJSON(c.env.Stdout, cmp)
	}
	return bench.WriteComparison(c.env.Stdout, cmp)
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
