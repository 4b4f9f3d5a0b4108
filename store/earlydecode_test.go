package store_test

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
)

// earlyChunk is the number of rows handed to a decoding goroutine at a
// time (store's earlyChunk).
const earlyChunk = 128

// chunkStarts records, for each chunk of a page that s starts decoding
// while it is read, the number of rows read by then, and counts the
// chunks still being decoded.
type chunkStarts struct {
	mu      sync.Mutex
	read    []int
	running int
}

func watchChunks(s *store.Store) *chunkStarts {
	c := &chunkStarts{}
	store.OnEarlyChunk(s, func(n int) {
		c.mu.Lock()
		c.read = append(c.read, n)
		c.running++
		c.mu.Unlock()
	}, func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
	})
	return c
}

// inFlight returns the number of chunks started and not yet decoded.
func (c *chunkStarts) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// take returns the starts recorded since the last take.
func (c *chunkStarts) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.read
	c.read = nil
	return out
}

// appendScored appends n scoredV1 events to stream (scores 1..n), those
// at the given 0-based indexes stored as data the type cannot decode.
func appendScored(t *testing.T, b *bundle, stream string, n int, broken ...int) {
	t.Helper()
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = store.Event{Data: scoredV1{Score: i + 1}}
	}
	for _, i := range broken {
		evs[i] = store.Event{Data: serde.Raw{Type: "scored", Version: 1, Data: json.RawMessage(`{"score":"x"}`)}}
	}
	_, err := b.store.Append(b.ctx, stream, store.NoStream, evs...)
	require.NoError(t, err)
}

// TestPagesDecodeWhileRead: a typed page of more than earlyChunk events is
// decoded chunk by chunk while the rest of it is still being read, by
// ReadForward, ReadBackward, ReadFeed (filtered too), Stream and Feed
// alike; its records, its decode errors and their order are exactly those
// of a store that decodes each page after reading it. Smaller pages, and
// stores that keep events raw, decode after the read.
func TestPagesDecodeWhileRead(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	late := &bundle{store: store.New(b.pool, scoredConfig(t)), pool: b.pool, ctx: b.ctx, admin: b.admin}
	t.Cleanup(late.store.Close)
	store.DecodeAfterRead(late.store)
	starts := watchChunks(b.store)
	lateStarts := watchChunks(late.store)

	// Broken events in the first chunk, the second, the fifth (two) and
	// the tail of a page of 1000.
	appendScored(t, b, "big", 1000, 0, 211, 702, 703, 998)
	wantStarts := []int{128, 256, 384, 512, 640, 768, 896}

	recs, err := b.store.ReadForward(b.ctx, "big", 1, 1000)
	require.Equal(t, wantStarts, starts.take(), "each chunk starts as its last row is read")
	lateRecs, lateErr := late.store.ReadForward(late.ctx, "big", 1, 1000)
	require.Empty(t, lateStarts.take())
	require.Len(t, recs, 1000)
	require.Equal(t, lateRecs, recs)
	require.Equal(t, lateErr.Error(), err.Error())
	require.Equal(t, []int64{1, 212, 703, 704, 999}, decodeFailures(err))
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
		if i != 0 && i != 211 && i != 702 && i != 703 && i != 998 {
			require.Equal(t, scoredV3{Points: i + 1, Bonus: 5}, r.Event)
		}
	}

	recs, err = b.store.ReadBackward(b.ctx, "big", store.End, 300)
	require.Equal(t, []int{128, 256}, starts.take())
	lateRecs, lateErr = late.store.ReadBackward(late.ctx, "big", store.End, 300)
	require.Equal(t, lateRecs, recs)
	require.Equal(t, lateErr.Error(), err.Error())
	require.Equal(t, []int64{999, 704, 703}, decodeFailures(err))

	// A page of earlyChunk-1 events is decoded after it is read.
	recs, err = b.store.ReadForward(b.ctx, "big", 2, earlyChunk-1)
	require.NoError(t, err)
	require.Len(t, recs, earlyChunk-1)
	require.Empty(t, starts.take())

	// The feed's horizon is cluster-wide: wait until other tests'
	// transactions let the appends through.
	raw := &bundle{store: store.New(b.pool, store.Config{}), pool: b.pool, ctx: b.ctx, admin: b.admin}
	t.Cleanup(raw.store.Close)
	waitFeed(t, raw, 1000)
	page, err := b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 1000})
	require.Equal(t, wantStarts, starts.take())
	latePage, lateErr := late.store.ReadFeed(late.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 1000})
	require.Equal(t, latePage, page)
	require.Equal(t, lateErr.Error(), err.Error())

	// A filtered read (the query consumer groups' partitions read with)
	// decodes its hits the same way.
	filtered := store.FeedOptions{Limit: 1000, Filter: store.FeedFilter{StreamPrefix: "bi"}}
	page, err = b.store.ReadFeed(b.ctx, store.Checkpoint{}, filtered)
	require.Equal(t, wantStarts, starts.take())
	require.Len(t, page.Events, 1000)
	latePage, lateErr = late.store.ReadFeed(late.ctx, store.Checkpoint{}, filtered)
	require.Equal(t, latePage, page)
	require.Equal(t, lateErr.Error(), err.Error())

	// The iterators, pages of 300: two chunks each, the last page's 100
	// decoded after its read.
	type item struct {
		rec store.Recorded
		err string
	}
	collect := func(seq func(func(store.Recorded, error) bool)) []item {
		var out []item
		for r, err := range seq {
			it := item{rec: r}
			if err != nil {
				it.err = err.Error()
			}
			out = append(out, it)
		}
		return out
	}
	got := collect(b.store.Stream(b.ctx, "big", 1, 300))
	require.Equal(t, []int{128, 256, 128, 256, 128, 256}, starts.take())
	want := collect(late.store.Stream(late.ctx, "big", 1, 300))
	require.Len(t, got, 1000)
	require.Equal(t, want, got)
	var failed []int64
	for _, it := range got {
		if it.err != "" {
			failed = append(failed, it.rec.Version)
		}
	}
	require.Equal(t, []int64{1, 212, 703, 704, 999}, failed)

	got = collect(b.store.Feed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 300}))
	require.Equal(t, []int{128, 256, 128, 256, 128, 256}, starts.take())
	want = collect(late.store.Feed(late.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 300}))
	require.Equal(t, want, got)
	filtered.Limit = 300
	got = collect(b.store.Feed(b.ctx, store.Checkpoint{}, filtered))
	require.Equal(t, []int{128, 256, 128, 256, 128, 256}, starts.take())
	want = collect(late.store.Feed(late.ctx, store.Checkpoint{}, filtered))
	require.Len(t, got, 1000)
	require.Equal(t, want, got)

	// Raw events need no decoding: nothing starts early.
	rawStarts := watchChunks(raw.store)
	rawRecs, err := raw.store.ReadForward(b.ctx, "big", 1, 1000)
	require.NoError(t, err)
	require.Len(t, rawRecs, 1000)
	require.Empty(t, rawStarts.take())
}

