package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
)

// readStats are the counts of the stream readers.
type readStats struct {
	reads, errors int
}

// startReaders starts n readers that read random streams while the
// writers append, and returns a function that stops them, fails the test
// on any broken invariant and returns their counts. A reader checks that
//   - a forward read (the Stream iterator, batches of 100) yields versions
//     1, 2, 3, … without a gap, in increasing global position;
//   - a backward read from the end yields consecutive versions, newest
//     first, starting at a version no older than StreamInfo reported just
//     before (a version, once visible, stays visible with its events).
//
// A stream that does not exist yet and connection errors are expected
// under faults and counted; any other error is a failure.
func startReaders(t *testing.T, ctx context.Context, s *store.Store, n int, streams []string) (stop func() readStats) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total readStats
		bad   []string
	)
	for i := range n {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
			var st readStats
			for ctx.Err() == nil {
				id := streams[r.IntN(len(streams))]
				var err error
				if r.IntN(2) == 0 {
					err = readForward(ctx, s, id)
				} else {
					err = readBackward(ctx, s, id)
				}
				var bi brokenInvariant
				switch {
				case err == nil, errors.Is(err, store.ErrStreamNotFound):
					st.reads++
				case ctx.Err() != nil:
				case errors.As(err, &bi):
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
				case errors.Is(err, store.ErrConnection), errors.Is(err, context.DeadlineExceeded):
					st.errors++
					time.Sleep(5 * time.Millisecond)
				default:
					mu.Lock()
					bad = append(bad, fmt.Sprintf("read %s: unexpected error: %v", id, err))
					mu.Unlock()
				}
			}
			mu.Lock()
			total.reads += st.reads
			total.errors += st.errors
			mu.Unlock()
		})
	}
	var once sync.Once
	stop = func() readStats {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
		mu.Lock()
		defer mu.Unlock()
		if len(bad) > 0 {
			t.Errorf("stream readers found %d broken invariants; first: %v", len(bad), bad[:min(5, len(bad))])
		}
		return total
	}
	t.Cleanup(func() { stop() })
	return stop
}

// brokenInvariant is an invariant a reader found broken.
type brokenInvariant struct{ msg string }

func (b brokenInvariant) Error() string { return b.msg }

func broken(format string, args ...any) error {
	return brokenInvariant{fmt.Sprintf(format, args...)}
}

func readForward(ctx context.Context, s *store.Store, id string) error {
	want := int64(1)
	var lastPos int64
	for ev, err := range s.Stream(ctx, id, 1, 100) {
		if err != nil {
			return err
		}
		if ev.Version != want {
			return broken("forward read of %s: version %d where %d was due", id, ev.Version, want)
		}
		if ev.GlobalPosition <= lastPos {
			return broken("forward read of %s: global position %d after %d", id, ev.GlobalPosition, lastPos)
		}
		want, lastPos = want+1, ev.GlobalPosition
	}
	return nil
}

func readBackward(ctx context.Context, s *store.Store, id string) error {
	info, err := s.StreamInfo(ctx, id)
	if err != nil {
		return err
	}
	recs, err := s.ReadBackward(ctx, id, store.End, 50)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		if info.Version != 0 {
			return broken("backward read of %s: no events, StreamInfo said version %d", id, info.Version)
		}
		return nil
	}
	if recs[0].Version < info.Version {
		return broken("backward read of %s: last event has version %d, StreamInfo said %d before", id, recs[0].Version, info.Version)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Version != recs[i-1].Version-1 {
			return broken("backward read of %s: version %d after %d", id, recs[i].Version, recs[i-1].Version)
		}
	}
	return nil
}
