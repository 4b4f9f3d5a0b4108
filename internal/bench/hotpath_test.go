package bench_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/internal/bench"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// The Go benchmarks of the hot paths, for benchstat:
//
//	go test -run '^$' -bench . -count 10 ./internal/bench/ > new.txt
//	benchstat old.txt new.txt

func newJSON() *serde.JSON { return serde.NewJSON(events.NewRegistry()) }

func BenchmarkSerialize(b *testing.B) {
	ser := newJSON()
	ev := bench.GuessEvent("game-1187342254", 7)
	data, err := ser.Marshal(ev)
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ser.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeserialize decodes a guess_processed document as the encoder
// wrote it, and as reads return it: PostgreSQL's jsonb keeps an object's
// keys shortest first, not in the struct's order.
func BenchmarkDeserialize(b *testing.B) {
	ser := newJSON()
	encoded, err := ser.Marshal(bench.GuessEvent("game-1187342254", 7))
	require.NoError(b, err)
	var stored []byte
	require.NoError(b, testdb.New(b).QueryRow(b.Context(), "SELECT $1::jsonb::text", string(encoded)).Scan(&stored))
	require.NotEqual(b, string(encoded), string(stored), "jsonb reorders the keys")
	for _, tc := range []struct {
		name string
		data []byte
	}{{"encoded", encoded}, {"stored", stored}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ser.Unmarshal("guess_processed", 1, tc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend appends batches of typed events, one writer; ns/op is per
// call and events/s the throughput.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := store.New(testdb.New(b), store.Config{Serializer: newJSON()})
			b.Cleanup(s.Close)
			ctx := store.WithGuild(b.Context(), bench.Guild)
			stream, version, n := "", 0, 0
			b.ReportAllocs()
			for b.Loop() {
				if stream == "" || version+batch > 1000 {
					stream, version = fmt.Sprintf("game-%d", n), 0
					n++
				}
				evs := make([]store.Event, batch)
				for i := range evs {
					evs[i] = bench.StoreEvent(stream, version+i)
				}
				if _, err := s.Append(ctx, stream, store.Exact(int64(version)), evs...); err != nil {
					b.Fatal(err)
				}
				version += batch
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAppendNewStream appends one event to a fresh stream per call,
// with NoStream: a game's first event, which creates its stream.
func BenchmarkAppendNewStream(b *testing.B) {
	s := store.New(testdb.New(b), store.Config{Serializer: newJSON()})
	b.Cleanup(s.Close)
	ctx := store.WithGuild(b.Context(), bench.Guild)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		stream := fmt.Sprintf("game-%d", n)
		n++
		if _, err := s.Append(ctx, stream, store.NoStream, bench.StoreEvent(stream, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadDecode reads a page of 1000 events, typed (serde.JSON) and
// raw (serde.Passthrough); ns/op is per page.
func BenchmarkReadDecode(b *testing.B) {
	pool := testdb.New(b)
	typed := store.New(pool, store.Config{Serializer: newJSON()})
	b.Cleanup(typed.Close)
	ctx := store.WithGuild(b.Context(), bench.Guild)
	evs := make([]store.Event, 1000)
	for i := range evs {
		evs[i] = bench.StoreEvent("game-read", i)
	}
	_, err := typed.Append(ctx, "game-read", store.NoStream, evs...)
	require.NoError(b, err)
	raw := store.New(pool, store.Config{})
	b.Cleanup(raw.Close)
	for _, tc := range []struct {
		name string
		s    *store.Store
	}{
		{"typed", typed},
		{"raw", raw},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				recs, err := tc.s.ReadForward(ctx, "game-read", 1, 1000)
				if err != nil || len(recs) != 1000 {
					b.Fatalf("read: %d events, %v", len(recs), err)
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkFeedCatchUp reads 10,000 typed events of the global feed in
// pages of 1000, with ReadFeed page by page, with ReadFeed filtered by
// event type (every event matches: the filtered query that subscriptions
// with a filter and consumer groups' partitions read with) and with the
// Feed iterator (which reads the next page while the current one is
// decoded); ns/op is per pass.
func BenchmarkFeedCatchUp(b *testing.B) {
	pool := testdb.New(b)
	s := store.New(pool, store.Config{Serializer: newJSON()})
	b.Cleanup(s.Close)
	ctx := store.WithGuild(b.Context(), bench.Guild)
	const total = 10_000
	for g := range total / 1000 {
		stream := fmt.Sprintf("game-feed-%d", g)
		evs := make([]store.Event, 1000)
		for i := range evs {
			evs[i] = bench.StoreEvent(stream, i)
		}
		_, err := s.Append(ctx, stream, store.NoStream, evs...)
		require.NoError(b, err)
	}
	readFeed := func(b *testing.B, opts store.FeedOptions) {
		b.ReportAllocs()
		for b.Loop() {
			n, cp := 0, store.Checkpoint{}
			for {
				page, err := s.ReadFeed(ctx, cp, opts)
				require.NoError(b, err)
				n += len(page.Events)
				cp = page.Next
				if !page.More {
					break
				}
			}
			if n != total {
				b.Fatalf("read %d events, want %d (is another transaction holding the feed back?)", n, total)
			}
		}
		b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "events/s")
	}
	opts := store.FeedOptions{Limit: 1000}
	b.Run("ReadFeed", func(b *testing.B) { readFeed(b, opts) })
	b.Run("ReadFeedFiltered", func(b *testing.B) {
		readFeed(b, store.FeedOptions{Limit: 1000, Filter: store.FeedFilter{EventTypes: []string{events.GuessProcessed{}.EventType()}}})
	})
	b.Run("Feed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for _, err := range s.Feed(ctx, store.Checkpoint{}, opts) {
				require.NoError(b, err)
				n++
			}
			if n != total {
				b.Fatalf("read %d events, want %d (is another transaction holding the feed back?)", n, total)
			}
		}
		b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "events/s")
	})
}

func BenchmarkAppendConcurrent(b *testing.B) {
	for _, c := range []struct {
		name      string
		off       bool
		perStream int
	}{{"nocoalesce=false", false, 1000}, {"nocoalesce=true", true, 1000}, {"new_streams", false, 1}} {
		b.Run(c.name, func(b *testing.B) {
			s := store.New(testdb.New(b), store.Config{Serializer: newJSON(), DisableCoalescing: c.off})
			b.Cleanup(s.Close)
			ctx := store.WithGuild(b.Context(), bench.Guild)
			var next atomic.Int64
			b.SetParallelism(8 / max(1, runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := next.Add(1)
				stream, version, n := "", 0, 0
				for pb.Next() {
					if stream == "" || version == c.perStream {
						stream, version = fmt.Sprintf("game-%d-%d", w, n), 0
						n++
					}
					if _, err := s.Append(ctx, stream, store.Exact(int64(version)), bench.StoreEvent(stream, version)); err != nil {
						b.Error(err)
						return
					}
					version++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
