package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultRepeats is the number of measured repeats of each side of a
// scenario when Options.Repeats is zero; fewer than 3 are refused. On a
// shared 2-core machine neighbouring repeats of one side differ by ±15 %:
// the median of three moved by up to 0.3 between runs, the median of nine
// by 0.02–0.06.
const DefaultRepeats = 7

// Options configures Run. The zero value runs every scenario at the default
// size.
type Options struct {
	// Scale multiplies the work of every scenario (events appended, passes
	// over the read fixtures, the feed's size, latency probes); default 1.
	// Values below 1 make a quick smoke run, which also shortens the
	// 10,000-event stream and game the read and recovery scenarios use.
	Scale float64
	// Repeats is the number of measured repeats per side (median taken);
	// default DefaultRepeats, at least 3.
	Repeats int
	// Only restricts the run to the named scenarios (see Scenarios).
	Only []string
	// Prefill loads this many events (and the same rows into the baseline
	// table) before the scenarios run, to measure a store that already
	// holds that much. Default 0.
	Prefill int64
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// StandbyURL names a hot standby of the server (any database on it):
	// the replica scenarios read the scratch database there. Without it
	// they are skipped.
	StandbyURL string
}

// Target is a scenario's goal for its ratio.
type Target struct {
	// Op is ">=" (the ratio must reach Value) or "<=" (must not exceed it).
	Op string `json:"op"`
	// Value is the bound.
	Value float64 `json:"value"`
}

// Met reports whether ratio satisfies t.
func (t Target) Met(ratio float64) bool {
	if t.Op == "<=" {
		return ratio <= t.Value
	}
	return ratio >= t.Value
}

// String returns e.g. ">= 0.80", or "none" for a nil Target.
func (t *Target) String() string {
	if t == nil {
		return "none"
	}
	return fmt.Sprintf("%s %.2f", t.Op, t.Value)
}

// Measure is one side of a scenario: the median of its repeats.
type Measure struct {
	// What says what was measured.
	What string `json:"what"`
	// Events is the number of events one repeat handled.
	Events int `json:"events"`
	// Seconds is the median duration of a repeat.
	Seconds float64 `json:"seconds"`
	// EventsPerSec is the median of the repeats' events per second.
	EventsPerSec float64 `json:"events_per_sec"`
	// P50Ms and P99Ms are per-call (or per-event, for latency scenarios)
	// latency percentiles over all repeats, in milliseconds; absent where
	// they do not apply.
	P50Ms *float64 `json:"p50_ms,omitempty"`
	P99Ms *float64 `json:"p99_ms,omitempty"`
	// Samples are the repeats' events per second, in run order.
	Samples []float64 `json:"samples_events_per_sec"`
	// SamplesP50Ms and SamplesP99Ms are each repeat's own latency
	// percentiles, in run order; absent where latencies do not apply.
	SamplesP50Ms []float64 `json:"samples_p50_ms,omitempty"`
	SamplesP99Ms []float64 `json:"samples_p99_ms,omitempty"`
	// WAL is the write-ahead log the server wrote per event over the
	// measured repeats (cluster-wide); absent when it is unknown.
	WAL *WALUse `json:"wal,omitempty"`
	// Coalescing describes the statements the appends of the measured
	// repeats went out in; absent where the store's coalescer was not
	// used.
	Coalescing *CoalescingUse `json:"coalescing,omitempty"`
}

// WALUse is write-ahead log written per event handled.
type WALUse struct {
	// BytesPerEvent is WAL bytes per event: the event's row and index
	// entries, and whatever else the write costs (a stream row's lock and
	// update, commit records).
	BytesPerEvent float64 `json:"bytes_per_event"`
}

// CoalescingUse is how the store's coalescer sent a side's appends.
type CoalescingUse struct {
	// AppendsPerFlush is the mean number of appends per statement the
	// coalescer sent (1: every append went out alone).
	AppendsPerFlush float64 `json:"appends_per_flush"`
	// AloneShare is the share of appends that went out alone.
	AloneShare float64 `json:"alone_share"`
	// HandOffs counts the appends that a flush sent again alone after it
	// waited Config.FlushLockWait for a lock (Stats.FlushHandOffs); they
	// count as alone too.
	HandOffs int64 `json:"hand_offs"`
}

