package bench_test

import (
	"fmt"
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

func BenchmarkDeserialize(b *testing.B) {
	ser := newJSON()
	data, err := ser.Marshal(bench.GuessEvent("game-1187342254", 7))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ser.Unmarshal("guess_processed", 1, data); err != nil {
			b.Fatal(err)
		}
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
