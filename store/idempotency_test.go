package store_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/uuid"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// TestIdempotencyIsExact: a batch is a replay only when all of its ids are
// stored in this stream, in this order, at consecutive versions, where the
// expected version puts them; then the original result comes back. Any
// other overlap is ErrDuplicateEvent (or the version conflict, when the
// expected version is wrong), and nothing is stored.
func TestIdempotencyIsExact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withID := func(evs []store.Event) []store.Event {
		for i := range evs {
			evs[i].ID = uuid.New()
		}
		return evs
	}
	evs := withID(rawEvents(3, 1))
	a, bb, c := evs[0], evs[1], evs[2]
	first, err := b.store.Append(b.ctx, "s", store.Exact(0), a, bb, c)
	require.NoError(t, err)
	require.Equal(t, int64(3), first.Version)
	other := withID(rawEvents(1, 9))[0]
	_, err = b.store.Append(b.ctx, "t", store.NoStream, other)
	require.NoError(t, err)

	replays := []struct {
		name     string
		expected store.ExpectedVersion
		events   []store.Event
		version  int64
	}{
		{"the whole batch at its place", store.Exact(0), []store.Event{a, bb, c}, 3},
		{"the whole batch, any", store.Any, []store.Event{a, bb, c}, 3},
		{"the whole batch, stream exists", store.StreamExists, []store.Event{a, bb, c}, 3},
		{"the whole batch, no stream", store.NoStream, []store.Event{a, bb, c}, 3},
		{"a prefix at its place", store.Exact(0), []store.Event{a, bb}, 2},
		{"a tail, any", store.Any, []store.Event{bb, c}, 3},
		{"a tail at its place", store.Exact(1), []store.Event{bb, c}, 3},
	}
	for _, tt := range replays {
		res, err := b.store.Append(b.ctx, "s", tt.expected, tt.events...)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.version, res.Version, tt.name)
	}

	refused := []struct {
		name     string
		stream   string
		expected store.ExpectedVersion
		events   []store.Event
		want     error
	}{
		{"a tail after the end", "s", store.Exact(3), []store.Event{bb, c}, store.ErrDuplicateEvent},
		{"a prefix, wrong version", "s", store.Exact(7), []store.Event{a, bb}, store.ErrWrongExpectedVersion},
		{"one event, no stream", "s", store.NoStream, []store.Event{bb}, store.ErrStreamExists},
		{"out of order", "s", store.Any, []store.Event{c, bb}, store.ErrDuplicateEvent},
		{"with a gap", "s", store.Any, []store.Event{a, c}, store.ErrDuplicateEvent},
		{"stored ids and a new one", "s", store.Any, []store.Event{bb, c, withID(rawEvents(1, 4))[0]}, store.ErrDuplicateEvent},
		{"a new one first", "s", store.Any, []store.Event{withID(rawEvents(1, 4))[0], a}, store.ErrDuplicateEvent},
		{"another stream's ids", "s", store.Any, []store.Event{other}, store.ErrDuplicateEvent},
		{"into another stream", "u", store.Any, []store.Event{a, bb, c}, store.ErrDuplicateEvent},
		{"the tail into another stream", "t", store.Exact(1), []store.Event{c}, store.ErrDuplicateEvent},
	}
	for _, tt := range refused {
		_, err := b.store.Append(b.ctx, tt.stream, tt.expected, tt.events...)
		require.ErrorIs(t, err, tt.want, tt.name)
	}
	require.Equal(t, 3, countRows(t, b, "s"), "nothing refused is stored")
	require.Equal(t, 1, countRows(t, b, "t"))
	require.Zero(t, countRows(t, b, "u"))
	info, err := b.store.StreamInfo(b.ctx, "s")
	require.NoError(t, err)
	require.Equal(t, int64(3), info.Version)
}

// TestInvalidExactNamesItsVersion: Exact(-5) is refused, and the error says
// -5.
func TestInvalidExactNamesItsVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, n := range []int64{-1, -5, -100, math.MinInt64} {
		_, err := b.store.Append(b.ctx, "s", store.Exact(n), rawEvent("test_event", 1))
		require.ErrorIs(t, err, store.ErrInvalidExpectedVersion)
		require.Contains(t, err.Error(), fmt.Sprintf("Exact(%d)", max(n, math.MinInt64/2)))
	}
	require.Equal(t, "invalid Exact(-5)", store.Exact(-5).String())
	require.Equal(t, "7", store.Exact(7).String())
}