// Result is one scenario's outcome.
type Result struct {
	// Name is the scenario name (see Scenarios).
	Name string `json:"name"`
	// Parameters are the scenario's sizes (writers, batch, ...).
	Parameters map[string]any `json:"parameters"`
	// StoreEvents is the number of events the store held when the
	// scenario started (prefill and earlier scenarios included).
	StoreEvents int64 `json:"store_events"`
	// Measure is the event store's side.
	Measure
	// Baseline is the raw-PostgreSQL side, measured in the same run.
	Baseline Measure `json:"baseline"`
	// RatioOf names what Ratio compares: "events_per_sec" (ours/baseline),
	// "p99" (ours/baseline latency) or "latency" (the larger of the p50 and
	// p99 latency ratios).
	RatioOf string `json:"ratio_of"`
	// Ratio is ours divided by the baseline, the median of the repeats' own
	// ratios (repeat i of ours over repeat i of the baseline, run next to
	// it): of their events per second, or of their own latency percentiles.
	// append_single_prefill, whose sides ran apart, compares their medians.
	Ratio float64 `json:"ratio"`
	// Ratios are further ratios of the same measurement, by name: of_medians
	// (the median rate over the baseline's median rate), p50 and p99 for
	// "latency", p50_pooled and p99_pooled (the ratios of the percentiles of
	// all repeats' calls together), vs_append_single for append_contended.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// Target is the goal for Ratio and Met says whether it was reached;
	// both are null for a scenario that is reported without a target.
	Target *Target `json:"target"`
	Met    *bool   `json:"met"`
}

// Skipped is a scenario that could not run, and why.
type Skipped struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Server describes the PostgreSQL server measured.
type Server struct {
	// Version is server_version.
	Version string `json:"version"`
	// Settings are the settings that matter for these figures.
	Settings map[string]string `json:"settings"`
}

