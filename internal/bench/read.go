package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// readStreamEvents is the length of read_stream's stream (the store's
	// default stream limit); a smoke run (Scale < 1) shortens it.
	readStreamEvents = 10_000
	// readBatch is the page size of every read scenario.
	readBatch = 1000
	// feedEvents is feed_catchup's size at scale 1.
	feedEvents = 100_000
	// readStreamPasses and feedPasses are how many times a measured repeat
	// of a typed read reads the fixture at scale 1: a few seconds per
	// repeat, so that a short stall of the machine weighs less in it. The
	// raw reads (read_stream_raw, feed_catchup) take about half the time a
	// pass, and read it twice as many times (rawPassFactor): 5–8.5 s a
	// repeat instead of 2.5–3.7 on the machine of docs/PERFORMANCE.md.
	readStreamPasses = 48
	feedPasses       = 6
	rawPassFactor    = 2
)

// readPasses returns how many passes a measured repeat of a read scenario
// makes at the runner's scale, typed or raw.
func (r *runner) readPasses(typedPasses int, typed bool) int {
	if !typed {
		typedPasses *= rawPassFactor
	}
	return r.scaled(typedPasses, 1)
}

// eventColumns are the columns the store reads, in its order.
const eventColumns = `global_position, transaction_id, stream_id, stream_version, event_id, event_type, event_version,
       guild_id, data, metadata, causation_id, correlation_id, created_at`

// fill appends count typed events to a new stream, in calls of 1000.
func (r *runner) fill(ctx context.Context, stream string, count int) error {
	ctx = store.WithGuild(ctx, Guild)
	for v := 0; v < count; v += readBatch {
		evs := make([]store.Event, min(readBatch, count-v))
		for i := range evs {
			evs[i] = StoreEvent(stream, v+i)
		}
		if _, err := r.typed.Append(ctx, stream, store.Exact(int64(v)), evs...); err != nil {
			return fmt.Errorf("fill %s: %w", stream, err)
		}
	}
	return nil
}

// readStreamFixture returns the 10,000-event stream the read scenarios
// share, appending it on first use.
func (r *runner) readStreamFixture(ctx context.Context) (string, error) {
	if r.readStreamID == "" {
		id := r.tag + "-read"
		r.logf("read_stream: appending the %d-event fixture stream", r.streamEvents)
		if err := r.fill(ctx, id, r.streamEvents); err != nil {
			return "", err
		}
		r.readStreamID = id
	}
	return r.readStreamID, nil
}

// readStreamOurs reads the stream (of count events) passes times with
// Store.Stream; typed checks that every event decoded to its Go type.
func readStreamOurs(ctx context.Context, s *store.Store, id string, count, passes int, typed bool) (sample, error) {
	start := time.Now()
	n := 0
	for range passes {
		seen := 0
		for rec, err := range s.Stream(ctx, id, 0, readBatch) {
			if err != nil {
				return sample{}, err
			}
			if _, ok := rec.Event.(events.GuessProcessed); typed && !ok {
				return sample{}, fmt.Errorf("read %s: event %d decoded to %T, want events.GuessProcessed", id, rec.Version, rec.Event)
			}
			seen++
		}
		if seen != count {
			return sample{}, fmt.Errorf("read %s: %d events, want %d", id, seen, count)
		}
		n += seen
	}
	return sample{events: n, elapsed: time.Since(start)}, nil
}

// readStreamBaseline reads the same rows with a plain SELECT per page,
// copying every column's bytes.
func (r *runner) readStreamBaseline(ctx context.Context, id string, passes int) (sample, error) {
	const q = `SELECT ` + eventColumns + ` FROM eventstore.events
 WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3`
	start := time.Now()
	n := 0
	for range passes {
		seen := 0
		for from := int64(1); ; {
			rows, err := r.pool.Query(ctx, q, id, from, readBatch)
			if err != nil {
				return sample{}, fmt.Errorf("baseline read: %w", err)
			}
			page, last, err := scanBytes(rows, 3) // stream_version
			if err != nil {
				return sample{}, fmt.Errorf("baseline read: %w", err)
			}
			seen += len(page)
			if len(page) < readBatch {
				break
			}
			from = int64(last[0]) + 1
		}
		if seen != r.streamEvents {
			return sample{}, fmt.Errorf("baseline read %s: %d events, want %d", id, seen, r.streamEvents)
		}
		n += seen
	}
	return sample{events: n, elapsed: time.Since(start)}, nil
}

