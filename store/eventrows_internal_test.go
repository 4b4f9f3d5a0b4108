package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRowArenaGivenBackOnce: rows keep the arena's lease, so a stale copy
// of rows released already cannot give the arena back while newer rows
// hold it (two pages would then share their memory).
func TestRowArenaGivenBackOnce(t *testing.T) {
	a := &rowArena{}
	first := eventRows{arena: a, lease: a.lease}
	for range 3 {
		first.list = append(first.list, a.next(10))
	}
	stale := first
	first.release()
	require.Zero(t, a.used)

	second := eventRows{arena: a, lease: a.lease}
	row := a.next(10)
	row.StreamID = "held"
	second.list = append(second.list, row)
	stale.release()
	require.Equal(t, 1, a.used, "a stale copy gave the arena back")
	require.Equal(t, "held", second.list[0].StreamID)
	second.release()
	require.Zero(t, a.used)
	require.Empty(t, row.StreamID, "a released row is cleared")
}

// TestRowArenaGrowsByChunks: the first chunk holds firstRowChunk rows, or
// the rows the query may still return when fewer; each later chunk is
// twice the largest, within the same bound; a released arena is reused from
// its first row.
func TestRowArenaGrowsByChunks(t *testing.T) {
	a := &rowArena{}
	r := eventRows{arena: a, lease: a.lease}
	const limit = 300
	for i := range limit {
		r.list = append(r.list, a.next(limit-i))
	}
	var sizes []int
	for _, c := range a.chunks {
		sizes = append(sizes, len(c))
	}
	require.Equal(t, []int{64, 128, 108}, sizes)
	first := &a.chunks[0][0]
	r.release()
	r = eventRows{arena: a, lease: a.lease}
	require.Same(t, first, a.next(5))
	r.release()

	small := &rowArena{}
	small.next(3)
	require.Len(t, small.chunks[0], 3)
}
