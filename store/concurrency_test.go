package store_test

import (
	"sync"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// TestConcurrentExactExpectedVersion: 8 writers append with the same exact
// expected version; exactly one wins, the others get a version conflict.
func TestConcurrentExactExpectedVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "race", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)

	for round := range 5 {
		expected := int64(3 + round)
		errs := make([]error, 8)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = b.store.Append(b.ctx, "race", store.Exact(expected), rawEvent("test_event", i))
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
			var conflict *store.VersionConflictError
			require.ErrorAs(t, err, &conflict)
			require.Equal(t, expected+1, conflict.Actual)
		}
		require.Equal(t, 1, wins, "round %d", round)
	}
	require.Equal(t, 8, countRows(t, b, "race"))
}

// TestConcurrentAnyAppends: 8 writers append with Any to one new stream;
// all succeed and the versions are 1..n without gaps or duplicates.
func TestConcurrentAnyAppends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				batch := 1 + i%3
				_, err := b.store.Append(b.ctx, "shared", store.Any, rawEvents(batch, w*1000+i*10)...)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	want := 0
	for i := range perWriter {
		want += 1 + i%3
	}
	want *= writers
	var got []int64
	for r, err := range b.store.Stream(b.ctx, "shared", 0, 1000) {
		require.NoError(t, err)
		got = append(got, r.Version)
	}
	require.Len(t, got, want)
	for i, v := range got {
		require.Equal(t, int64(i+1), v)
	}
	info, err := b.store.StreamInfo(b.ctx, "shared")
	require.NoError(t, err)
	require.Equal(t, int64(want), info.Version)
}

// TestConcurrentCreate: two writers create the same stream with NoStream;
// exactly one wins.
func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for round := range 20 {
		stream := "new-" + string(rune('a'+round))
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = b.store.Append(b.ctx, stream, store.NoStream, rawEvents(2, i*10)...)
			})
		}
		close(start)
		wg.Wait()
		if errs[0] == nil {
			require.ErrorIs(t, errs[1], store.ErrStreamExists)
			require.ErrorIs(t, errs[1], store.ErrWrongExpectedVersion)
		} else {
			require.NoError(t, errs[1])
			require.ErrorIs(t, errs[0], store.ErrStreamExists)
		}
		require.Equal(t, 2, countRows(t, b, stream))
	}
}