// TestEarlyDecodeBeforeArchiveRead: a forward page that reaches into the
// archive is first read from the hot table, whose rows start decoding, and
// then read again with the archive; the hot rows' decoding is waited for
// before their memory is reused (the race detector checks it), and the
// page is whole and in order.
func TestEarlyDecodeBeforeArchiveRead(t *testing.T) {
	t.Parallel()
	b := typedSetup(t)
	starts := watchChunks(b.store)
	appendScored(t, b, "old", 400)
	_, err := b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: "old", Version: 100, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	_, err = b.store.ArchiveBefore(b.ctx, "old", 101)
	require.NoError(t, err)

	recs, err := b.store.ReadForward(b.ctx, "old", 1, 1000)
	require.NoError(t, err)
	require.Equal(t, []int{128, 256}, starts.take(), "the hot rows (101 to 400) start decoding")
	require.Len(t, recs, 400)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
		require.Equal(t, scoredV3{Points: i + 1, Bonus: 5}, r.Event)
	}
}

// panicky decodes like its Serializer but panics on the event of 300
// points.
type panicky struct{ serde.Serializer }

func (p panicky) Unmarshal(typ string, version int, data []byte) (serde.Event, error) {
	ev, err := p.Serializer.Unmarshal(typ, version, data)
	if ev == (scoredV3{Points: 300, Bonus: 5}) {
		panic("cannot decode the event of 300 points")
	}
	return ev, err
}

