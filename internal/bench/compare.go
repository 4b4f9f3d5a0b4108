package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Comparison puts the reports of several runs side by side: each
// scenario's ratio in every run, how far it moved between them (its
// spread) and how often it met its target.
type Comparison struct {
	Runs      []ComparedRun      `json:"runs"`
	Scenarios []ComparedScenario `json:"scenarios"`
	// Compared counts the scenarios that every run measured; only they have
	// a spread.
	Compared int `json:"compared"`
	// Spread005 counts the compared scenarios whose ratios span at most
	// 0.05 (largest minus smallest), Spread010 those that span at most 0.10:
	// every run within ±0.05 of the middle of the range.
	Spread005 int `json:"spread_at_most_0_05"`
	Spread010 int `json:"spread_at_most_0_10"`
}

// ComparedRun is what a comparison keeps of one run.
type ComparedRun struct {
	StartedAt time.Time `json:"started_at"`
	Seconds   float64   `json:"seconds"`
}

// ComparedScenario is one scenario across the runs.
type ComparedScenario struct {
	Name string `json:"name"`
	// RatioOf is what the ratio compares (see Result.RatioOf).
	RatioOf string `json:"ratio_of"`
	// Ratios holds each run's ratio, in the order of the runs; null for a
	// run that did not measure the scenario.
	Ratios []*float64 `json:"ratios"`
	// Spread is the largest ratio minus the smallest; null unless every run
	// measured the scenario.
	Spread *float64 `json:"spread"`
	// Target is the scenario's goal (null: reported without one); Met counts
	// the runs that reached it.
	Target *Target `json:"target"`
	Met    int     `json:"met"`
}

// spreadSlack absorbs the error of floating-point subtraction, so that
// ratios of 0.85 and 0.90 count as a spread of 0.05 (not 0.05000000000000004).
const spreadSlack = 1e-9

// Compare lines up the reports of at least two runs of the same kind (the
// same scale, repeats and prefill: the spreads of runs that differ there
// would measure the difference, not the noise). Scenarios are listed in
// the order the runs first report them.
func Compare(reps []Report) (Comparison, error) {
	if len(reps) < 2 {
		return Comparison{}, fmt.Errorf("bench: compare needs at least two runs, got %d", len(reps))
	}
	first := reps[0]
	for i, rep := range reps[1:] {
		if rep.Scale != first.Scale || rep.Repeats != first.Repeats || rep.Prefill != first.Prefill {
			return Comparison{}, &MismatchError{Run: i + 2,
				Want: runKind(first), Got: runKind(rep)}
		}
	}
	var cmp Comparison
	index := map[string]int{}
	for r, rep := range reps {
		cmp.Runs = append(cmp.Runs, ComparedRun{StartedAt: rep.StartedAt, Seconds: rep.Seconds})
		for _, s := range rep.Scenarios {
			i, ok := index[s.Name]
			if !ok {
				i = len(cmp.Scenarios)
				index[s.Name] = i
				cmp.Scenarios = append(cmp.Scenarios, ComparedScenario{
					Name: s.Name, RatioOf: s.RatioOf, Ratios: make([]*float64, len(reps)), Target: s.Target})
			}
			c := &cmp.Scenarios[i]
			ratio := s.Ratio
			c.Ratios[r] = &ratio
			if s.Met != nil && *s.Met {
				c.Met++
			}
		}
	}
	for i := range cmp.Scenarios {
		c := &cmp.Scenarios[i]
		lo, hi, all := math.Inf(1), math.Inf(-1), true
		for _, r := range c.Ratios {
			if r == nil {
				all = false
				break
			}
			lo, hi = min(lo, *r), max(hi, *r)
		}
		if !all {
			continue
		}
		spread := hi - lo
		c.Spread = &spread
		cmp.Compared++
		if spread <= 0.05+spreadSlack {
			cmp.Spread005++
		}
		if spread <= 0.10+spreadSlack {
			cmp.Spread010++
		}
	}
	return cmp, nil
}

// MismatchError is Compare's refusal of a run unlike the first.
type MismatchError struct {
	// Run is the run's place in the list, from 1.
	Run       int
	Want, Got string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("bench: run %d is not comparable with run 1: %s, against %s", e.Run, e.Got, e.Want)
}

func runKind(rep Report) string {
	return fmt.Sprintf("scale %s, %d repeats, prefill %d",
		strconv.FormatFloat(rep.Scale, 'g', -1, 64), rep.Repeats, rep.Prefill)
}

// ReadReport reads one report written by WriteJSON.
func ReadReport(r io.Reader) (Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return Report{}, fmt.Errorf("bench: read report: %w", err)
	}
	if len(rep.Scenarios) == 0 && len(rep.Skipped) == 0 {
		return Report{}, errors.New("bench: read report: no scenarios in it (is it the JSON of eventstore bench --json?)")
	}
	return rep, nil
}

// WriteComparison writes cmp as a text table: a line per scenario with
// each run's ratio, the spread, the target and how many runs met it, then
// how many scenarios agreed within 0.05 and within ±0.05.
func WriteComparison(w io.Writer, cmp Comparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs:", len(cmp.Runs))
	for i, r := range cmp.Runs {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %s (%.1f min)", sep, r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), r.Seconds/60)
	}
	fmt.Fprintf(&b, "\nratio per run (as the runs report it); spread = largest - smallest; met = runs that met the target\n\n")
	fmt.Fprintf(&b, "%-24s", "scenario")
	for i := range cmp.Runs {
		fmt.Fprintf(&b, " %7s", "run "+strconv.Itoa(i+1))
	}
	fmt.Fprintf(&b, " %7s %8s %5s\n", "spread", "target", "met")
	for _, s := range cmp.Scenarios {
		fmt.Fprintf(&b, "%-24s", s.Name)
		measured := 0
		for _, r := range s.Ratios {
			if r == nil {
				fmt.Fprintf(&b, " %7s", "-")
				continue
			}
			measured++
			fmt.Fprintf(&b, " %7.3f", *r)
		}
		spread, met := "-", "-"
		if s.Spread != nil {
			spread = strconv.FormatFloat(*s.Spread, 'f', 3, 64)
		}
		if s.Target != nil {
			met = fmt.Sprintf("%d/%d", s.Met, measured)
		}
		fmt.Fprintf(&b, " %7s %8s %5s\n", spread, s.Target.String(), met)
	}
	fmt.Fprintf(&b, "\nspread <= 0.05: %d of %d scenarios; <= 0.10 (every run within ±0.05 of the middle): %d of %d\n",
		cmp.Spread005, cmp.Compared, cmp.Spread010, cmp.Compared)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: write comparison: %w", err)
	}
	return nil
}

// WriteComparisonJSON writes cmp as one indented JSON document.
func WriteComparisonJSON(w io.Writer, cmp Comparison) error { return writeJSON(w, cmp, "comparison") }
