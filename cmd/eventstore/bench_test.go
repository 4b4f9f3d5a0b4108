package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/bench"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/stretchr/testify/require"
)

func TestBenchJSON(t *testing.T) {
	t.Parallel()
	server := testdb.ServerURL(t)
	r := runCLI(t, "--database-url", server, "--json", "bench", "--scale", "0.01", "--quiet")
	requireOK(t, r)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))

	var names []string
	for _, s := range rep.Scenarios {
		names = append(names, s.Name)
		require.Positive(t, s.Events, s.Name)
		require.Positive(t, s.Seconds, s.Name)
		require.Positive(t, s.EventsPerSec, s.Name)
		require.Positive(t, s.Baseline.EventsPerSec, s.Name)
		require.Positive(t, s.Ratio, s.Name)
		repeats := bench.DefaultRepeats
		if s.Name == "append_single_live" {
			repeats = max(repeats, 5) // its own least number of repeats
		}
		require.Len(t, s.Samples, repeats, "%s: one sample per repeat", s.Name)
		if s.Target == nil {
			require.Nil(t, s.Met, "%s: no target, no verdict", s.Name)
		} else {
			require.Contains(t, []string{">=", "<="}, s.Target.Op, s.Name)
			require.NotNil(t, s.Met, s.Name)
			require.Equal(t, s.Target.Met(s.Ratio), *s.Met, s.Name)
		}
		require.NotEmpty(t, s.What, s.Name)
		require.NotEmpty(t, s.Baseline.What, s.Name)
	}
	for _, s := range rep.Skipped {
		names = append(names, s.Name)
		require.NotEmpty(t, s.Reason)
	}
	require.ElementsMatch(t, bench.Scenarios(), names, "every scenario is reported, run or skipped")
	i := slices.IndexFunc(rep.Scenarios, func(s bench.Result) bool { return s.Name == "append_single" })
	require.GreaterOrEqual(t, i, 0)
	require.NotNil(t, rep.Scenarios[i].P99Ms, "append latency is reported")
	for _, m := range []bench.Measure{rep.Scenarios[i].Measure, rep.Scenarios[i].Baseline} {
		require.NotNil(t, m.WAL, "the WAL written per event is reported: %s", m.What)
		// Every event is at least its row's insert record.
		require.Greater(t, m.WAL.BytesPerEvent, 100.0, m.What)
	}
	// How the coalescer sent append_single's appends; append_single_nocoalesce
	// and the baselines do not use it.
	coal := rep.Scenarios[i].Coalescing
	require.NotNil(t, coal, "append_single reports its flushes")
	require.GreaterOrEqual(t, coal.AppendsPerFlush, 1.0)
	require.LessOrEqual(t, coal.AppendsPerFlush, 8.0, "8 writers")
	require.GreaterOrEqual(t, coal.AloneShare, 0.0)
	require.LessOrEqual(t, coal.AloneShare, 1.0)
	require.Nil(t, rep.Scenarios[i].Baseline.Coalescing)
	j := slices.IndexFunc(rep.Scenarios, func(s bench.Result) bool { return s.Name == "append_single_nocoalesce" })
	require.GreaterOrEqual(t, j, 0)
	require.Nil(t, rep.Scenarios[j].Coalescing)
	// insert_grouped reports how its rows went out; its baseline, the
	// autocommitted INSERTs, groups nothing.
	k := slices.IndexFunc(rep.Scenarios, func(s bench.Result) bool { return s.Name == "insert_grouped" })
	require.GreaterOrEqual(t, k, 0)
	require.NotNil(t, rep.Scenarios[k].Coalescing)
	require.GreaterOrEqual(t, rep.Scenarios[k].Coalescing.AppendsPerFlush, 1.0)
	require.LessOrEqual(t, rep.Scenarios[k].Coalescing.AppendsPerFlush, 8.0, "8 writers")
	require.Nil(t, rep.Scenarios[k].Baseline.Coalescing)
	require.Nil(t, rep.Scenarios[k].Target, "reported without a target")
	require.NotEmpty(t, rep.Server.Version)

	// The scratch database is gone.
	var left int
	require.NoError(t, testdb.Connect(t, server).QueryRow(t.Context(),
		`SELECT count(*) FROM pg_database WHERE datname = $1`, rep.Database).Scan(&left))
	require.Zero(t, left, "scratch database %s was not dropped", rep.Database)
}