// TestEarlyDecodePanicReachesCaller: a serializer's panic on a goroutine
// decoding a chunk is raised on the reader's goroutine, once every chunk
// has finished, as decoding after the read raises it; no goroutine is left
// behind, and the store reads on.
func TestEarlyDecodePanicReachesCaller(t *testing.T) {
	b := typedSetup(t)
	appendScored(t, b, "s", 1000)
	cfg := scoredConfig(t)
	cfg.Serializer = panicky{cfg.Serializer}
	s := store.New(b.pool, cfg)
	t.Cleanup(s.Close)
	starts := watchChunks(s)
	ignore := goleak.IgnoreCurrent()

	require.PanicsWithValue(t, "cannot decode the event of 300 points", func() { _, _ = s.ReadForward(b.ctx, "s", 1, 1000) })
	require.Len(t, starts.take(), 7, "the panic came from a chunk decoded while the page was read")
	goleak.VerifyNone(t, ignore, pgxReader)

	recs, err := s.ReadForward(b.ctx, "s", 301, 1000)
	require.NoError(t, err)
	require.Len(t, recs, 700)
}

// TestTypedStreamStoppedEarlyLeavesNothing: stopping a typed Stream early
// waits for the page read ahead and for the decoding it started while
// being read (and gives its rows' memory back); no goroutine is left
// behind.
func TestTypedStreamStoppedEarlyLeavesNothing(t *testing.T) {
	b := typedSetup(t)
	appendScored(t, b, "long", 3000)
	starts := watchChunks(b.store)
	ignore := goleak.IgnoreCurrent()
	for _, stop := range []int{1, 130, 1000, 1001, 2999} {
		n := 0
		for r, err := range b.store.Stream(b.ctx, "long", 0, 1000) {
			require.NoError(t, err)
			n++
			require.Equal(t, scoredV3{Points: n, Bonus: 5}, r.Event)
			if n == stop {
				break
			}
		}
		require.Equal(t, stop, n)
		require.NotEmpty(t, starts.take())
		require.Zero(t, starts.inFlight(), "the page read ahead is still being decoded")
		goleak.VerifyNone(t, ignore, pgxReader)
	}
}

