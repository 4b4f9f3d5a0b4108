package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
)

// sample is one measured repeat of one side of a scenario.
type sample struct {
	events    int
	elapsed   time.Duration
	latencies []time.Duration // per call, where the scenario has calls
	wal       *walCounters    // the server's WAL activity during the repeat (nil: unknown)
	flushes   flushCounts     // the coalescer's work during the repeat (typed store)
}

// flushCounter is the typed store's Observer: it counts the appends that
// went out through the coalescer and the statements they went out in.
type flushCounter struct {
	mu     sync.Mutex
	counts flushCounts
}

// flushCounts are a flushCounter's totals, or their growth over a repeat.
type flushCounts struct {
	appends  int64
	alone    int64
	flushes  float64 // an append sent with k-1 others counts 1/k
	handOffs int64   // Stats.FlushHandOffs: appends a flush sent again alone
}

// Observe counts an append attempt that went through the coalescer.
func (f *flushCounter) Observe(_ context.Context, o store.Observation) {
	if o.Op != store.OpAppend || o.Coalesced < 1 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts.appends++
	f.counts.flushes += 1 / float64(o.Coalesced)
	if o.Coalesced == 1 {
		f.counts.alone++
	}
}

func (f *flushCounter) snapshot() flushCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}

func (c flushCounts) since(before flushCounts) flushCounts {
	return flushCounts{appends: c.appends - before.appends, alone: c.alone - before.alone, flushes: c.flushes - before.flushes}
}

// coalescingUse summarizes the samples' coalesced appends; nil when none
// went through the coalescer.
func coalescingUse(samples []sample) *CoalescingUse {
	var total flushCounts
	for _, sm := range samples {
		total.appends += sm.flushes.appends
		total.alone += sm.flushes.alone
		total.flushes += sm.flushes.flushes
		total.handOffs += sm.flushes.handOffs
	}
	if total.appends == 0 || total.flushes <= 0 {
		return nil
	}
	return &CoalescingUse{
		AppendsPerFlush: math.Round(float64(total.appends)/total.flushes*100) / 100,
		AloneShare:      math.Round(float64(total.alone)/float64(total.appends)*1000) / 1000,
		HandOffs:        total.handOffs,
	}
}

// walCounters is the server's WAL insert position, or its growth over a
// repeat. It counts the whole cluster: the sides of a scenario run one at
// a time, so each repeat's growth is its own work (and whatever ran beside
// it). (pg_stat_wal's counters would say more, records and fsyncs, but
// backends report them to it up to seconds late.)
type walCounters struct {
	bytes int64
}

// readWAL returns the WAL insert position; nil when the server does not
// give it (a standby).
func readWAL(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) *walCounters {
	var w walCounters
	if err := q.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn`).Scan(&w.bytes); err != nil {
		return nil
	}
	return &w
}

// since returns the growth of w from before (nil when either is unknown).
func (w *walCounters) since(before *walCounters) *walCounters {
	if w == nil || before == nil {
		return nil
	}
	return &walCounters{bytes: w.bytes - before.bytes}
}

func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.events) / s.elapsed.Seconds()
}

// summary is the median of a side's repeats.
type summary struct {
	events  int
	seconds float64
	rate    float64
	rates   []float64
	p50     time.Duration
	p99     time.Duration
	hasLat  bool
	// repP50 and repP99 are each repeat's own percentiles, in run order
	// (empty unless every repeat has latencies).
	repP50, repP99 []time.Duration
	wal            *WALUse // per event, over every repeat; nil when unknown
	coal           *CoalescingUse
}

// summarize returns the median rate and seconds of samples, the
// percentiles of all their latencies together and those of each sample.
func summarize(samples []sample) summary {
	var s summary
	secs := make([]float64, len(samples))
	var lat []time.Duration
	for i, sm := range samples {
		s.rates = append(s.rates, sm.rate())
		secs[i] = sm.elapsed.Seconds()
		lat = append(lat, sm.latencies...)
		s.events = sm.events
		if len(sm.latencies) > 0 {
			own := slices.Sorted(slices.Values(sm.latencies))
			s.repP50, s.repP99 = append(s.repP50, percentile(own, 0.50)), append(s.repP99, percentile(own, 0.99))
		}
	}
	if len(s.repP50) != len(samples) { // a repeat without latencies: nothing to pair
		s.repP50, s.repP99 = nil, nil
	}
	s.rate = median(s.rates)
	s.seconds = median(secs)
	s.wal = walPerEvent(samples)
	s.coal = coalescingUse(samples)
	if len(lat) > 0 {
		slices.Sort(lat)
		s.p50, s.p99, s.hasLat = percentile(lat, 0.50), percentile(lat, 0.99), true
	}
	return s
}

// walPerEvent is the WAL the samples wrote per event handled; nil unless
// every sample's counters are known.
func walPerEvent(samples []sample) *WALUse {
	var total walCounters
	events := 0
	for _, sm := range samples {
		if sm.wal == nil {
			return nil
		}
		total.bytes += sm.wal.bytes
		events += sm.events
	}
	if events == 0 {
		return nil
	}
	return &WALUse{BytesPerEvent: math.Round(float64(total.bytes) / float64(events))}
}

// median returns the median of xs (the mean of the middle two for an even
// count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// runWriters runs fn for writers 0..n-1 concurrently, started together, and
// returns the time until the last one finished. The first error cancels the
// others and is returned.
func runWriters(ctx context.Context, n int, fn func(ctx context.Context, w int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		ready    sync.WaitGroup
		start    = make(chan struct{})
		errOnce  sync.Once
		firstErr error
	)
	ready.Add(n)
	for w := range n {
		wg.Go(func() {
			ready.Done()
			<-start
			if err := fn(ctx, w); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		})
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	return time.Since(t0), firstErr
}
