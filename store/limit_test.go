package store_test

import (
	"errors"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// requireFull checks a refused append: a *StreamFullError with the given
// figures whose message says how to proceed.
func requireFull(t *testing.T, err error, limit, version, batch int64) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrStreamFull)
	var full *store.StreamFullError
	require.True(t, errors.As(err, &full), "%v", err)
	require.Equal(t, store.StreamFullError{Stream: full.Stream, Limit: limit, Version: version, Batch: batch}, *full)
	require.ErrorContains(t, err, "snapshot and archive the stream, or continue in a new stream")
}

func TestStreamLimitDefaultBoundary(t *testing.T) {
	t.Parallel()
	b := setup(t) // the default limit: store.DefaultMaxStreamEvents
	const stream = "game-long"
	_, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(store.DefaultMaxStreamEvents-1, 1)...)
	require.NoError(t, err)

	res, err := b.store.Append(b.ctx, stream, store.Exact(store.DefaultMaxStreamEvents-1), rawEvent("test_event", 0))
	require.NoError(t, err, "the 10,000th event fits")
	require.Equal(t, int64(store.DefaultMaxStreamEvents), res.Version)

	for _, batch := range []int{1, 3} {
		_, err = b.store.Append(b.ctx, stream, store.Any, rawEvents(batch, 1)...)
		requireFull(t, err, store.DefaultMaxStreamEvents, store.DefaultMaxStreamEvents, int64(batch))
	}
	require.Equal(t, store.DefaultMaxStreamEvents, countRows(t, b, stream), "the refused appends stored nothing")
	info, err := b.store.StreamInfo(b.ctx, stream)
	require.NoError(t, err)
	require.Equal(t, int64(store.DefaultMaxStreamEvents), info.Version)
}

func TestStreamLimitBatchCrossingStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{MaxStreamEvents: 100})
	first, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(90, 1)...)
	require.NoError(t, err)

	_, err = b.store.Append(b.ctx, "game-1", store.Exact(90), rawEvents(20, 91)...)
	requireFull(t, err, 100, 90, 20)
	require.Equal(t, 90, countRows(t, b, "game-1"))
	info, err := b.store.StreamInfo(b.ctx, "game-1")
	require.NoError(t, err)
	require.Equal(t, int64(90), info.Version)

	// No global position was taken by the refused batch.
	rest, err := b.store.Append(b.ctx, "game-1", store.Exact(90), rawEvents(10, 91)...)
	require.NoError(t, err)
	require.Equal(t, first.LastPosition+1, rest.FirstPosition)
	require.Equal(t, int64(100), rest.Version)
}

func TestStreamLimitOverride(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		storeLimit int64
		setup      func(t *testing.T, b *bundle) // runs on a stream of 30 events
		wantLimit  int64                         // 0: no limit at all
	}{
		{
			name: "raised above the store's", storeLimit: 50,
			setup:     func(t *testing.T, b *bundle) { require.NoError(t, b.store.SetStreamLimit(b.ctx, "game-1", 80)) },
			wantLimit: 80,
		},
		{
			name: "lowered below the store's", storeLimit: 50,
			setup:     func(t *testing.T, b *bundle) { require.NoError(t, b.store.SetStreamLimit(b.ctx, "game-1", 40)) },
			wantLimit: 40,
		},
		{
			name: "set below the current version", storeLimit: 50,
			setup:     func(t *testing.T, b *bundle) { require.NoError(t, b.store.SetStreamLimit(b.ctx, "game-1", 20)) },
			wantLimit: 20,
		},
		{
			name: "cleared: the store's applies again", storeLimit: 50,
			setup: func(t *testing.T, b *bundle) {
				require.NoError(t, b.store.SetStreamLimit(b.ctx, "game-1", 80))
				require.NoError(t, b.store.ClearStreamLimit(b.ctx, "game-1"))
			},
			wantLimit: 50,
		},
		{
			name: "store without a limit", storeLimit: -1,
			setup:     func(t *testing.T, b *bundle) { require.NoError(t, b.store.SetStreamLimit(b.ctx, "game-1", 35)) },
			wantLimit: 35,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, store.Config{MaxStreamEvents: tt.storeLimit})
			_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(30, 1)...)
			require.NoError(t, err)
			tt.setup(t, b)

			if tt.wantLimit > 30 {
				_, err = b.store.Append(b.ctx, "game-1", store.Exact(30), rawEvents(int(tt.wantLimit-30), 31)...)
				require.NoError(t, err, "up to the limit fits")
			}
			version := max(int64(30), tt.wantLimit)
			_, err = b.store.Append(b.ctx, "game-1", store.Any, rawEvent("test_event", 0))
			requireFull(t, err, tt.wantLimit, version, 1)
			require.Equal(t, int(version), countRows(t, b, "game-1"))
		})
	}
}

func TestSetStreamLimitRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "gone", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = b.store.DeleteStream(b.ctx, "gone", store.Any)
	require.NoError(t, err)

	tests := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{name: "zero", run: func() error { return b.store.SetStreamLimit(b.ctx, "game-1", 0) }, wantErr: store.ErrInvalidArgument},
		{name: "negative", run: func() error { return b.store.SetStreamLimit(b.ctx, "game-1", -5) }, wantErr: store.ErrInvalidArgument},
		{name: "missing stream", run: func() error { return b.store.SetStreamLimit(b.ctx, "nope", 10) }, wantErr: store.ErrStreamNotFound},
		{name: "deleted stream", run: func() error { return b.store.SetStreamLimit(b.ctx, "gone", 10) }, wantErr: store.ErrStreamDeleted},
		{name: "another guild", run: func() error { return b.store.SetStreamLimit(store.WithGuild(b.ctx, "guild-2"), "game-1", 10) }, wantErr: store.ErrGuildMismatch},
		{name: "invalid id", run: func() error { return b.store.ClearStreamLimit(b.ctx, "") }, wantErr: store.ErrInvalidStreamID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.run(), tt.wantErr)
		})
	}
	info, err := b.store.StreamInfo(b.ctx, "game-1")
	require.NoError(t, err)
	require.Zero(t, info.MaxEvents, "no refused call changed the limit")

	require.NoError(t, b.store.SetStreamLimit(b.ctx, "game-1", 7))
	info, err = b.store.StreamInfo(b.ctx, "game-1")
	require.NoError(t, err)
	require.Equal(t, int64(7), info.MaxEvents)
}
