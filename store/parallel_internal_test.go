package store

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestForEachChunk: every index is visited exactly once, in chunks that
// tile the range, for small and large n.
func TestForEachChunk(t *testing.T) {
	for _, n := range []int{0, 1, 2, parallelMin - 1, parallelMin, parallelMin + 1, 1000, 1001} {
		seen := make([]atomic.Int32, n)
		forEachChunk(n, func(lo, hi int) {
			require.LessOrEqual(t, 0, lo)
			require.LessOrEqual(t, lo, hi)
			require.LessOrEqual(t, hi, n)
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			require.Equal(t, int32(1), seen[i].Load(), "n=%d index %d", n, i)
		}
	}
}

// TestForEachChunkPanics: a panic in any chunk reaches the caller after
// the other chunks finished.
func TestForEachChunkPanics(t *testing.T) {
	var done atomic.Int32
	require.PanicsWithValue(t, "boom", func() {
		forEachChunk(1000, func(lo, hi int) {
			if hi == 1000 {
				panic("boom")
			}
			done.Add(int32(hi - lo))
		})
	})
	if runtime.GOMAXPROCS(0) > 1 {
		require.Positive(t, done.Load(), "the first chunk ran to its end")
	}
}
