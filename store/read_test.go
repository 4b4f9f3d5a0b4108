package store_test

import (
	"context"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestReadPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(25, 1)...)
	require.NoError(t, err)

	var fwd []int
	for from := int64(1); ; {
		page, err := b.store.ReadForward(b.ctx, "game-1", from, 10)
		require.NoError(t, err)
		for _, r := range page {
			fwd = append(fwd, eventN(t, r))
		}
		if len(page) < 10 {
			break
		}
		from = page[len(page)-1].Version + 1
	}
	require.Len(t, fwd, 25)
	for i, n := range fwd {
		require.Equal(t, i+1, n)
	}

	var back []int64
	for from := store.End; ; {
		page, err := b.store.ReadBackward(b.ctx, "game-1", from, 7)
		require.NoError(t, err)
		for _, r := range page {
			back = append(back, r.Version)
		}
		if len(page) < 7 {
			break
		}
		from = page[len(page)-1].Version - 1
	}
	require.Len(t, back, 25)
	for i, v := range back {
		require.Equal(t, int64(25-i), v)
	}

	mid, err := b.store.ReadBackward(b.ctx, "game-1", 5, 100)
	require.NoError(t, err)
	require.Len(t, mid, 5)
	require.Equal(t, int64(5), mid[0].Version)
}

func TestReadEdges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	require.NoError(t, b.store.CreateStream(b.ctx, "empty"))
	err = b.store.CreateStream(b.ctx, "game-1")
	require.ErrorIs(t, err, store.ErrStreamExists)
	var conflict *store.VersionConflictError
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, int64(3), conflict.Actual)

	past, err := b.store.ReadForward(b.ctx, "game-1", 4, 10)
	require.NoError(t, err)
	require.Empty(t, past)
	none, err := b.store.ReadForward(b.ctx, "empty", 0, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = b.store.ReadForward(b.ctx, "nope", 0, 10)
	require.ErrorIs(t, err, store.ErrStreamNotFound)
	_, err = b.store.ReadBackward(b.ctx, "nope", store.End, 10)
	require.ErrorIs(t, err, store.ErrStreamNotFound)
	_, err = b.store.StreamInfo(b.ctx, "nope")
	require.ErrorIs(t, err, store.ErrStreamNotFound)

	tests := []struct {
		name    string
		read    func() error
		wantErr error
	}{
		{"negative start", func() error { _, err := b.store.ReadForward(b.ctx, "game-1", -1, 10); return err }, store.ErrInvalidStartVersion},
		{"backward below End", func() error { _, err := b.store.ReadBackward(b.ctx, "game-1", -2, 10); return err }, store.ErrInvalidStartVersion},
		{"zero count", func() error { _, err := b.store.ReadForward(b.ctx, "game-1", 0, 0); return err }, store.ErrInvalidBatchSize},
		{"count too large", func() error { _, err := b.store.ReadForward(b.ctx, "game-1", 0, 10_001); return err }, store.ErrInvalidBatchSize},
		{"bad stream id", func() error { _, err := b.store.ReadForward(b.ctx, "", 0, 10); return err }, store.ErrInvalidStreamID},
		{"feed limit", func() error {
			_, err := b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 0})
			return err
		}, store.ErrInvalidBatchSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.read(), tt.wantErr)
		})
	}
}

func TestStreamInfoAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(4, 1)...)
	require.NoError(t, err)
	info, err := b.store.StreamInfo(b.ctx, "game-1")
	require.NoError(t, err)
	require.Equal(t, int64(4), info.Version)
	require.Equal(t, testGuild, info.GuildID)
	require.Nil(t, info.DeletedAt)
	require.False(t, info.CreatedAt.IsZero())

	_, err = b.store.DeleteStream(b.ctx, "game-1", store.Exact(3))
	require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
	v, err := b.store.DeleteStream(b.ctx, "game-1", store.Exact(4))
	require.NoError(t, err)
	require.Equal(t, int64(4), v)
	_, err = b.store.DeleteStream(b.ctx, "game-1", store.Any)
	require.ErrorIs(t, err, store.ErrStreamDeleted)

	_, err = b.store.ReadForward(b.ctx, "game-1", 0, 10)
	require.ErrorIs(t, err, store.ErrStreamDeleted)
	info, err = b.store.StreamInfo(b.ctx, "game-1")
	require.NoError(t, err)
	require.NotNil(t, info.DeletedAt)
	require.Equal(t, 4, countRows(t, b, "game-1"), "soft delete keeps the events")

	_, err = b.store.DeleteStream(b.ctx, "nope", store.Any)
	require.ErrorIs(t, err, store.ErrStreamNotFound)
}

