package store_test

import (
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestBatchSizes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, n := range []int{1, 1000, 10_000} {
		stream := "batch-" + string(rune('a'+n%26))
		res, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(n, 1)...)
		require.NoError(t, err, "batch of %d", n)
		require.Equal(t, int64(n), res.Version)
		require.Equal(t, res.FirstPosition+int64(n)-1, res.LastPosition)
		require.Equal(t, n, countRows(t, b, stream))
		last, err := b.store.ReadBackward(b.ctx, stream, store.End, 1)
		require.NoError(t, err)
		require.Equal(t, n, eventN(t, last[0]))
	}
}

func TestStreamLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "full", store.NoStream, rawEvents(9_999, 1)...)
	require.NoError(t, err)
	// A batch that would cross the limit fails whole.
	_, err = b.store.Append(b.ctx, "full", store.Any, rawEvents(2, 10_000)...)
	var full *store.StreamFullError
	require.ErrorAs(t, err, &full)
	require.ErrorIs(t, err, store.ErrStreamFull)
	require.Equal(t, store.StreamFullError{Stream: "full", Limit: 10_000, Version: 9_999, Batch: 2}, *full)
	require.Contains(t, err.Error(), "new stream")
	require.Equal(t, 9_999, countRows(t, b, "full"))
	// Exactly to the limit succeeds; one more fails.
	res, err := b.store.Append(b.ctx, "full", store.Exact(9_999), rawEvent("test_event", 10_000))
	require.NoError(t, err)
	require.Equal(t, int64(10_000), res.Version)
	_, err = b.store.Append(b.ctx, "full", store.Any, rawEvent("test_event", 10_001))
	require.ErrorIs(t, err, store.ErrStreamFull)
	require.Equal(t, 10_000, countRows(t, b, "full"))
}

func TestStreamLimitConfigurable(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{MaxStreamEvents: 3})
	_, err := b.store.Append(b.ctx, "small", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "small", store.Any, rawEvent("test_event", 4))
	require.ErrorIs(t, err, store.ErrStreamFull)

	unlimited := store.New(b.pool, store.Config{MaxStreamEvents: -1})
	_, err = unlimited.Append(b.ctx, "small", store.Any, rawEvent("test_event", 4))
	require.NoError(t, err)
}

func TestAppendBatchLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{MaxAppendBatch: 10})
	_, err := b.store.Append(b.ctx, "s", store.Any, rawEvents(11, 0)...)
	require.ErrorIs(t, err, store.ErrInvalidBatchSize)
	_, err = b.store.Append(b.ctx, "s", store.Any, rawEvents(10, 0)...)
	require.NoError(t, err)
}