// TestBenchPrefill: with --prefill, append_single runs before the prefill
// and again after it, and append_single_prefill compares the two runs.
func TestBenchPrefill(t *testing.T) {
	t.Parallel()
	server := testdb.ServerURL(t)
	r := runCLI(t, "--database-url", server, "--json", "bench", "--scale", "0.01", "--quiet",
		"--prefill", "3000", "--only", "append_single")
	requireOK(t, r)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.EqualValues(t, 3000, rep.Prefill)
	var names []string
	for _, s := range rep.Scenarios {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"append_single", "append_single_prefill"}, names)
	single, prefill := rep.Scenarios[0], rep.Scenarios[1]
	// The store held the prefill and the run before it when the measured
	// run started.
	require.Greater(t, single.StoreEvents, int64(3000))
	require.EqualValues(t, 3000, prefill.Parameters["prefill_events"])
	require.Equal(t, single.EventsPerSec, prefill.EventsPerSec, "after the prefill: append_single's own run")
	require.Positive(t, prefill.Baseline.EventsPerSec, "before the prefill")
	require.InDelta(t, prefill.EventsPerSec/prefill.Baseline.EventsPerSec, prefill.Ratio, 1e-9)
	require.NotNil(t, prefill.Met)
}

func TestBenchTableOnly(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "--database-url", testdb.ServerURL(t), "bench", "--scale", "0.01", "--only", "append_single, read_stream_raw", "--quiet")
	requireOK(t, r)
	var rows []string
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 1 && slices.Contains(bench.Scenarios(), f[0]) && f[1] != "ratios:" {
			rows = append(rows, f[0])
		}
	}
	require.Equal(t, []string{"append_single", "read_stream_raw"}, rows)
	require.Regexp(t, `(?m)^append_single +ratios: of_medians \d`, r.stdout, "the ratio of the medians beside the paired one")
	require.Contains(t, r.stdout, "ratio")
}

// TestBenchCPUProfile: --cpuprofile leaves a gzipped CPU profile of the run
// (pprof's format: its sample types are named in the string table), and a
// path that cannot be created fails before anything is measured.
func TestBenchCPUProfile(t *testing.T) {
	t.Parallel()
	server := testdb.ServerURL(t)
	path := filepath.Join(t.TempDir(), "cpu.prof")
	r := runCLI(t, "--database-url", server, "bench", "--scale", "0.01", "--only", "append_single", "--quiet", "--cpuprofile", path)
	requireOK(t, r)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err, "a pprof profile is gzipped")
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	for _, name := range []string{"samples", "count", "cpu", "nanoseconds"} {
		require.True(t, bytes.Contains(raw, []byte(name)), "the profile names its sample type %q", name)
	}

	r = runCLI(t, "--database-url", server, "bench", "--scale", "0.01", "--only", "append_single", "--quiet",
		"--cpuprofile", filepath.Join(t.TempDir(), "missing", "cpu.prof"))
	requireFail(t, r, "cpu profile")
	require.NotContains(t, r.stdout, "append_single", "nothing was measured")
}

func TestBenchRefusesBadInput(t *testing.T) {
	t.Parallel()
	server := testdb.ServerURL(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"--only", "append_everything"}, `unknown scenario "append_everything"`},
		{"too few repeats", []string{"--repeats", "2"}, "at least 3"},
		{"negative scale", []string{"--scale", "-1"}, "invalid scale"},
		{"positional argument", []string{"now"}, "bench takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, append([]string{"--database-url", server, "bench", "--quiet"}, tc.args...)...)
			requireFail(t, r, tc.want)
		})
	}
}

// TestBenchRecoverPasses: a measured repeat of the recovery scenarios runs
// several recoveries (and the baseline as many reads), so that a repeat
// lasts long enough to give steady ratios.
func TestBenchRecoverPasses(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "--database-url", testdb.ServerURL(t), "--json", "bench", "--scale", "0.1", "--quiet",
		"--only", "recover_game,recover_game_snapshot")
	requireOK(t, r)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.Len(t, rep.Scenarios, 2)
	for _, s := range rep.Scenarios {
		passes, ok := s.Parameters["passes"].(float64)
		require.True(t, ok, "%s reports its passes: %v", s.Name, s.Parameters)
		require.Greater(t, passes, 1.0, s.Name)
		replayed := s.Parameters["game_events"].(float64)
		if v, ok := s.Parameters["snapshot_version"].(float64); ok {
			replayed -= v
		}
		require.Equal(t, int(passes*replayed), s.Events, "%s: every pass replays the game", s.Name)
		require.Equal(t, int(passes*replayed), s.Baseline.Events, "%s: the baseline reads it as often", s.Name)
	}
}