// Machine describes the client machine (the server ran on the same host
// when it is local).
type Machine struct {
	CPUs      int    `json:"cpus"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
}

// Report is the outcome of Run.
type Report struct {
	StartedAt time.Time `json:"started_at"`
	// Seconds is the wall time of the whole run.
	Seconds float64 `json:"seconds"`
	Scale   float64 `json:"scale"`
	Repeats int     `json:"repeats"`
	Prefill int64   `json:"prefill"`
	// Database is the scratch database the run created and dropped.
	Database string `json:"database"`
	// Standby is the hot standby the replica scenarios read from ("" when
	// they were skipped).
	Standby   string    `json:"standby,omitempty"`
	Server    Server    `json:"server"`
	Machine   Machine   `json:"machine"`
	Scenarios []Result  `json:"scenarios"`
	Skipped   []Skipped `json:"skipped,omitempty"`
}

// scenario is one entry of the fixed list.
type scenario struct {
	name string
	run  func(ctx context.Context, r *runner) (Result, error)
	// unavailable, when set, is why the scenario cannot run in this build.
	unavailable string
	// needsStandby: skipped unless the run has a standby.
	needsStandby bool
}

func scenarioList() []scenario {
	return []scenario{
		{name: "append_batch_1000", run: appendBatch1000},
		{name: "append_batch_100", run: appendBatch100},
		{name: "append_single", run: appendSingle},
		{name: "insert_grouped", run: insertGrouped},
		{name: "append_single_nocoalesce", run: appendSingleAlone},
		{name: "append_single_1w", run: appendSingle1w},
		{name: "append_contended", run: appendContended},
		{name: "append_single_live", run: appendSingleLive},
		{name: "read_stream", run: readStreamTyped},
		{name: "read_stream_raw", run: readStreamRaw},
		{name: "feed_catchup", run: feedCatchupRaw},
		{name: "feed_catchup_typed", run: feedCatchupTyped},
		{name: "subscription_latency", run: subscriptionLatency},
		{name: "recover_game", run: recoverGame},
		{name: "recover_game_snapshot", run: recoverGameSnapshot},
		{name: "read_stream_replica", run: readStreamReplica, needsStandby: true},
		{name: "feed_catchup_replica", run: feedCatchupReplica, needsStandby: true},
		{name: "read_your_writes_latency", run: readYourWritesLatency, needsStandby: true},
	}
}

// Scenarios returns the scenario names in run order, including those this
// build cannot run (they are reported as skipped).
func Scenarios() []string {
	var names []string
	for _, s := range scenarioList() {
		names = append(names, s.name)
	}
	return names
}

// runner carries what the scenarios share.
type runner struct {
	opts  Options
	pool  *pgxpool.Pool // on the scratch database
	ser   serde.Serializer
	typed *store.Store // GameBot events through serde.JSON
	// typedAlone is typed with coalescing off
	typedAlone *store.Store
	raw        *store.Store  // serde.Passthrough: no decoding
	flushes    *flushCounter // typed's coalesced appends
	tag        string        // prefix of every stream of this run
	plans      int           // plans made so far: each has streams of its own
	repeats    int
	// fixture sizes: full size from Scale 1 up, smaller in a smoke run
	streamEvents int // read_stream's stream
	gameEvents   int // recover_game's game
	snapshotAt   int // its snapshot version
	// replica is the standby side (nil without Options.StandbyURL)
	replica *replicaSide
	// fixtures, built on first use
	readStreamID  string
	feed          *feedFixture
	recoverGameID string
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, "bench: "+format+"\n", args...)
	}
}

// scaled returns base*Scale rounded, at least lo.
func (r *runner) scaled(base int, lo int) int {
	return max(lo, int(math.Round(float64(base)*r.opts.Scale)))
}

// fixtureSize returns base from Scale 1 up and base*Scale (at least 1000)
// below: the fixed-size fixtures shrink only in a smoke run.
func (r *runner) fixtureSize(base int) int {
	if r.opts.Scale >= 1 {
		return base
	}
	return r.scaled(base, 1000)
}

// Run creates a scratch database on the server of pool, runs the selected
// scenarios in it and drops it. pool needs a role that may create
// databases; the database pool points at is not touched.
func Run(ctx context.Context, pool *pgxpool.Pool, opts Options) (_ Report, err error) {
	if opts.Scale == 0 {
		opts.Scale = 1
	}
	if opts.Scale < 0 || math.IsNaN(opts.Scale) || math.IsInf(opts.Scale, 0) {
		return Report{}, fmt.Errorf("bench: invalid scale %v (want a positive number)", opts.Scale)
	}
	if opts.Repeats == 0 {
		opts.Repeats = DefaultRepeats
	}
	if opts.Repeats < 3 {
		return Report{}, fmt.Errorf("bench: %d repeats: at least 3 are needed for a median", opts.Repeats)
	}
	if opts.Prefill < 0 {
		return Report{}, fmt.Errorf("bench: invalid prefill %d", opts.Prefill)
	}
	selected, err := selectScenarios(opts.Only)
	if err != nil {
		return Report{}, err
	}
	rep := Report{
		StartedAt: time.Now().UTC(),
		Scale:     opts.Scale,
		Repeats:   opts.Repeats,
		Prefill:   opts.Prefill,
		Machine:   Machine{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version()},
	}
	scratch, err := openScratch(ctx, pool)
	if err != nil {
		return rep, err
	}
	rep.Database = scratch.name
	defer func() {
		if derr := scratch.drop(); derr != nil && err == nil {
			err = derr
		}
	}()
	if rep.Server, err = serverInfo(ctx, scratch.pool); err != nil {
		return rep, err
	}
	ser := serde.NewJSON(events.NewRegistry())
	flushes := &flushCounter{}
	r := &runner{
		opts:       opts,
		pool:       scratch.pool,
		ser:        ser,
		flushes:    flushes,
		typed:      store.New(scratch.pool, store.Config{Serializer: ser, Observer: flushes}),
		typedAlone: store.New(scratch.pool, store.Config{Serializer: ser, DisableCoalescing: true}),
		raw:        store.New(scratch.pool, store.Config{}),
		tag:        "bench-" + randomHex(4),
		repeats:    opts.Repeats,
	}
	r.streamEvents = r.fixtureSize(readStreamEvents)
	r.gameEvents = r.fixtureSize(recoverEvents)
	r.snapshotAt = r.gameEvents * 9 / 10
	defer r.typed.Close()
	defer r.typedAlone.Close()
	defer r.raw.Close()
	r.logf("scratch database %s on PostgreSQL %s", scratch.name, rep.Server.Version)
	if opts.StandbyURL != "" && slices.ContainsFunc(selected, func(sc scenario) bool { return sc.needsStandby }) {
		defer r.closeReplica()
		if err := r.openReplica(ctx, opts.StandbyURL, scratch.name); err != nil {
			return rep, err
		}
		st := r.replica.raw.Stats().Replicas
		rep.Standby = st[0].Name
		r.logf("reading the replica scenarios from the standby %s", rep.Standby)
	}
	// With a prefill, append_single also runs before it: the store's cost
	// per append should stay flat as it grows.
	var beforePrefill *Result
	if opts.Prefill > 0 {
		if slices.ContainsFunc(selected, func(sc scenario) bool { return sc.name == "append_single" }) {
			r.logf("append_single: running before the prefill")
			res, err := appendSingle(ctx, r)
			if err != nil {
				return rep, fmt.Errorf("bench append_single before the prefill: %w", err)
			}
			beforePrefill = &res
		}
		if err := r.prefill(ctx, opts.Prefill); err != nil {
			return rep, err
		}
	}
	for _, sc := range selected {
		if sc.needsStandby && r.replica == nil && sc.unavailable == "" {
			sc.unavailable = noStandby
		}
		if sc.unavailable != "" {
			rep.Skipped = append(rep.Skipped, Skipped{Name: sc.name, Reason: sc.unavailable})
			r.logf("%s: skipped: %s", sc.name, sc.unavailable)
			continue
		}
		held, err := r.storeEvents(ctx)
		if err != nil {
			return rep, err
		}
		r.logf("%s: running (the store holds %d events)", sc.name, held)
		res, err := sc.run(ctx, r)
		if err != nil {
			return rep, fmt.Errorf("bench %s: %w", sc.name, err)
		}
		res.Name = sc.name
		res.StoreEvents = held
		if res.Target != nil {
			met := res.Target.Met(res.Ratio)
			res.Met = &met
		}
		rep.Scenarios = append(rep.Scenarios, res)
		r.logf("%s: %.0f events/s, baseline %.0f, ratio %.2f (target %s)", sc.name, res.EventsPerSec, res.Baseline.EventsPerSec, res.Ratio, res.Target)
	}
	addDerived(&rep, beforePrefill, opts.Prefill)
	rep.Seconds = time.Since(rep.StartedAt).Seconds()
	return rep, nil
}

// addDerived adds what compares scenarios of the run with each other:
// append_contended's rate against append_single's, and append_single after
// the prefill against the same before it (append_single_prefill).
func addDerived(rep *Report, beforePrefill *Result, prefill int64) {
	single := slices.IndexFunc(rep.Scenarios, func(r Result) bool { return r.Name == "append_single" })
	if single < 0 {
		return
	}
	after := rep.Scenarios[single]
	if c := slices.IndexFunc(rep.Scenarios, func(r Result) bool { return r.Name == "append_contended" }); c >= 0 && after.EventsPerSec > 0 {
		if rep.Scenarios[c].Ratios == nil {
			rep.Scenarios[c].Ratios = map[string]float64{}
		}
		rep.Scenarios[c].Ratios["vs_append_single"] = rep.Scenarios[c].EventsPerSec / after.EventsPerSec
	}
	if beforePrefill == nil {
		return
	}
	// The two runs of append_single are minutes apart, not side by side.
	res := unpairedRateResult(map[string]any{"prefill_events": prefill, "workload": "append_single"},
		after.Measure, beforePrefill.Measure, &Target{Op: ">=", Value: 0.9})
	res.Name = "append_single_prefill"
	res.StoreEvents = after.StoreEvents
	res.Baseline.What = "append_single in the same run, before the prefill: " + beforePrefill.What
	met := res.Target.Met(res.Ratio)
	res.Met = &met
	rep.Scenarios = append(rep.Scenarios, res)
}

// storeEvents returns the number of events stored: the highest global
// position, since the scratch store never deletes and no append fails (an
// index probe, not a count, so it stays cheap at ten million events).
func (r *runner) storeEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := r.pool.QueryRow(ctx, `SELECT coalesce(max(global_position), 0) FROM eventstore.events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("bench: count events: %w", err)
	}
	return n, nil
}