// scanBytes copies each row's raw column values into one byte slice per row
// and returns the rows and the last row's integer key columns (decoded from
// text or binary).
func scanBytes(rows pgx.Rows, keys ...int) ([][]byte, []uint64, error) {
	defer rows.Close()
	var page [][]byte
	last := make([]uint64, len(keys))
	for rows.Next() {
		vals := rows.RawValues()
		size := 0
		for _, v := range vals {
			size += len(v)
		}
		b := make([]byte, 0, size)
		for _, v := range vals {
			b = append(b, v...)
		}
		page = append(page, b)
		for i, k := range keys {
			v, err := rawUint(rows.FieldDescriptions()[k], vals[k])
			if err != nil {
				return nil, nil, err
			}
			last[i] = v
		}
	}
	return page, last, rows.Err()
}

// rawUint decodes an integer column (int8, xid8) in either wire format.
func rawUint(fd pgconn.FieldDescription, b []byte) (uint64, error) {
	if fd.Format == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("column %s: %d bytes, want 8", fd.Name, len(b))
		}
		return binary.BigEndian.Uint64(b), nil
	}
	return strconv.ParseUint(string(b), 10, 64)
}

func readStreamTyped(ctx context.Context, r *runner) (Result, error) {
	return r.readStream(ctx, "read_stream", r.typed, true, &Target{Op: ">=", Value: 0.7})
}

func readStreamRaw(ctx context.Context, r *runner) (Result, error) {
	return r.readStream(ctx, "read_stream_raw", r.raw, false, &Target{Op: ">=", Value: 0.9})
}

func (r *runner) readStream(ctx context.Context, name string, s *store.Store, typed bool, target *Target) (Result, error) {
	id, err := r.readStreamFixture(ctx)
	if err != nil {
		return Result{}, err
	}
	passes := r.readPasses(readStreamPasses, typed)
	ours := func(ctx context.Context, rep int) (sample, error) {
		return readStreamOurs(ctx, s, id, r.streamEvents, passesFor(rep, passes), typed)
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return r.readStreamBaseline(ctx, id, passesFor(rep, passes))
	}
	o, b, err := r.compare(ctx, name, ours, base)
	if err != nil {
		return Result{}, err
	}
	what := "Store.Stream, batch 1000, typed decode to events.GuessProcessed"
	if !typed {
		what = "Store.Stream, batch 1000, no decoding (serde.Passthrough)"
	}
	params := map[string]any{"stream_events": r.streamEvents, "batch": readBatch, "passes": passes, "typed": typed}
	return rateResult(params, measureOf(what, o),
		measureOf("plain SELECT of the same rows, batch 1000, every column copied as bytes", b), target), nil
}

// passesFor returns the passes of repeat rep (one for the warm-up).
func passesFor(rep, passes int) int {
	if rep < 0 {
		return 1
	}
	return passes
}

// feedFixture is feed_catchup's events: the count after a checkpoint.
type feedFixture struct {
	after  store.Checkpoint
	events int
}

