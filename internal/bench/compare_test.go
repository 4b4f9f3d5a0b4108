package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runOf is a report of one run with the given ratios by scenario, targets
// as sampleReport's and Met decided from them.
func runOf(start time.Time, ratios map[string]float64) Report {
	rep := Report{StartedAt: start, Seconds: 900, Scale: 1, Repeats: 7}
	targets := map[string]*Target{"append_single": {">=", 1.3}, "read_stream": {">=", 0.7}}
	for _, name := range []string{"append_single", "read_stream", "recover_game", "append_single_1w"} {
		ratio, ok := ratios[name]
		if !ok {
			continue
		}
		res := Result{Name: name, RatioOf: "events_per_sec", Ratio: ratio, Target: targets[name]}
		if res.Target != nil {
			met := res.Target.Met(ratio)
			res.Met = &met
		}
		rep.Scenarios = append(rep.Scenarios, res)
	}
	return rep
}

func TestCompare(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 21, 42, 0, 0, time.UTC)
	reps := []Report{
		runOf(t0, map[string]float64{"append_single": 0.99, "read_stream": 0.75, "recover_game": 0.85, "append_single_1w": 1.51}),
		runOf(t0.Add(15*time.Minute), map[string]float64{"append_single": 0.93, "read_stream": 0.78, "recover_game": 0.85}),
		runOf(t0.Add(30*time.Minute), map[string]float64{"append_single": 1.02, "read_stream": 0.70, "recover_game": 0.90}),
	}
	cmp, err := Compare(reps)
	require.NoError(t, err)
	require.Len(t, cmp.Runs, 3)
	require.Equal(t, t0.Add(15*time.Minute), cmp.Runs[1].StartedAt)

	byName := map[string]ComparedScenario{}
	var order []string
	for _, s := range cmp.Scenarios {
		byName[s.Name] = s
		order = append(order, s.Name)
	}
	require.Equal(t, []string{"append_single", "read_stream", "recover_game", "append_single_1w"}, order)

	as := byName["append_single"]
	require.InDelta(t, 0.09, *as.Spread, 1e-9)
	require.Equal(t, 0, as.Met)
	rs := byName["read_stream"]
	require.InDelta(t, 0.08, *rs.Spread, 1e-9)
	require.Equal(t, 3, rs.Met, "0.70 meets >= 0.70")
	rg := byName["recover_game"]
	require.InDelta(t, 0.05, *rg.Spread, 1e-9, "0.90 - 0.85 counts as 0.05, not a hair above")
	require.Nil(t, rg.Target)
	w := byName["append_single_1w"]
	require.Nil(t, w.Spread, "measured in one run of three: no spread")
	require.NotNil(t, w.Ratios[0])
	require.Nil(t, w.Ratios[1])

	require.Equal(t, 3, cmp.Compared)
	require.Equal(t, 1, cmp.Spread005, "recover_game")
	require.Equal(t, 3, cmp.Spread010)

	var buf bytes.Buffer
	require.NoError(t, WriteComparison(&buf, cmp))
	out := buf.String()
	line := func(name string) []string {
		for l := range strings.SplitSeq(out, "\n") {
			if strings.HasPrefix(l, name+" ") {
				return strings.Fields(l)
			}
		}
		t.Fatalf("no line for %s in:\n%s", name, out)
		return nil
	}
	require.Equal(t, []string{"append_single", "0.990", "0.930", "1.020", "0.090", ">=", "1.30", "0/3"}, line("append_single"))
	require.Equal(t, []string{"recover_game", "0.850", "0.850", "0.900", "0.050", "none", "-"}, line("recover_game"))
	require.Equal(t, []string{"append_single_1w", "1.510", "-", "-", "-", "none", "-"}, line("append_single_1w"))
	require.Contains(t, out, "3 runs: 2026-12-07 21:42 UTC (15.0 min), 2026-12-07 21:57 UTC")
	require.Contains(t, out, "spread <= 0.05: 1 of 3 scenarios; <= 0.10 (every run within ±0.05 of the middle): 3 of 3")

	buf.Reset()
	require.NoError(t, WriteComparisonJSON(&buf, cmp))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Equal(t, 1.0, doc["spread_at_most_0_05"])
	first := doc["scenarios"].([]any)[0].(map[string]any)
	require.Equal(t, []any{0.99, 0.93, 1.02}, first["ratios"])
}

func TestCompareRefusesUnlikeRuns(t *testing.T) {
	t.Parallel()
	base := runOf(time.Time{}, map[string]float64{"read_stream": 0.75})
	_, err := Compare([]Report{base})
	require.ErrorContains(t, err, "at least two runs, got 1")

	for _, tt := range []struct {
		name   string
		change func(*Report)
		want   string
	}{
		{"scale", func(r *Report) { r.Scale = 0.05 }, "run 3 is not comparable with run 1: scale 0.05, 7 repeats, prefill 0, against scale 1, 7 repeats, prefill 0"},
		{"repeats", func(r *Report) { r.Repeats = 3 }, "scale 1, 3 repeats"},
		{"prefill", func(r *Report) { r.Prefill = 1_000_000 }, "prefill 1000000"},
	} {
		other := runOf(time.Time{}, map[string]float64{"read_stream": 0.75})
		tt.change(&other)
		_, err := Compare([]Report{base, base, other})
		var mismatch *MismatchError
		require.ErrorAs(t, err, &mismatch, tt.name)
		require.Equal(t, 3, mismatch.Run)
		require.ErrorContains(t, err, tt.want, tt.name)
	}
}

func TestReadReport(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, sampleReport()))
	rep, err := ReadReport(&buf)
	require.NoError(t, err)
	require.Equal(t, sampleReport().Scenarios[0].Ratio, rep.Scenarios[0].Ratio)
	require.Equal(t, "future_scenario", rep.Skipped[0].Name)

	_, err = ReadReport(strings.NewReader(`{"result": "OK"}`))
	require.ErrorContains(t, err, "no scenarios in it")
	_, err = ReadReport(strings.NewReader(`scenario events seconds`))
	require.ErrorContains(t, err, "bench: read report")
}
