package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/store"
)

// appendShape is the size of an append scenario at scale 1.
type appendShape struct {
	writers        int
	perCall        int
	callsPerWriter int
}

// eventsPerStream is the length of a benchmark game stream: a writer moves
// to a fresh stream after this many events.
const eventsPerStream = 1000

// planFor builds repeat rep's plan (rep < 0: the warm-up, a quarter of the
// size). Streams are fresh in every repeat.
func (r *runner) planFor(name string, sh appendShape, rep int, shared, rows bool) (plan, error) {
	calls := r.callsPerWriter(sh, shared)
	// A scenario may run twice (append_single before and after --prefill):
	// every plan names streams no earlier plan used.
	r.plans++
	tag := fmt.Sprintf("%s-%s-p%d-r%d", r.tag, name, r.plans, rep)
	if rep < 0 {
		calls = max(1, calls/4)
		tag = fmt.Sprintf("%s-%s-p%d-warm", r.tag, name, r.plans)
	}
	return newPlan(planSpec{
		tag: tag, writers: sh.writers, callsPerWriter: calls, perCall: sh.perCall,
		eventsPerStream: eventsPerStream, shared: shared, rows: rows,
	}, r.ser)
}

// callsPerWriter is sh's calls per writer at the run's scale; when every
// writer appends to one stream (shared), no more than the stream holds.
func (r *runner) callsPerWriter(sh appendShape, shared bool) int {
	calls := r.scaled(sh.callsPerWriter, 2)
	if shared {
		calls = min(calls, store.DefaultMaxStreamEvents/(sh.writers*sh.perCall))
	}
	return calls
}

// appendOurs runs p's calls through Store.Append, one goroutine per writer.
func (r *runner) appendOurs(ctx context.Context, s *store.Store, p plan) (sample, error) {
	ctx = store.WithGuild(ctx, Guild)
	flushed, handedOff := r.flushes.snapshot(), s.Stats().FlushHandOffs
	sm, err := timeCalls(ctx, p, func(ctx context.Context, c call) error {
		_, err := s.Append(ctx, c.stream, c.expected, c.events...)
		return err
	})
	sm.flushes = r.flushes.snapshot().since(flushed)
	sm.flushes.handOffs = s.Stats().FlushHandOffs - handedOff
	return sm, err
}

// appendBaseline writes p's rows into the twin table, one goroutine per
// writer: with COPY when useCopy is set, else with one INSERT per call.
func (r *runner) appendBaseline(ctx context.Context, p plan, useCopy bool) (sample, error) {
	q := insertSQL(len(p[0][0].rows))
	return timeCalls(ctx, p, func(ctx context.Context, c call) error {
		if useCopy {
			return r.copyRows(ctx, c.rows)
		}
		return r.insertRows(ctx, q, c.rows)
	})
}

// timeCalls runs p's calls through do, one goroutine per writer, and
// returns the sample: p's events, the time until the last writer finished
// and every call's latency.
func timeCalls(ctx context.Context, p plan, do func(ctx context.Context, c call) error) (sample, error) {
	lat := make([][]time.Duration, len(p))
	elapsed, err := runWriters(ctx, len(p), func(ctx context.Context, w int) error {
		lat[w] = make([]time.Duration, 0, len(p[w]))
		for _, c := range p[w] {
			t0 := time.Now()
			if err := do(ctx, c); err != nil {
				return err
			}
			lat[w] = append(lat[w], time.Since(t0))
		}
		return nil
	})
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return sample{events: p.eventCount(), elapsed: elapsed, latencies: all}, err
}

// appendVsBaseline measures Store.Append against the twin-table baseline on
// the same plans.
func (r *runner) appendVsBaseline(ctx context.Context, name string, s *store.Store, sh appendShape, useCopy bool, baseWhat string, target *Target) (Result, error) {
	plans := map[int]plan{}
	get := func(rep int) (plan, error) {
		if p, ok := plans[rep]; ok {
			delete(plans, rep) // each plan is used once by each side
			return p, nil
		}
		p, err := r.planFor(name, sh, rep, false, true)
		if err == nil {
			plans[rep] = p
		}
		return p, err
	}
	ours := func(ctx context.Context, rep int) (sample, error) {
		p, err := get(rep)
		if err != nil {
			return sample{}, err
		}
		return r.appendOurs(ctx, s, p)
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		p, err := get(rep)
		if err != nil {
			return sample{}, err
		}
		return r.appendBaseline(ctx, p, useCopy)
	}
	o, b, err := r.compare(ctx, name, ours, base)
	if err != nil {
		return Result{}, err
	}
	params := map[string]any{
		"writers": sh.writers, "events_per_call": sh.perCall, "calls_per_writer": r.scaled(sh.callsPerWriter, 2),
		"events_per_stream": eventsPerStream, "expected_version": "exact", "event": "guess_processed v1 (typed)",
	}
	what := fmt.Sprintf("Store.Append, %d typed events per call, %d writer(s)", sh.perCall, sh.writers)
	if s == r.typedAlone {
		what += ", coalescing off"
		params["coalescing"] = false
	}
	return rateResult(params, measureOf(what, o), measureOf(baseWhat, b), target), nil
}