// writeReport writes a bench report of one run, with the given ratios of
// append_single and read_stream, to a file and returns its path.
func writeReport(t *testing.T, dir string, n int, scale float64, single, read float64) string {
	t.Helper()
	met := func(target bench.Target, ratio float64) *bool { m := target.Met(ratio); return &m }
	rep := bench.Report{
		StartedAt: time.Date(2026, 12, 7, 21, 42+15*n, 0, 0, time.UTC), Seconds: 890, Scale: scale, Repeats: 7,
		Scenarios: []bench.Result{
			{Name: "append_single", RatioOf: "events_per_sec", Ratio: single,
				Target: &bench.Target{Op: ">=", Value: 1.3}, Met: met(bench.Target{Op: ">=", Value: 1.3}, single)},
			{Name: "read_stream", RatioOf: "events_per_sec", Ratio: read,
				Target: &bench.Target{Op: ">=", Value: 0.7}, Met: met(bench.Target{Op: ">=", Value: 0.7}, read)},
		},
	}
	var buf bytes.Buffer
	require.NoError(t, bench.WriteJSON(&buf, rep))
	path := filepath.Join(dir, fmt.Sprintf("run-%d.json", n))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

// TestBenchCompare compares saved runs without a database.
func TestBenchCompare(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeReport(t, dir, 0, 1, 0.99, 0.75)
	b := writeReport(t, dir, 1, 1, 0.93, 0.78)
	c := writeReport(t, dir, 2, 1, 1.02, 0.79)

	r := runCLI(t, "bench", "--compare", a, b, c)
	requireOK(t, r)
	lines := strings.Split(r.stdout, "\n")
	require.Contains(t, lines, fmt.Sprintf("%-24s %7s %7s %7s %7s %8s %5s", "append_single", "0.990", "0.930", "1.020", "0.090", ">= 1.30", "0/3"))
	require.Contains(t, lines, fmt.Sprintf("%-24s %7s %7s %7s %7s %8s %5s", "read_stream", "0.750", "0.780", "0.790", "0.040", ">= 0.70", "3/3"))
	require.Contains(t, r.stdout, "spread <= 0.05: 1 of 2 scenarios; <= 0.10 (every run within ±0.05 of the middle): 2 of 2")

	// One report from stdin, and JSON out.
	stdin, err := os.ReadFile(b)
	require.NoError(t, err)
	r = runWith(t.Context(), runOpts{stdin: string(stdin)}, "--json", "bench", "--compare", a, "-")
	requireOK(t, r)
	var cmp bench.Comparison
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &cmp))
	require.Len(t, cmp.Runs, 2)
	require.InDelta(t, 0.06, *cmp.Scenarios[0].Spread, 1e-9)

	small := writeReport(t, dir, 3, 0.05, 0.95, 0.75)
	requireFail(t, runCLI(t, "bench", "--compare", a, small), small+": bench: run 2 is not comparable with run 1: scale 0.05")
	requireFail(t, runCLI(t, "bench", "--compare", a), "at least two runs, got 1")
	requireFail(t, runCLI(t, "bench", "--compare", a, "-", "-"), `reads stdin ("-") once`)
	requireFail(t, runCLI(t, "bench", "--compare", "--scale", "0.5", a, b), "--compare reads earlier runs; --scale would change a run")
	requireFail(t, runCLI(t, "bench", "--compare", a, filepath.Join(dir, "missing.json")), "missing.json")
	notReport := filepath.Join(dir, "table.txt")
	require.NoError(t, os.WriteFile(notReport, []byte("scenario events seconds\n"), 0o600))
	requireFail(t, runCLI(t, "bench", "--compare", a, notReport), notReport+": bench: read report")
	requireFail(t, runCLI(t, "bench", a, b), "bench takes no arguments", "bench --compare FILE FILE...")
}
