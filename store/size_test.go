package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// sized returns an event whose encoded data is exactly n bytes.
func sized(n int) store.Event {
	const frame = len(`{"p":""}`)
	return store.Event{Data: serde.Raw{Type: "sized", Version: 1,
		Data: []byte(fmt.Sprintf(`{"p":"%s"}`, strings.Repeat("x", n-frame)))}}
}

// TestSizeCaps: an event or a batch past its cap is refused with a typed
// error before anything is sent, and nothing is stored; at the cap it is
// stored. Metadata counts towards the event.
func TestSizeCaps(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{MaxEventBytes: 1000, MaxBatchBytes: 3000})
	_, err := b.store.Append(b.ctx, "s", store.Any, sized(1000))
	require.NoError(t, err, "an event of exactly the cap")
	_, err = b.store.Append(b.ctx, "s", store.Any, sized(1001))
	require.ErrorIs(t, err, store.ErrEventTooLarge)
	withMeta := sized(990)
	withMeta.Metadata = map[string]string{"actor": "someone"}
	_, err = b.store.Append(b.ctx, "s", store.Any, withMeta)
	require.ErrorIs(t, err, store.ErrEventTooLarge, "metadata counts")
	_, err = b.store.Append(b.ctx, "s", store.Any, sized(1000), sized(1000), sized(1000))
	require.NoError(t, err, "a batch of exactly the cap")
	_, err = b.store.Append(b.ctx, "s", store.Any, sized(1000), sized(1000), sized(1000), sized(100))
	require.ErrorIs(t, err, store.ErrBatchTooLarge)
	require.Equal(t, 4, countRows(t, b, "s"), "nothing refused is stored")
	require.Equal(t, store.ClassValidation, store.Classify(err))

	// The defaults: 1 MiB per event, 16 MiB per append; negative: no cap.
	d := setup(t)
	_, err = d.store.Append(d.ctx, "big", store.Any, sized(store.DefaultMaxEventBytes+1))
	require.ErrorIs(t, err, store.ErrEventTooLarge)
	batch := make([]store.Event, 17)
	for i := range batch {
		batch[i] = sized(store.DefaultMaxEventBytes)
	}
	_, err = d.store.Append(d.ctx, "big", store.Any, batch...)
	require.ErrorIs(t, err, store.ErrBatchTooLarge)
	require.Zero(t, countRows(t, d, "big"))
	u := setup(t, store.Config{MaxEventBytes: -1, MaxBatchBytes: -1})
	_, err = u.store.Append(u.ctx, "big", store.Any, sized(2*store.DefaultMaxEventBytes))
	require.NoError(t, err)
}

// TestReadsTakeAsManyAsAppends: one read returns up to 10,000 events by
// default, as many as one append writes.
func TestReadsTakeAsManyAsAppends(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{MaxStreamEvents: -1})
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(store.DefaultMaxAppendBatch, 1)...)
	require.NoError(t, err)
	recs, err := b.store.ReadForward(b.ctx, "s", 1, store.DefaultMaxReadBatch)
	require.NoError(t, err)
	require.Len(t, recs, 10_000)
	waitFeed(t, b, 10_000)
	page, err := b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 10_000})
	require.NoError(t, err)
	require.Len(t, page.Events, 10_000)
	_, err = b.store.ReadForward(b.ctx, "s", 1, 10_001)
	require.ErrorIs(t, err, store.ErrInvalidBatchSize)
}