func appendBatch1000(ctx context.Context, r *runner) (Result, error) {
	return r.appendVsBaseline(ctx, "append_batch_1000", r.typed, appendShape{writers: 1, perCall: 1000, callsPerWriter: 150}, true,
		"COPY of the same pre-serialized rows into the twin table, 1000 rows per COPY, 1 writer",
		&Target{Op: ">=", Value: 0.8})
}

func appendBatch100(ctx context.Context, r *runner) (Result, error) {
	return r.appendVsBaseline(ctx, "append_batch_100", r.typed, appendShape{writers: 4, perCall: 100, callsPerWriter: 300}, false,
		"multi-row INSERT of the same rows into the twin table, 100 rows per transaction, 4 writers",
		&Target{Op: ">=", Value: 0.9})
}

// singleShape is append_single's workload (also append_single_nocoalesce's).
// Every append scenario's repeat takes several seconds on a 2-core machine,
// so that a short stall of the machine weighs less in a repeat (how much the
// ratios still move from run to run is in docs/PERFORMANCE.md).
var singleShape = appendShape{writers: 8, perCall: 1, callsPerWriter: 2500}

// contendedShape is append_contended's: fewer calls, because every repeat
// appends to one stream, which holds at most 10,000 events (the store's
// default limit), and because its baseline (every append queueing for one
// row lock through its commit) runs at a third of append_single's rate.
var contendedShape = appendShape{writers: 8, perCall: 1, callsPerWriter: 1200}

// appendSingle: eight writers, single events, coalescing on (the default):
// appends that meet in flight share a statement and a commit, which a
// baseline of autocommitted INSERTs cannot.
func appendSingle(ctx context.Context, r *runner) (Result, error) {
	return r.appendVsBaseline(ctx, "append_single", r.typed, singleShape, false,
		"single-row INSERT transactions of the same rows into the twin table, 8 writers",
		&Target{Op: ">=", Value: 1.3})
}

// appendSingleAlone is append_single with coalescing off: every append its
// own statement and commit, like the baseline's INSERTs.
func appendSingleAlone(ctx context.Context, r *runner) (Result, error) {
	return r.appendVsBaseline(ctx, "append_single_nocoalesce", r.typedAlone, singleShape, false,
		"single-row INSERT transactions of the same rows into the twin table, 8 writers",
		&Target{Op: ">=", Value: 0.85})
}

// appendSingle1w: one writer, single events; the ratio is the larger of
// the p50 and p99 latency ratios (per call, repeat by repeat) to an
// autocommitted INSERT.
func appendSingle1w(ctx context.Context, r *runner) (Result, error) {
	sh := appendShape{writers: 1, perCall: 1, callsPerWriter: 8000}
	res, err := r.appendVsBaseline(ctx, "append_single_1w", r.typed, sh, false,
		"single-row INSERT transactions of the same rows into the twin table, 1 writer", nil)
	if err != nil {
		return res, err
	}
	p50, p50Pooled, _ := latencyRatio(res.SamplesP50Ms, res.Baseline.SamplesP50Ms, *res.P50Ms, *res.Baseline.P50Ms)
	p99, p99Pooled, _ := latencyRatio(res.SamplesP99Ms, res.Baseline.SamplesP99Ms, *res.P99Ms, *res.Baseline.P99Ms)
	res.RatioOf = "latency"
	if res.Ratios == nil {
		res.Ratios = map[string]float64{}
	}
	res.Ratios["p50"], res.Ratios["p99"], res.Ratios["events_per_sec"] = p50, p99, res.Ratio
	res.Ratios["p50_pooled"], res.Ratios["p99_pooled"] = p50Pooled, p99Pooled
	if m, ok := res.Ratios["of_medians"]; ok { // the rates', not the latencies'
		res.Ratios["events_per_sec_of_medians"] = m
		delete(res.Ratios, "of_medians")
	}
	res.Ratio = max(p50, p99)
	res.Target = &Target{Op: "<=", Value: 1.2}
	return res, nil
}

// appendContended appends single events from 8 writers to one stream with
// Any, coalescing on, against the same workload with coalescing off (every
// append its own statement, queueing for the stream's row lock through its
// commit). Run reports its ratio to append_single too.
func appendContended(ctx context.Context, r *runner) (Result, error) {
	side := func(name string, s *store.Store) func(ctx context.Context, rep int) (sample, error) {
		return func(ctx context.Context, rep int) (sample, error) {
			p, err := r.planFor(name, contendedShape, rep, true, false)
			if err != nil {
				return sample{}, err
			}
			return r.appendOurs(ctx, s, p)
		}
	}
	o, b, err := r.compare(ctx, "append_contended",
		side("append_contended", r.typed), side("append_contended_alone", r.typedAlone))
	if err != nil {
		return Result{}, err
	}
	params := map[string]any{
		"writers": contendedShape.writers, "events_per_call": 1, "calls_per_writer": r.callsPerWriter(contendedShape, true),
		"streams": 1, "expected_version": "any", "event": "guess_processed v1 (typed)",
	}
	return rateResult(params,
		measureOf("Store.Append, 1 event per call, 8 writers on one stream, expected version any", o),
		measureOf("the same with coalescing off (Config.DisableCoalescing)", b),
		&Target{Op: ">=", Value: 2}), nil
}
