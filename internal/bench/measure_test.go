package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{4}, 4},
		{"odd count, unsorted", []float64{9, 1, 5}, 5},
		{"even count: mean of the middle two", []float64{8, 2, 4, 6}, 5},
		{"outlier does not move it", []float64{100, 101, 99, 1e9, 1}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := append([]float64(nil), tc.in...)
			require.Equal(t, tc.want, median(tc.in))
			require.Equal(t, in, tc.in, "median must not reorder its input")
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"p50 of 1..100", sorted, 0.50, 50 * time.Millisecond},
		{"p99 of 1..100", sorted, 0.99, 99 * time.Millisecond},
		{"p100 is the maximum", sorted, 1, 100 * time.Millisecond},
		{"single value", []time.Duration{7}, 0.99, 7},
		{"none", nil, 0.5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, percentile(tc.in, tc.p))
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	s := summarize([]sample{
		{events: 100, elapsed: time.Second, latencies: []time.Duration{3, 1}},
		{events: 100, elapsed: 500 * time.Millisecond, latencies: []time.Duration{2}},
		{events: 100, elapsed: 250 * time.Millisecond},
	})
	require.Equal(t, 100, s.events)
	require.Equal(t, []float64{100, 200, 400}, s.rates)
	require.Equal(t, 200.0, s.rate)
	require.Equal(t, 0.5, s.seconds)
	require.True(t, s.hasLat)
	require.Equal(t, time.Duration(2), s.p50)
	require.Equal(t, time.Duration(3), s.p99)
	require.Empty(t, s.repP50, "a repeat without latencies: nothing to pair")

	s = summarize([]sample{
		{events: 4, elapsed: time.Second, latencies: []time.Duration{4000, 1000, 3000, 2000}},
		{events: 2, elapsed: time.Second, latencies: []time.Duration{9000, 7000}},
	})
	require.Equal(t, []time.Duration{2000, 7000}, s.repP50)
	require.Equal(t, []time.Duration{4000, 9000}, s.repP99)
	require.Equal(t, time.Duration(3000), s.p50)
	require.Equal(t, time.Duration(9000), s.p99)
	m := measureOf("", s)
	require.Equal(t, []float64{0.002, 0.007}, m.SamplesP50Ms)
	require.Equal(t, []float64{0.004, 0.009}, m.SamplesP99Ms)
}

// TestLatencyRatioPairsRepeats: a latency ratio, like a rate ratio, is the
// median of the repeats' own ratios: a stall in one repeat of one side
// fills the pooled tail of that side, and the pooled ratio (reported too)
// with it, while the ratio stays where the other repeats put it.
func TestLatencyRatioPairsRepeats(t *testing.T) {
	t.Parallel()
	var oursS, baseS []sample
	for rep := range 7 {
		ours, base := make([]time.Duration, 1000), make([]time.Duration, 1000)
		for i := range ours {
			ours[i], base[i] = time.Duration(200+i)*time.Microsecond, time.Duration(100+i/2)*time.Microsecond
		}
		if rep == 3 { // 100 of our calls stalled for 20 ms
			for i := range 100 {
				ours[i] = 20 * time.Millisecond
			}
		}
		oursS, baseS = append(oursS, sample{events: 1000, elapsed: time.Second, latencies: ours}),
			append(baseS, sample{events: 1000, elapsed: time.Second, latencies: base})
	}
	o, b := measureOf("", summarize(oursS)), measureOf("", summarize(baseS))
	ratio, pooled, ok := latencyRatio(o.SamplesP99Ms, b.SamplesP99Ms, *o.P99Ms, *b.P99Ms)
	require.True(t, ok)
	require.InDelta(t, 1.189/0.594, ratio, 1e-9, "p99 of 200..1199 µs over p99 of 100..599 µs")
	require.Greater(t, pooled, 5.0, "the stalled calls are more than 1 % of all seven repeats' calls")
	require.InDelta(t, *o.P99Ms / *b.P99Ms, pooled, 1e-12)

	// Repeats that cannot be paired: the pooled ratio.
	ratio, _, ok = latencyRatio(o.SamplesP99Ms[:3], b.SamplesP99Ms, *o.P99Ms, *b.P99Ms)
	require.True(t, ok)
	require.Equal(t, pooled, ratio)
	_, _, ok = latencyRatio(nil, nil, 1, 0)
	require.False(t, ok)

	// As a p99 scenario's result.
	res := Result{Measure: o, Baseline: b}
	res.setP99Ratio()
	require.InDelta(t, 1.189/0.594, res.Ratio, 1e-9)
	require.Equal(t, map[string]float64{"p99_pooled": pooled}, res.Ratios)
	res = Result{Measure: Measure{}, Baseline: b}
	res.setP99Ratio()
	require.Zero(t, res.Ratio, "no latencies on our side")
}