// TestEarlyDecodeConnectionLostMidPage: the server process sending a
// typed page is terminated once its first chunk has started decoding,
// while most of the page is still unsent. With retries the read starts
// over on a new connection and returns the whole page, in order; without
// them it fails with ErrConnection. A Stream whose page read ahead loses
// its connection reads that page again. Either way every chunk has finished
// when the read returns (the race detector checks that the rows' memory is
// not reused under a decoder) and no goroutine is left behind.
func TestEarlyDecodeConnectionLostMidPage(t *testing.T) {
	const events = 5000
	b := typedSetup(t)
	// 8 kB of metadata an event: pages of 20 and 40 MB, far more than the
	// socket buffers hold when the backend goes 128 rows in.
	pad := json.RawMessage(`{"pad":"` + strings.Repeat("x", 8192) + `"}`)
	for lo := 0; lo < events; lo += 500 {
		evs := make([]store.Event, 500)
		for i := range evs {
			evs[i] = store.Event{Data: scoredV1{Score: lo + i + 1}, RawMetadata: pad}
		}
		_, err := b.store.Append(b.ctx, "wide", store.Exact(int64(lo)), evs...)
		require.NoError(t, err)
	}

	// killer terminates the backend sending a page from the reader's
	// goroutine as the first chunk of the killAt-th page (counted from
	// arm) starts; the read goes on only once the backend is gone.
	type killer struct {
		pages, killAt, running atomic.Int32
		killed                 atomic.Bool
	}
	killOnPage := func(s *store.Store) *killer {
		k := &killer{}
		store.OnEarlyChunk(s, func(rowsRead int) {
			k.running.Add(1)
			if rowsRead != earlyChunk || k.pages.Add(1) != k.killAt.Load() {
				return
			}
			var n int
			err := b.pool.QueryRow(b.admin, `
				SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
				  FROM pg_stat_activity
				 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`).Scan(&n)
			if err != nil || n != 1 {
				t.Errorf("terminating the backend sending the page: %d terminated, %v", n, err)
			}
			k.killed.Store(n == 1)
		}, func() { k.running.Add(-1) })
		return k
	}
	arm := func(k *killer, page int32) {
		k.pages.Store(0)
		k.killed.Store(false)
		k.killAt.Store(page)
	}
	ignore := goleak.IgnoreCurrent()

	rec := &recorder{}
	cfg := scoredConfig(t)
	cfg.Observer, cfg.Retry = rec, fastRetry()
	retrying := store.New(b.pool, cfg)
	t.Cleanup(retrying.Close)
	k := killOnPage(retrying)
	arm(k, 1)
	recs, err := retrying.ReadForward(b.ctx, "wide", 1, events)
	require.NoError(t, err)
	require.True(t, k.killed.Load(), "the backend was terminated")
	require.Zero(t, k.running.Load(), "a chunk is still being decoded")
	require.Len(t, recs, events)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
		require.Equal(t, scoredV3{Points: i + 1, Bonus: 5}, r.Event)
	}
	reads := rec.of(store.OpReadForward)
	require.Len(t, reads, 2)
	require.ErrorIs(t, reads[0].Err, store.ErrConnection)
	require.True(t, reads[0].Retrying)
	require.NoError(t, reads[1].Err)
	require.Equal(t, events, reads[1].Events)

	// Stream, pages of 2500: the second page, read ahead while the first
	// is handed out, loses its connection.
	arm(k, 2)
	n := 0
	for r, err := range retrying.Stream(b.ctx, "wide", 1, 2500) {
		require.NoError(t, err)
		n++
		require.Equal(t, scoredV3{Points: n, Bonus: 5}, r.Event)
	}
	require.Equal(t, events, n)
	require.True(t, k.killed.Load(), "the backend was terminated")
	require.Zero(t, k.running.Load(), "a chunk is still being decoded")
	reads = rec.of(store.OpReadForward)[2:]
	require.Len(t, reads, 4, "the pages, the second twice, and the read past the end")
	require.ErrorIs(t, reads[1].Err, store.ErrConnection)
	require.True(t, reads[1].Retrying)
	require.Equal(t, []int{2500, 2500, 0}, []int{reads[0].Events, reads[2].Events, reads[3].Events})

	// A filtered feed read (a consumer group's partition, a filtered
	// subscription) decodes its hits as it reads too: the page lost
	// mid-read is read again whole.
	wide := store.FeedOptions{Limit: events, Filter: store.FeedFilter{StreamPrefix: "wi"}}
	require.Eventually(t, func() bool { // the feed's horizon is cluster-wide
		page, err := retrying.ReadFeed(b.ctx, store.Checkpoint{}, wide)
		return err == nil && len(page.Events) == events
	}, deliveryLimit, 5*time.Millisecond)
	before := len(rec.of(store.OpReadFeed))
	arm(k, 1)
	page, err := retrying.ReadFeed(b.ctx, store.Checkpoint{}, wide)
	require.NoError(t, err)
	require.True(t, k.killed.Load(), "the backend was terminated")
	require.Zero(t, k.running.Load(), "a chunk is still being decoded")
	require.Equal(t, events, len(page.Events), "the page's events")
	for i, r := range page.Events {
		require.Equal(t, scoredV3{Points: i + 1, Bonus: 5}, r.Event)
	}
	require.Equal(t, page.Events[events-1].Checkpoint(), page.Next)
	feeds := rec.of(store.OpReadFeed)[before:]
	require.Len(t, feeds, 2)
	require.ErrorIs(t, feeds[0].Err, store.ErrConnection)
	require.True(t, feeds[0].Retrying)
	require.Equal(t, events, feeds[1].Events)

	cfg = scoredConfig(t)
	cfg.Retry = store.RetryPolicy{MaxAttempts: 1}
	once := store.New(b.pool, cfg)
	t.Cleanup(once.Close)
	k = killOnPage(once)
	arm(k, 1)
	recs, err = once.ReadForward(b.ctx, "wide", 1, events)
	require.ErrorIs(t, err, store.ErrConnection)
	require.Nil(t, recs)
	require.True(t, k.killed.Load(), "the backend was terminated")
	require.Zero(t, k.running.Load(), "a chunk is still being decoded")
	arm(k, 1)
	page, err = once.ReadFeed(b.ctx, store.Checkpoint{}, wide)
	require.ErrorIs(t, err, store.ErrConnection)
	require.Zero(t, len(page.Events), "the page's events")
	require.True(t, k.killed.Load(), "the backend was terminated")
	require.Zero(t, k.running.Load(), "a chunk is still being decoded")
	goleak.VerifyNone(t, ignore, pgxReader)

	// The store reads on.
	recs, err = once.ReadForward(b.ctx, "wide", events-999, 1000)
	require.NoError(t, err)
	require.Len(t, recs, 1000)
	require.Equal(t, scoredV3{Points: events, Bonus: 5}, recs[999].Event)
}