// TestStreamIterator reads a 10,000-event stream with batch sizes 1, 7 and
// 1000 and gets the same sequence each time.
func TestStreamIterator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "long", store.NoStream, rawEvents(10_000, 1)...)
	require.NoError(t, err)

	var first []int64
	for _, batch := range []int{1000, 7, 1} {
		var got []int64
		for r, err := range b.store.Stream(b.ctx, "long", 0, batch) {
			require.NoError(t, err)
			got = append(got, r.GlobalPosition)
			require.Equal(t, int64(len(got)), r.Version)
		}
		require.Len(t, got, 10_000, "batch %d", batch)
		if first == nil {
			first = got
		}
		require.Equal(t, first, got, "batch %d", batch)
	}

	// Starting in the middle, and stopping early.
	n := 0
	for r, err := range b.store.Stream(b.ctx, "long", 9_990, 4) {
		require.NoError(t, err)
		require.Equal(t, int64(9_990+n), r.Version)
		n++
	}
	require.Equal(t, 11, n)
	n = 0
	for range b.store.Stream(b.ctx, "long", 0, 10) {
		n++
		if n == 15 {
			break
		}
	}
	require.Equal(t, 15, n)

	for _, err := range b.store.Stream(b.ctx, "missing", 0, 10) {
		require.ErrorIs(t, err, store.ErrStreamNotFound)
	}
	for _, err := range b.store.Stream(b.ctx, "long", 0, 0) {
		require.ErrorIs(t, err, store.ErrInvalidBatchSize)
	}
}

// TestMetadataWrittenByOtherTools: metadata that is not a flat object of
// strings (written with SQL, say) is still read; other values come back as
// their JSON text.
func TestMetadataWrittenByOtherTools(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.pool.Exec(b.ctx, `SELECT * FROM eventstore.append_events('s', $1, -1, ARRAY[gen_random_uuid(), gen_random_uuid()],
		ARRAY['t', 't'], ARRAY[1, 1], ARRAY['{}'::jsonb, '{}'], ARRAY['{"a": 1, "b": "x", "c": {"d": [true]}}'::jsonb, '{"e": "f"}'])`, testGuild)
	require.NoError(t, err)
	recs, err := b.store.ReadForward(b.ctx, "s", 0, 10)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "x", "c": `{"d": [true]}`}, recs[0].Metadata.Strings())
	require.Equal(t, map[string]string{"e": "f"}, recs[1].Metadata.Strings())
}

// TestStreamReadAhead: outside a transaction Stream reads the next page
// while the caller works through the current one; stopping early waits for
// that read and leaves no goroutine behind. Inside a transaction (one
// connection, one statement at a time) it reads the pages in turn. It runs
// alone (not parallel) so that other tests' goroutines do not count.
func TestStreamReadAhead(t *testing.T) {
	b := setup(t)
	_, err := b.store.Append(b.ctx, "long", store.NoStream, rawEvents(3000, 1)...)
	require.NoError(t, err)
	ignore := goleak.IgnoreCurrent()

	for _, stop := range []int{1, 15, 1000, 1001, 2999} {
		n := 0
		for r, err := range b.store.Stream(b.ctx, "long", 0, 1000) {
			require.NoError(t, err)
			n++
			require.Equal(t, int64(n), r.Version)
			if n == stop {
				break
			}
		}
		require.Equal(t, stop, n)
		goleak.VerifyNone(t, ignore, pgxReader)
	}

	err = b.store.InTx(b.ctx, func(ctx context.Context) error {
		n := 0
		for r, err := range b.store.Stream(ctx, "long", 0, 1000) {
			if err != nil {
				return err
			}
			n++
			require.Equal(t, int64(n), r.Version)
			if n%250 == 0 { // the caller uses the transaction meanwhile
				if _, err := b.store.StreamInfo(ctx, "long"); err != nil {
					return err
				}
			}
		}
		require.Equal(t, 3000, n)
		return nil
	})
	require.NoError(t, err)
	goleak.VerifyNone(t, ignore, pgxReader)
}
