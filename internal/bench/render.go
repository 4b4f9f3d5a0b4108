package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// WriteJSON writes rep as one indented JSON document.
func WriteJSON(w io.Writer, rep Report) error { return writeJSON(w, rep, "json") }

// writeJSON writes v as one indented JSON document; what names it in an
// error.
func writeJSON(w io.Writer, v any, what string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("bench: write %s: %w", what, err)
	}
	return nil
}

// WriteTable writes rep as a text table: one line per scenario with our
// rate and latency, the baseline's, the ratio and whether the target was
// met, then the skipped scenarios.
func WriteTable(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "PostgreSQL %s · %d CPUs · %s · scale %s · %d repeats (median) · prefill %d events\n",
		rep.Server.Version, rep.Machine.CPUs, rep.Machine.GoVersion, strconv.FormatFloat(rep.Scale, 'g', -1, 64), rep.Repeats, rep.Prefill)
	fmt.Fprintf(&b, "ratio = ours / baseline, measured side by side, the median of the repeats' own ratios: events/s\n")
	fmt.Fprintf(&b, "(of_medians: median over median); p99 latency for subscription_latency and read_your_writes_latency;\n")
	fmt.Fprintf(&b, "the larger of the p50 and p99 latency ratios for append_single_1w (*_pooled: all repeats' calls together)\n")
	if rep.Standby != "" {
		fmt.Fprintf(&b, "replica scenarios read from the hot standby %s; their baseline is the same reads from the primary\n", rep.Standby)
	}
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "%-24s %8s %8s %10s %8s %8s %11s %9s %6s %8s %4s\n",
		"scenario", "events", "seconds", "events/s", "p50 ms", "p99 ms", "baseline/s", "base p99", "ratio", "target", "met")
	for _, s := range rep.Scenarios {
		met, target := "-", "none"
		if s.Target != nil {
			target = s.Target.String()
		}
		if s.Met != nil {
			met = map[bool]string{true: "yes", false: "no"}[*s.Met]
		}
		fmt.Fprintf(&b, "%-24s %8d %8.3f %10.0f %8s %8s %11.0f %9s %6.3f %8s %4s\n",
			s.Name, s.Events, s.Seconds, s.EventsPerSec, msCell(s.P50Ms), msCell(s.P99Ms),
			s.Baseline.EventsPerSec, msCell(s.Baseline.P99Ms), s.Ratio, target, met)
	}
	for _, s := range rep.Scenarios {
		if len(s.Ratios) == 0 {
			continue
		}
		names := slices.Sorted(maps.Keys(s.Ratios))
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %.3f", n, s.Ratios[n])
		}
		fmt.Fprintf(&b, "%-24s ratios: %s\n", s.Name, strings.Join(parts, ", "))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "%-24s skipped: %s\n", s.Name, s.Reason)
	}
	fmt.Fprintf(&b, "\ntotal %.1fs\n", rep.Seconds)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	return nil
}

func msCell(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}