// feedFixture appends feed_catchup's events on first use: streams of 1000
// typed events, two writers.
func (r *runner) feedFixture(ctx context.Context) (*feedFixture, error) {
	if r.feed != nil {
		return r.feed, nil
	}
	n := r.scaled(feedEvents/readBatch, 1) * readBatch
	fx := &feedFixture{events: n}
	err := r.pool.QueryRow(ctx, `SELECT transaction_id, global_position FROM eventstore.events
 ORDER BY transaction_id DESC, global_position DESC LIMIT 1`).Scan(&fx.after.TransactionID, &fx.after.Position)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("feed fixture: %w", err)
	}
	r.logf("feed_catchup: appending %d events", n)
	streams := n / readBatch
	_, err = runWriters(ctx, 2, func(ctx context.Context, w int) error {
		for k := w; k < streams; k += 2 {
			if err := r.fill(ctx, fmt.Sprintf("%s-feed-%d", r.tag, k), readBatch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The feed delivers an event once every older transaction of the
	// cluster has ended; wait for that, so that a busy cluster cannot make
	// a measured read stop short.
	if err := waitFeedCurrent(ctx, r.raw); err != nil {
		return nil, fmt.Errorf("feed fixture: %w", err)
	}
	r.feed = fx
	return fx, nil
}

// waitFeedCurrent waits until the feed holds none of the database's
// committed events back (at most a minute).
func waitFeedCurrent(ctx context.Context, s *store.Store) error {
	deadline := time.Now().Add(time.Minute)
	for {
		lag, err := s.FeedLag(ctx)
		if err != nil {
			return err
		}
		if lag.HeldEvents == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the feed still holds %d events back after a minute", lag.HeldEvents)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// feedOurs reads count events of the feed after from with Store.ReadFeed;
// typed checks that every event decoded to its Go type.
func feedOurs(ctx context.Context, s *store.Store, from store.Checkpoint, count int, typed bool) (sample, error) {
	start := time.Now()
	n := 0
	for cp := from; n < count; {
		page, err := s.ReadFeed(ctx, cp, store.FeedOptions{Limit: min(readBatch, count-n)})
		if err != nil {
			return sample{}, err
		}
		if len(page.Events) == 0 {
			return sample{}, fmt.Errorf("feed ended after %d of %d events", n, count)
		}
		if _, ok := page.Events[0].Event.(events.GuessProcessed); typed && !ok {
			return sample{}, fmt.Errorf("feed event %d decoded to %T, want events.GuessProcessed", page.Events[0].GlobalPosition, page.Events[0].Event)
		}
		n += len(page.Events)
		cp = page.Next
	}
	return sample{events: n, elapsed: time.Since(start)}, nil
}

// feedBaseline reads the same rows with a plain keyset SELECT ordered by
// (transaction_id, global_position), copying every column's bytes.
func (r *runner) feedBaseline(ctx context.Context, from store.Checkpoint, count int) (sample, error) {
	const q = `SELECT ` + eventColumns + ` FROM eventstore.events
 WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
 ORDER BY transaction_id, global_position LIMIT $3`
	start := time.Now()
	n := 0
	tx, pos := from.TransactionID, from.Position
	for n < count {
		rows, err := r.pool.Query(ctx, q, tx, pos, min(readBatch, count-n))
		if err != nil {
			return sample{}, fmt.Errorf("baseline feed: %w", err)
		}
		page, last, err := scanBytes(rows, 1, 0) // transaction_id, global_position
		if err != nil {
			return sample{}, fmt.Errorf("baseline feed: %w", err)
		}
		if len(page) == 0 {
			return sample{}, fmt.Errorf("baseline feed ended after %d of %d events", n, count)
		}
		n += len(page)
		tx, pos = last[0], int64(last[1])
	}
	return sample{events: n, elapsed: time.Since(start)}, nil
}

// feedCatchupRaw reads the feed with the store's default serializer
// (serde.Passthrough: events stay JSON), the feed machinery alone.
func feedCatchupRaw(ctx context.Context, r *runner) (Result, error) {
	return r.feedCatchup(ctx, "feed_catchup", r.raw, false, &Target{Op: ">=", Value: 0.9})
}

// feedCatchupTyped reads the feed decoding every event to its Go type; its
// target is read_stream's, the typed-decode target.
func feedCatchupTyped(ctx context.Context, r *runner) (Result, error) {
	return r.feedCatchup(ctx, "feed_catchup_typed", r.typed, true, &Target{Op: ">=", Value: 0.6})
}

func (r *runner) feedCatchup(ctx context.Context, name string, s *store.Store, typed bool, target *Target) (Result, error) {
	fx, err := r.feedFixture(ctx)
	if err != nil {
		return Result{}, err
	}
	passes := r.readPasses(feedPasses, typed)
	ours := func(ctx context.Context, rep int) (sample, error) {
		return repeatSample(passesFor(rep, passes), func() (sample, error) {
			return feedOurs(ctx, s, fx.after, warmCount(rep, fx.events), typed)
		})
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return repeatSample(passesFor(rep, passes), func() (sample, error) {
			return r.feedBaseline(ctx, fx.after, warmCount(rep, fx.events))
		})
	}
	o, b, err := r.compare(ctx, name, ours, base)
	if err != nil {
		return Result{}, err
	}
	what := "Store.ReadFeed from a checkpoint, batch 1000, no decoding (serde.Passthrough, the default)"
	if typed {
		what = "Store.ReadFeed from a checkpoint, batch 1000, typed decode to events.GuessProcessed"
	}
	params := map[string]any{"events": fx.events, "batch": readBatch, "passes": passes, "typed": typed}
	return rateResult(params, measureOf(what, o),
		measureOf("plain keyset SELECT ordered by (transaction_id, global_position), batch 1000, every column copied as bytes", b),
		target), nil
}

// repeatSample runs one side's pass passes times, as one sample.
func repeatSample(passes int, pass func() (sample, error)) (sample, error) {
	var total sample
	for range passes {
		s, err := pass()
		if err != nil {
			return sample{}, err
		}
		total.events += s.events
		total.elapsed += s.elapsed
		total.latencies = append(total.latencies, s.latencies...)
	}
	return total, nil
}

// warmCount returns the event count of repeat rep (a tenth for the warm-up).
func warmCount(rep, count int) int {
	if rep < 0 {
		return max(1, count/10)
	}
	return count
}
