package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleReport() Report {
	p50, p99, bp99 := 1.25, 4.5, 2.0
	yes, no := true, false
	return Report{
		Scale: 1, Repeats: 3,
		Server:  Server{Version: "15.18", Settings: map[string]string{"fsync": "on"}},
		Machine: Machine{CPUs: 2, GoVersion: "go1.26"},
		Scenarios: []Result{
			{
				Name:       "append_single",
				Parameters: map[string]any{"writers": 8},
				Measure:    Measure{What: "ours", Events: 2000, Seconds: 0.5, EventsPerSec: 4000, P50Ms: &p50, P99Ms: &p99, Samples: []float64{4000, 3900, 4100}},
				Baseline:   Measure{What: "base", Events: 2000, Seconds: 0.4, EventsPerSec: 5000, P99Ms: &bp99},
				RatioOf:    "events_per_sec", Ratio: 0.8, Target: &Target{">=", 0.8}, Met: &yes,
			},
			{
				Name:    "read_stream",
				Measure: Measure{Events: 30000, Seconds: 0.3, EventsPerSec: 100000},
				Ratio:   0.5, Target: &Target{">=", 0.6}, Met: &no,
			},
			{
				Name:    "recover_game",
				Measure: Measure{Events: 10000, Seconds: 0.5, EventsPerSec: 20000},
				Ratio:   0.7,
			},
		},
		Skipped: []Skipped{{Name: "future_scenario", Reason: "not in this build"}},
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, sampleReport()))
	lines := strings.Split(buf.String(), "\n")
	find := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix+" ") {
				return l
			}
		}
		t.Fatalf("no line for %s in:\n%s", prefix, buf.String())
		return ""
	}
	require.Equal(t, []string{"append_single", "2000", "0.500", "4000", "1.25", "4.50", "5000", "2.00", "0.800", ">=", "0.80", "yes"},
		strings.Fields(find("append_single")))
	require.Equal(t, []string{"read_stream", "30000", "0.300", "100000", "-", "-", "0", "-", "0.500", ">=", "0.60", "no"},
		strings.Fields(find("read_stream")))
	require.Equal(t, []string{"recover_game", "10000", "0.500", "20000", "-", "-", "0", "-", "0.700", "none", "-"},
		strings.Fields(find("recover_game")))
	require.Contains(t, find("future_scenario"), "skipped: not in this build")
	require.Contains(t, buf.String(), "PostgreSQL 15.18")
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, sampleReport()))
	var doc struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Scenarios, 3)
	first := doc.Scenarios[0]
	for _, key := range []string{"name", "parameters", "events", "seconds", "events_per_sec", "p50_ms", "p99_ms", "baseline", "ratio", "target", "met"} {
		require.Contains(t, first, key)
	}
	require.Equal(t, 5000.0, first["baseline"].(map[string]any)["events_per_sec"])
	require.Equal(t, map[string]any{"op": ">=", "value": 0.8}, first["target"])
	require.NotContains(t, doc.Scenarios[1], "p50_ms", "latency is absent where it does not apply")
	require.Equal(t, false, doc.Scenarios[1]["met"])
	require.Nil(t, doc.Scenarios[2]["target"], "no target: null")
	require.Nil(t, doc.Scenarios[2]["met"], "no target: met is null")
}