// TestRateResultPairsRepeats: a rate ratio is the median of the repeats'
// own ratios, so a stretch of slow repeats that slowed both sides leaves it
// where it was, while the ratio of the medians moves.
func TestRateResultPairsRepeats(t *testing.T) {
	t.Parallel()
	// Repeats 3 and 4 ran while the machine was busy: both sides at half
	// their rate. Every repeat's own ratio is 0.8; the medians' is not.
	ours := Measure{EventsPerSec: 800, Samples: []float64{800, 820, 400, 410, 790}}
	base := Measure{EventsPerSec: 987.5, Samples: []float64{1000, 1025, 500, 512.5, 987.5}}
	res := rateResult(nil, ours, base, &Target{">=", 0.8})
	require.Equal(t, "events_per_sec", res.RatioOf)
	require.InDelta(t, 0.8, res.Ratio, 1e-12)
	require.InDelta(t, 800/987.5, res.Ratios["of_medians"], 1e-12)
	require.True(t, res.Target.Met(res.Ratio))

	// Sides that did not run side by side (append_single before and after
	// a prefill) compare their medians.
	res = unpairedRateResult(nil, ours, base, nil)
	require.InDelta(t, 800/987.5, res.Ratio, 1e-12)
	require.Empty(t, res.Ratios)

	// Without repeats to pair (or with a repeat that measured nothing),
	// the ratio of the medians stands.
	for _, tc := range []struct {
		name       string
		ours, base []float64
	}{
		{"no samples", nil, nil},
		{"counts differ", []float64{800, 820}, []float64{1000}},
		{"a repeat measured nothing", []float64{800, 0}, []float64{1000, 1000}},
	} {
		res := rateResult(nil, Measure{EventsPerSec: 800, Samples: tc.ours}, Measure{EventsPerSec: 1000, Samples: tc.base}, nil)
		require.InDelta(t, 0.8, res.Ratio, 1e-12, tc.name)
		require.Empty(t, res.Ratios, tc.name)
	}
}

func TestTargetMet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target *Target
		ratio  float64
		want   bool
	}{
		{"at least: above", &Target{">=", 0.8}, 0.81, true},
		{"at least: equal", &Target{">=", 0.8}, 0.8, true},
		{"at least: below", &Target{">=", 0.8}, 0.79, false},
		{"at most: below", &Target{"<=", 3}, 2.5, true},
		{"at most: above", &Target{"<=", 3}, 3.1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.target.Met(tc.ratio))
		})
	}
}

func TestRunWriters(t *testing.T) {
	t.Parallel()
	t.Run("runs every writer concurrently", func(t *testing.T) {
		t.Parallel()
		var running, peak atomic.Int32
		all := make(chan struct{}) // closed when the fourth writer runs
		elapsed, err := runWriters(t.Context(), 4, func(ctx context.Context, w int) error {
			n := running.Add(1)
			if n == 4 {
				close(all)
			}
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			// Stay until every writer runs (writers run one after the
			// other would never get there): on a loaded machine a writer
			// may start long after the first one.
			select {
			case <-all:
			case <-time.After(10 * time.Second):
			}
			time.Sleep(20 * time.Millisecond) // the run lasts at least this long
			running.Add(-1)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, int32(4), peak.Load())
		require.GreaterOrEqual(t, elapsed, 20*time.Millisecond)
	})
	t.Run("first error cancels the others", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		_, err := runWriters(t.Context(), 3, func(ctx context.Context, w int) error {
			if w == 1 {
				return boom
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Second):
				return errors.New("not cancelled")
			}
		})
		require.ErrorIs(t, err, boom)
	})
}

func TestWALPerEvent(t *testing.T) {
	t.Parallel()
	got := walPerEvent([]sample{
		{events: 100, wal: &walCounters{bytes: 90_000}},
		{events: 300, wal: &walCounters{bytes: 270_050}},
	})
	require.Equal(t, &WALUse{BytesPerEvent: 900}, got)
	require.Nil(t, walPerEvent([]sample{{events: 100, wal: &walCounters{bytes: 1}}, {events: 100}}),
		"one repeat without a WAL position: unknown")
	require.Nil(t, walPerEvent(nil))
	require.Nil(t, (*walCounters)(nil).since(&walCounters{}))
	require.Equal(t, &walCounters{bytes: 30}, (&walCounters{bytes: 50}).since(&walCounters{bytes: 20}))
}

func TestCoalescingUse(t *testing.T) {
	t.Parallel()
	var f flushCounter
	ctx := context.Background()
	// One append alone, then three sent together, then two together; a
	// read and an append outside the coalescer do not count.
	for _, k := range []int{1, 3, 3, 3, 2, 2} {
		f.Observe(ctx, store.Observation{Op: store.OpAppend, Coalesced: k})
	}
	f.Observe(ctx, store.Observation{Op: store.OpReadForward})
	f.Observe(ctx, store.Observation{Op: store.OpAppend, InTx: true})
	got := coalescingUse([]sample{{flushes: f.snapshot()}})
	require.Equal(t, &CoalescingUse{AppendsPerFlush: 2, AloneShare: 0.167}, got)
	require.Nil(t, coalescingUse([]sample{{}}), "no coalesced append, nothing to report")
	handedOff := coalescingUse([]sample{{flushes: flushCounts{appends: 2, alone: 2, flushes: 2, handOffs: 1}},
		{flushes: flushCounts{appends: 1, alone: 1, flushes: 1, handOffs: 2}}})
	require.Equal(t, &CoalescingUse{AppendsPerFlush: 1, AloneShare: 1, HandOffs: 3}, handedOff, "the repeats' hand-offs add up")
	before := f.snapshot()
	f.Observe(ctx, store.Observation{Op: store.OpAppend, Coalesced: 1})
	require.Equal(t, flushCounts{appends: 1, alone: 1, flushes: 1}, f.snapshot().since(before))
}