func selectScenarios(only []string) ([]scenario, error) {
	all := scenarioList()
	if len(only) == 0 {
		return all, nil
	}
	var out []scenario
	for _, sc := range all {
		if slices.Contains(only, sc.name) {
			out = append(out, sc)
		}
	}
	for _, name := range only {
		if !slices.Contains(Scenarios(), name) {
			return nil, fmt.Errorf("bench: unknown scenario %q (known: %s)", name, strings.Join(Scenarios(), ", "))
		}
	}
	return out, nil
}

// serverInfo reads the version and the settings that shape the figures.
func serverInfo(ctx context.Context, pool *pgxpool.Pool) (Server, error) {
	names := []string{
		"server_version", "shared_buffers", "synchronous_commit", "fsync", "full_page_writes",
		"wal_level", "max_wal_size", "checkpoint_timeout", "work_mem", "max_connections", "jit",
	}
	s := Server{Settings: map[string]string{}}
	rows, err := pool.Query(ctx, `SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1::text[])`, names)
	if err != nil {
		return s, fmt.Errorf("bench: read server settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return s, fmt.Errorf("bench: read server settings: %w", err)
		}
		s.Settings[k] = v
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("bench: read server settings: %w", err)
	}
	s.Version = s.Settings["server_version"]
	delete(s.Settings, "server_version")
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// compare measures ours and base: a warm-up of each (repeat -1), then
// opts.Repeats repeats that alternate which side goes first.
func (r *runner) compare(ctx context.Context, name string, ours, base func(ctx context.Context, rep int) (sample, error)) (summary, summary, error) {
	return r.compareN(ctx, name, r.repeats, ours, base)
}

// compareN is compare with its own number of repeats.
func (r *runner) compareN(ctx context.Context, name string, repeats int, ours, base func(ctx context.Context, rep int) (sample, error)) (summary, summary, error) {
	if _, err := ours(ctx, -1); err != nil {
		return summary{}, summary{}, fmt.Errorf("warm-up: %w", err)
	}
	if _, err := base(ctx, -1); err != nil {
		return summary{}, summary{}, fmt.Errorf("baseline warm-up: %w", err)
	}
	var oursS, baseS []sample
	for rep := range repeats {
		first, second := ours, base
		if rep%2 == 1 {
			first, second = base, ours
		}
		a, err := r.withWAL(ctx, rep, first)
		if err != nil {
			return summary{}, summary{}, err
		}
		b, err := r.withWAL(ctx, rep, second)
		if err != nil {
			return summary{}, summary{}, err
		}
		if rep%2 == 1 {
			a, b = b, a
		}
		oursS, baseS = append(oursS, a), append(baseS, b)
		r.logf("%s: repeat %d: %.0f vs %.0f events/s", name, rep+1, a.rate(), b.rate())
	}
	return summarize(oursS), summarize(baseS), nil
}

// withWAL runs one repeat of a side and records the WAL the server wrote
// meanwhile.
func (r *runner) withWAL(ctx context.Context, rep int, side func(ctx context.Context, rep int) (sample, error)) (sample, error) {
	before := readWAL(ctx, r.pool)
	sm, err := side(ctx, rep)
	if err == nil {
		sm.wal = readWAL(ctx, r.pool).since(before)
	}
	return sm, err
}

// measureOf converts a summary.
func measureOf(what string, s summary) Measure {
	m := Measure{What: what, Events: s.events, Seconds: s.seconds, EventsPerSec: s.rate, Samples: s.rates, WAL: s.wal, Coalescing: s.coal}
	if s.hasLat {
		p50, p99 := ms(s.p50), ms(s.p99)
		m.P50Ms, m.P99Ms = &p50, &p99
	}
	for i := range s.repP50 {
		m.SamplesP50Ms = append(m.SamplesP50Ms, ms(s.repP50[i]))
		m.SamplesP99Ms = append(m.SamplesP99Ms, ms(s.repP99[i]))
	}
	return m
}

// latencyRatio compares a latency percentile of ours and base side by
// side, as rateResult compares rates: ratio is the median of the repeats'
// own ratios (from the samples), or the pooled one when the repeats cannot
// be paired; pooled is the ratio of the percentiles of all repeats'
// latencies together; all in ms. A stall in one repeat of one side fills
// that side's pooled tail (one call in a hundred makes a p99), while its
// own ratio is one of seven. ok is false when the pooled baseline is zero.
func latencyRatio(ours, base []float64, oursPooled, basePooled float64) (ratio, pooled float64, ok bool) {
	if basePooled <= 0 {
		return 0, 0, false
	}
	pooled = oursPooled / basePooled
	ratio, isPaired := pairedRatio(ours, base)
	if !isPaired {
		ratio = pooled
	}
	return ratio, pooled, true
}

// setP99Ratio makes res's ratio its p99 latency over the baseline's, taken
// repeat by repeat, with the pooled ratio in Ratios["p99_pooled"]; it
// leaves res alone when either side has no latencies.
func (res *Result) setP99Ratio() {
	if res.P99Ms == nil || res.Baseline.P99Ms == nil {
		return
	}
	if ratio, pooled, ok := latencyRatio(res.SamplesP99Ms, res.Baseline.SamplesP99Ms, *res.P99Ms, *res.Baseline.P99Ms); ok {
		res.Ratio, res.Ratios = ratio, map[string]float64{"p99_pooled": pooled}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rateResult builds a Result whose ratio compares ours and base in events
// per second, side by side: compare ran repeat i of both sides one after
// the other, so each repeat gives a ratio of its own, and Ratio is the
// median of those. A stall or a neighbour's load that lasts a repeat or two
// slows both sides of it together and drops out of its ratio; the ratio of
// the two medians, reported too (Ratios["of_medians"]), mixes repeats that
// ran minutes apart.
func rateResult(params map[string]any, ours Measure, base Measure, target *Target) Result {
	res := unpairedRateResult(params, ours, base, target)
	if r, ok := pairedRatio(ours.Samples, base.Samples); ok {
		res.Ratios = map[string]float64{"of_medians": res.Ratio}
		res.Ratio = r
	}
	return res
}

// unpairedRateResult builds a Result whose ratio is ours' median rate over
// base's, for two sides that did not run side by side.
func unpairedRateResult(params map[string]any, ours Measure, base Measure, target *Target) Result {
	res := Result{Parameters: params, Measure: ours, Baseline: base, RatioOf: "events_per_sec", Target: target}
	if base.EventsPerSec > 0 {
		res.Ratio = ours.EventsPerSec / base.EventsPerSec
	}
	return res
}

// pairedRatio returns the median of ours[i]/base[i]; false unless both hold
// the same number of repeats, all of them positive.
func pairedRatio(ours, base []float64) (float64, bool) {
	if len(ours) == 0 || len(ours) != len(base) {
		return 0, false
	}
	ratios := make([]float64, len(ours))
	for i := range ours {
		if ours[i] <= 0 || base[i] <= 0 {
			return 0, false
		}
		ratios[i] = ours[i] / base[i]
	}
	return median(ratios), true
}
