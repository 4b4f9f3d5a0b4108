package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWriteTrackerMarks: a stream read must see the marks of its stream's
// writes and of writes of no one stream; listings and the feed every mark;
// old marks fold into a WAL position once a sample covers them.
func TestWriteTrackerMarks(t *testing.T) {
	t.Parallel()
	w := newWriteTracker(nil)
	w.wrote("a")
	mark, lsn := w.markFor(scopeStream("a"))
	require.Equal(t, [2]uint64{1, 0}, [2]uint64{mark, lsn})
	mark, _ = w.markFor(scopeStream("b"))
	require.Zero(t, mark, "another stream's write is not waited for")
	w.wrote("") // archive_completed and the like: any stream
	mark, _ = w.markFor(scopeStream("b"))
	require.EqualValues(t, 2, mark)
	w.wrote("b", "c") // a transaction's streams
	mark, _ = w.markFor(scopeStream("c"))
	require.EqualValues(t, 3, mark)
	mark, _ = w.markFor(scopeAll)
	require.EqualValues(t, 3, mark)
	mark, _ = w.markFor(scopeFeed)
	require.EqualValues(t, 3, mark)

	// No stream's write is old yet; the floor's mark becomes the position
	// of the oldest sample that covers it.
	samples := []lsnSample{{covers: 1, lsn: 100}, {covers: 2, lsn: 200}, {covers: 3, lsn: 300}}
	w.prune(time.Now(), samples)
	mark, lsn = w.markFor(scopeStream("a"))
	require.Equal(t, [2]uint64{1, 200}, [2]uint64{mark, lsn})

	// Later: a's mark folds into the position of the oldest sample that
	// covers it, the floor's mark into its own; c's waits for a sample.
	w.prune(time.Now().Add(trackedAge+time.Second), samples[:2])
	mark, lsn = w.markFor(scopeStream("a"))
	require.Equal(t, [2]uint64{0, 200}, [2]uint64{mark, lsn})
	mark, lsn = w.markFor(scopeStream("c"))
	require.Equal(t, [2]uint64{3, 200}, [2]uint64{mark, lsn}, "no sample covered c's write: its mark is kept")
	w.prune(time.Now().Add(trackedAge+time.Second), samples)
	mark, lsn = w.markFor(scopeStream("c"))
	require.Equal(t, [2]uint64{0, 300}, [2]uint64{mark, lsn})
}

// TestWriteTrackerResolve: a mark resolves to the position of the oldest
// sample taken after it, the only ones that are certainly past its commit.
func TestWriteTrackerResolve(t *testing.T) {
	t.Parallel()
	w := newWriteTracker(nil)
	w.mu.Lock()
	for _, s := range []lsnSample{{covers: 5, lsn: 500}, {covers: 2, lsn: 200}, {covers: 9, lsn: 900}, {covers: 5, lsn: 450}} {
		w.addSampleLocked(s)
	}
	got := append([]lsnSample(nil), w.samples...)
	w.mu.Unlock()
	require.Equal(t, []lsnSample{{2, 200}, {5, 450}, {9, 900}}, got, "ascending covers; of two for the same mark, the lower position")
	for mark, want := range map[uint64]uint64{1: 200, 2: 200, 3: 450, 5: 450, 6: 900, 9: 900} {
		lsn, err := w.resolve(t.Context(), mark)
		require.NoError(t, err)
		require.Equal(t, want, lsn, "mark %d", mark)
	}
}

// TestLagOfOldestSample: a standby behind every sample kept is measured by
// its own clock (the age of its last replayed commit) when that is the
// larger figure, and lagOf then names the oldest sample, which the check
// watches the standby reach; otherwise the samples decide.
func TestLagOfOldestSample(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	rs := &replicaSet{lagSamples: []timedLSN{
		{at: t0, lsnSample: lsnSample{lsn: 100}},
		{at: t0.Add(time.Second), lsnSample: lsnSample{lsn: 200}},
	}}
	now := t0.Add(3 * time.Second)

	lag, bytes, oldest := rs.lagOf(200, now, time.Hour)
	require.Zero(t, lag, "caught up with the last sample")
	require.Zero(t, bytes)
	require.Nil(t, oldest)

	lag, bytes, oldest = rs.lagOf(150, now, time.Hour)
	require.Equal(t, 2*time.Second, lag, "behind the second sample only: its age")
	require.EqualValues(t, 50, bytes)
	require.Nil(t, oldest)

	lag, _, oldest = rs.lagOf(50, now, time.Hour)
	require.Equal(t, time.Hour, lag, "behind every sample: the clock's figure")
	require.NotNil(t, oldest)
	require.EqualValues(t, 100, oldest.lsn)

	lag, _, oldest = rs.lagOf(50, now, time.Second)
	require.Equal(t, 3*time.Second, lag, "the oldest sample's age is the larger figure")
	require.Nil(t, oldest)
}
