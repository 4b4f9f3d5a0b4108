package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// readAll reads a whole stream through the Stream iterator.
func readAll(ctx context.Context, s *store.Store, streamID string, batch int) ([]store.Recorded, error) {
	var out []store.Recorded
	for r, err := range s.Stream(ctx, streamID, 0, batch) {
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// sameEvents reports how got differs from want ("" when identical), event
// by event, on everything a reader can see.
func sameEvents(want, got []store.Recorded) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Version != g.Version || w.GlobalPosition != g.GlobalPosition || w.TransactionID != g.TransactionID ||
			w.ID != g.ID || w.Type != g.Type || string(w.Data) != string(g.Data) || !w.CreatedAt.Equal(g.CreatedAt) ||
			w.GuildID != g.GuildID || w.StreamID != g.StreamID {
			return fmt.Sprintf("event %d differs: got %+v, want %+v", i, g, w)
		}
	}
	return ""
}

func reversed(recs []store.Recorded) []store.Recorded {
	out := make([]store.Recorded, len(recs))
	for i, r := range recs {
		out[len(recs)-1-i] = r
	}
	return out
}

// countArchived counts a stream's rows in eventstore.events_archive.
func countArchived(t *testing.T, b *bundle, streamID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM eventstore.events_archive WHERE stream_id = $1`, streamID).Scan(&n))
	return n
}

func TestArchiveStreamUnderConcurrentReaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const stream = "game-archived"
	_, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(10_000, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "game-other", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)
	before, err := readAll(b.ctx, b.store, stream, 1000)
	require.NoError(t, err)
	require.Len(t, before, 10_000)
	var feedBefore store.FeedPage
	require.Eventually(t, func() bool { // the feed waits for older transactions of the cluster
		feedBefore, err = b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 1000})
		return err == nil && len(feedBefore.Events) == 1000
	}, 30*time.Second, 10*time.Millisecond)

	// Readers run before, during and after the archive. Each full read must
	// return exactly the original events, and a single-statement probe of
	// the two tables must see the stream either all hot or all archived.
	var (
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		failures  []string
		reads     [6]atomic.Int64
		hotSeen   atomic.Int64
		archSeen  atomic.Int64
		readersUp sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	readers := []func(ctx context.Context) error{
		func(ctx context.Context) error { // the iterator, 1,000 per page
			got, err := readAll(ctx, b.store, stream, 1000)
			if err != nil {
				return err
			}
			if d := sameEvents(before, got); d != "" {
				return fmt.Errorf("stream: %s", d)
			}
			return nil
		},
		func(ctx context.Context) error { // backward pages
			var got []store.Recorded
			for from := store.End; ; {
				page, err := b.store.ReadBackward(ctx, stream, from, 1000)
				if err != nil {
					return err
				}
				got = append(got, page...)
				if len(page) < 1000 || page[len(page)-1].Version == 1 {
					break
				}
				from = page[len(page)-1].Version - 1
			}
			if d := sameEvents(before, reversed(got)); d != "" {
				return fmt.Errorf("backward: %s", d)
			}
			return nil
		},
		func(ctx context.Context) error { // the storage itself, in one statement
			var hot, archived int
			err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM eventstore.events WHERE stream_id = $1),
			                                    (SELECT count(*) FROM eventstore.events_archive WHERE stream_id = $1)`, stream).Scan(&hot, &archived)
			if err != nil {
				return err
			}
			switch {
			case hot == 10_000 && archived == 0:
				hotSeen.Add(1)
			case hot == 0 && archived == 10_000:
				archSeen.Add(1)
			default:
				return fmt.Errorf("probe saw a mix: %d hot, %d archived", hot, archived)
			}
			return nil
		},
	}
	for i := range len(reads) {
		read := readers[i%len(readers)]
		wg.Add(1)
		readersUp.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for {
				if err := read(b.ctx); err != nil {
					fail("%v", err)
				}
				reads[i].Add(1)
				if first {
					readersUp.Done()
					first = false
				}
				if stop.Load() {
					return
				}
			}
		}()
	}
	readersUp.Wait() // every reader has finished a read of the hot stream

	res, err := b.store.ArchiveStream(b.ctx, stream, store.Exact(10_000))
	require.NoError(t, err)
	require.Equal(t, store.ArchiveResult{StreamID: stream, Version: 10_000, EventsArchived: 10_000}, res)

	// Let every reader finish a read that started after the commit: the one
	// in flight may have started before it, the next one did not.
	for i := range reads {
		for after := reads[i].Load(); reads[i].Load() < after+2; {
			time.Sleep(5 * time.Millisecond)
		}
	}
	stop.Store(true)
	wg.Wait()
	require.Empty(t, failures)
	require.Positive(t, hotSeen.Load(), "the probe saw the stream hot")
	require.Positive(t, archSeen.Load(), "the probe saw the stream archived")

	// The hot table no longer holds the stream; the archive holds all of it.
	require.Zero(t, countRows(t, b, stream))
	require.Equal(t, 10_000, countArchived(t, b, stream))
	after, err := readAll(b.ctx, b.store, stream, 777)
	require.NoError(t, err)
	require.Empty(t, sameEvents(before, after))
	last, err := b.store.ReadBackward(b.ctx, stream, store.End, 1)
	require.NoError(t, err)
	require.Equal(t, int64(10_000), last[0].Version)
	page, err := b.store.ReadForward(b.ctx, stream, 4001, 10)
	require.NoError(t, err)
	require.Empty(t, sameEvents(before[4000:4010], page))
	past, err := b.store.ReadForward(b.ctx, stream, 10_001, 10)
	require.NoError(t, err)
	require.Empty(t, past)

	// Read-only.
	_, err = b.store.Append(b.ctx, stream, store.Any, rawEvent("test_event", 1))
	require.ErrorIs(t, err, store.ErrStreamArchived)
	_, err = b.store.ArchiveStream(b.ctx, stream, store.Any)
	require.ErrorIs(t, err, store.ErrStreamArchived)
	info, err := b.store.StreamInfo(b.ctx, stream)
	require.NoError(t, err)
	require.NotNil(t, info.ArchivedAt)
	require.Equal(t, store.StatusArchived, info.Status())
	require.Equal(t, int64(10_000), info.Version)

	// The archive is as immutable as the hot table.
	for _, sql := range []string{
		`UPDATE eventstore.events_archive SET data = '{"n": 0}'`,
		`DELETE FROM eventstore.events_archive`,
		`TRUNCATE eventstore.events_archive`,
		`INSERT INTO eventstore.events_archive SELECT * FROM eventstore.events LIMIT 1`,
	} {
		_, err := b.pool.Exec(b.ctx, sql)
		require.ErrorIs(t, store.MapError(err), store.ErrEventImmutable, sql)
	}

	// The feed: archived events leave it; the rest keeps its order and
	// checkpoints taken before stay valid.
	var feedAfter store.FeedPage
	require.Eventually(t, func() bool {
		feedAfter, err = b.store.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 1000})
		return err == nil && len(feedAfter.Events) >= 5
	}, 30*time.Second, 10*time.Millisecond)
	require.Len(t, feedAfter.Events, 5)
	for i, r := range feedAfter.Events {
		require.Equal(t, "game-other", r.StreamID)
		require.Equal(t, int64(i+1), r.Version)
	}
	mark := feedBefore.Events[len(feedBefore.Events)-1].Checkpoint()
	more, err := b.store.Append(b.ctx, "game-other", store.Exact(5), rawEvent("test_event", 6))
	require.NoError(t, err)
	// The feed shows a commit once every older transaction of the cluster
	// has ended, so wait for it.
	var next store.FeedPage
	require.Eventually(t, func() bool {
		next, err = b.store.ReadFeed(b.ctx, mark, store.FeedOptions{Limit: 1000})
		return err == nil && len(next.Events) == 6
	}, 30*time.Second, 10*time.Millisecond, "the other stream's events after the checkpoint")
	for i, r := range next.Events {
		require.Equal(t, "game-other", r.StreamID)
		require.Equal(t, int64(i+1), r.Version)
	}
	require.Equal(t, more.LastPosition, next.Events[5].GlobalPosition)
}

func TestArchiveBeforeKeepsReadsWhole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const stream = "game-1"
	_, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(1000, 1)...)
	require.NoError(t, err)
	all, err := readAll(b.ctx, b.store, stream, 1000)
	require.NoError(t, err)

	_, err = b.store.ArchiveBefore(b.ctx, stream, 501)
	require.ErrorIs(t, err, store.ErrSnapshotRequired, "no snapshot yet")
	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: stream, Version: 499, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	_, err = b.store.ArchiveBefore(b.ctx, stream, 501)
	require.ErrorIs(t, err, store.ErrSnapshotRequired, "the snapshot does not cover event 500")
	require.Equal(t, 1000, countRows(t, b, stream))

	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: stream, Version: 500, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	res, err := b.store.ArchiveBefore(b.ctx, stream, 501)
	require.NoError(t, err)
	require.Equal(t, int64(500), res.EventsArchived)
	require.Equal(t, 500, countRows(t, b, stream))
	require.Equal(t, 500, countArchived(t, b, stream))

	pages := []struct {
		name    string
		forward bool
		from    int64
		count   int
		want    []store.Recorded
	}{
		{name: "forward from the start", forward: true, from: 0, count: 1000, want: all},
		{name: "forward inside the archive", forward: true, from: 250, count: 100, want: all[249:349]},
		{name: "forward across the boundary", forward: true, from: 451, count: 100, want: all[450:550]},
		{name: "forward in the hot part", forward: true, from: 700, count: 10, want: all[699:709]},
		{name: "backward from the end", forward: false, from: store.End, count: 1000, want: reversed(all)},
		{name: "backward across the boundary", forward: false, from: 600, count: 200, want: reversed(all[400:600])},
		{name: "backward inside the archive", forward: false, from: 300, count: 50, want: reversed(all[250:300])},
		{name: "backward short of the start", forward: false, from: 530, count: 1000, want: reversed(all[:530])},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			var got []store.Recorded
			var err error
			if p.forward {
				got, err = b.store.ReadForward(b.ctx, stream, p.from, p.count)
			} else {
				got, err = b.store.ReadBackward(b.ctx, stream, p.from, p.count)
			}
			require.NoError(t, err)
			require.Empty(t, sameEvents(p.want, got))
		})
	}
	whole, err := readAll(b.ctx, b.store, stream, 300)
	require.NoError(t, err)
	require.Empty(t, sameEvents(all, whole))

	// The stream stays writable.
	_, err = b.store.Append(b.ctx, stream, store.Exact(1000), rawEvent("test_event", 1001))
	require.NoError(t, err)

	// Everything may leave the hot table while the stream stays writable.
	_, err = b.store.ArchiveBefore(b.ctx, stream, 1003)
	require.ErrorIs(t, err, store.ErrInvalidArgument, "past version + 1")
	_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: stream, Version: 1001, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)
	res, err = b.store.ArchiveBefore(b.ctx, stream, 1002)
	require.NoError(t, err)
	require.Equal(t, int64(501), res.EventsArchived)
	require.Zero(t, countRows(t, b, stream))
	tail, err := b.store.ReadForward(b.ctx, stream, 1001, 10)
	require.NoError(t, err)
	require.Len(t, tail, 1)
	require.Equal(t, 1001, eventN(t, tail[0]))
	none, err := b.store.ReadForward(b.ctx, stream, 1002, 10)
	require.NoError(t, err)
	require.Empty(t, none)
	_, err = b.store.Append(b.ctx, stream, store.Exact(1001), rawEvent("test_event", 1002))
	require.NoError(t, err)
	whole, err = readAll(b.ctx, b.store, stream, 1000)
	require.NoError(t, err)
	require.Len(t, whole, 1002)
	require.Equal(t, 1002, eventN(t, whole[1001]))

	// Archiving the rest of a truncated stream makes it read-only.
	res, err = b.store.ArchiveStream(b.ctx, stream, store.Exact(1002))
	require.NoError(t, err)
	require.Equal(t, int64(1), res.EventsArchived)
	whole, err = readAll(b.ctx, b.store, stream, 1000)
	require.NoError(t, err)
	require.Len(t, whole, 1002)
	_, err = b.store.ArchiveBefore(b.ctx, stream, 10)
	require.ErrorIs(t, err, store.ErrStreamArchived)
}

func TestArchiveStreamRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(5, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "gone", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	_, err = b.store.DeleteStream(b.ctx, "gone", store.Any)
	require.NoError(t, err)

	tests := []struct {
		name     string
		ctx      context.Context
		stream   string
		expected store.ExpectedVersion
		wantErr  error
	}{
		{name: "wrong expected version", ctx: b.ctx, stream: "game-1", expected: store.Exact(4), wantErr: store.ErrWrongExpectedVersion},
		{name: "no_stream of an existing stream", ctx: b.ctx, stream: "game-1", expected: store.NoStream, wantErr: store.ErrStreamExists},
		{name: "missing stream", ctx: b.ctx, stream: "nope", expected: store.Any, wantErr: store.ErrStreamNotFound},
		{name: "deleted stream", ctx: b.ctx, stream: "gone", expected: store.Any, wantErr: store.ErrStreamDeleted},
		{name: "another guild", ctx: store.WithGuild(b.ctx, "guild-2"), stream: "game-1", expected: store.Any, wantErr: store.ErrGuildMismatch},
		{name: "invalid expected version", ctx: b.ctx, stream: "game-1", expected: store.Exact(-4), wantErr: store.ErrInvalidExpectedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.store.ArchiveStream(tt.ctx, tt.stream, tt.expected)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	require.Equal(t, 5, countRows(t, b, "game-1"))
	require.Zero(t, countArchived(t, b, "game-1"))
}

// ageStream pretends a stream's last change happened ago in the past.
func ageStream(t *testing.T, b *bundle, streamID string, ago time.Duration) {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, `UPDATE eventstore.streams SET updated_at = now() - make_interval(secs => $2) WHERE stream_id = $1`,
		streamID, ago.Seconds())
	require.NoError(t, err)
}

func TestArchiveCompleted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := store.WithGuild(b.ctx, "guild-2")
	game := func(ctx context.Context, id, lastType string, ago time.Duration) {
		t.Helper()
		_, err := b.store.Append(ctx, id, store.NoStream, rawEvent("game_started", 1), rawEvent(lastType, 2))
		require.NoError(t, err)
		ageStream(t, b, id, ago)
	}
	game(b.ctx, "game-done-old-1", "game_completed", 3*time.Hour)
	game(b.ctx, "game-done-old-2", "game_completed", 2*time.Hour)
	game(b.ctx, "game-abandoned-old", "game_abandoned", 2*time.Hour)
	game(b.ctx, "game-running-old", "round_started", 2*time.Hour)
	game(b.ctx, "game-done-new", "game_completed", 0)
	game(other, "game-done-old-other", "game_completed", 2*time.Hour)
	game(b.ctx, "game-done-deleted", "game_completed", 2*time.Hour)
	_, err := b.store.DeleteStream(b.ctx, "game-done-deleted", store.Any)
	require.NoError(t, err)
	ageStream(t, b, "game-done-deleted", 2*time.Hour)

	ids := func(rs []store.ArchiveResult) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			require.Equal(t, int64(2), r.Version)
			require.Equal(t, int64(2), r.EventsArchived)
			out[i] = r.StreamID
		}
		return out
	}

	// One guild, completed by game_completed, one stream per transaction.
	got, err := b.store.ArchiveCompleted(b.ctx, store.ArchiveCompletedOptions{
		OlderThan: time.Hour, CompletedTypes: []string{"game_completed"}, GuildID: testGuild, BatchSize: 1,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"game-done-old-1", "game-done-old-2"}, ids(got), "oldest first")

	// Every guild, two completion types, capped at one stream.
	got, err = b.store.ArchiveCompleted(b.ctx, store.ArchiveCompletedOptions{
		OlderThan: time.Hour, CompletedTypes: []string{"game_completed", "game_abandoned"}, MaxStreams: 1,
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
	rest, err := b.store.ArchiveCompleted(b.ctx, store.ArchiveCompletedOptions{
		OlderThan: time.Hour, CompletedTypes: []string{"game_completed", "game_abandoned"},
	})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"game-abandoned-old", "game-done-old-other"}, append(ids(got), ids(rest)...))

	// Idle streams, whatever their last event.
	got, err = b.store.ArchiveCompleted(b.ctx, store.ArchiveCompletedOptions{OlderThan: time.Hour, AnyLastEvent: true})
	require.NoError(t, err)
	require.Equal(t, []string{"game-running-old"}, ids(got))

	for id, want := range map[string]store.StreamStatus{
		"game-done-old-1": store.StatusArchived, "game-done-old-2": store.StatusArchived,
		"game-abandoned-old": store.StatusArchived, "game-done-old-other": store.StatusArchived,
		"game-running-old": store.StatusArchived, "game-done-new": store.StatusActive,
		"game-done-deleted": store.StatusDeleted,
	} {
		info, err := b.store.StreamInfo(b.admin, id)
		require.NoError(t, err)
		require.Equal(t, want, info.Status(), id)
	}
	recs, err := b.store.ReadForward(b.ctx, "game-done-old-1", 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "game_completed", recs[1].Type)

	// Zero age: the new game is completed, so it goes too.
	got, err = b.store.ArchiveCompleted(b.ctx, store.ArchiveCompletedOptions{CompletedTypes: []string{"game_completed"}})
	require.NoError(t, err)
	require.Equal(t, []string{"game-done-new"}, ids(got))

	bad := []struct {
		name string
		opts store.ArchiveCompletedOptions
	}{
		{name: "no completion rule", opts: store.ArchiveCompletedOptions{OlderThan: time.Hour}},
		{name: "both completion rules", opts: store.ArchiveCompletedOptions{CompletedTypes: []string{"x"}, AnyLastEvent: true}},
		{name: "negative age", opts: store.ArchiveCompletedOptions{OlderThan: -time.Second, AnyLastEvent: true}},
		{name: "negative batch", opts: store.ArchiveCompletedOptions{AnyLastEvent: true, BatchSize: -1}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.store.ArchiveCompleted(b.ctx, tt.opts)
			require.ErrorIs(t, err, store.ErrInvalidArgument)
		})
	}
}

func TestArchiveCompletedSkipsStreamsBeingWritten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"game-a", "game-b"} {
		_, err := b.store.Append(b.ctx, id, store.NoStream, rawEvent("game_completed", 1))
		require.NoError(t, err)
		ageStream(t, b, id, time.Hour)
	}
	// A transaction holds game-a's row, as an append in flight does.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) }()
	_, err = tx.Exec(b.ctx, `SELECT 1 FROM eventstore.streams WHERE stream_id = 'game-a' FOR UPDATE`)
	require.NoError(t, err)

	done := make(chan []store.ArchiveResult, 1)
	go func() {
		got, err := b.store.ArchiveCompleted(b.ctx, store.ArchiveCompletedOptions{OlderThan: time.Minute, CompletedTypes: []string{"game_completed"}})
		if err != nil {
			t.Errorf("archive completed: %v", err)
		}
		done <- got
	}()
	select {
	case got := <-done:
		require.Len(t, got, 1)
		require.Equal(t, "game-b", got[0].StreamID)
	case <-time.After(10 * time.Second):
		t.Fatal("ArchiveCompleted waited for a locked stream instead of skipping it")
	}
	require.NoError(t, tx.Rollback(b.ctx))
	info, err := b.store.StreamInfo(b.ctx, "game-a")
	require.NoError(t, err)
	require.Equal(t, store.StatusActive, info.Status())
}

// TestArchivedEventIDsStayTaken: an event id moved to the archive is still
// stored. An append naming it is an exact replay where the rule says so and
// ErrDuplicateEvent everywhere else, with nothing stored, on every path:
// alone with or without coalescing, in a caller's transaction, and in a
// coalesced statement (append_batch) next to another call.
func TestArchivedEventIDsStayTaken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  store.Config
	}{{"coalescing", store.Config{}}, {"alone", store.Config{DisableCoalescing: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.cfg)
			const stream = "game-1"
			evs := rawEvents(3, 1)
			for i := range evs {
				evs[i].ID = uuid.New()
			}
			first, err := b.store.Append(b.ctx, stream, store.NoStream, evs[:2]...)
			require.NoError(t, err)
			_, err = b.store.Append(b.ctx, stream, store.Exact(2), evs[2])
			require.NoError(t, err)
			_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: stream, Version: 2, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
			require.NoError(t, err)
			res, err := b.store.ArchiveBefore(b.ctx, stream, 3)
			require.NoError(t, err)
			require.Equal(t, int64(2), res.EventsArchived)

			// A replay of the archived batch returns its original result.
			got, err := b.store.Append(b.ctx, stream, store.Any, evs[:2]...)
			require.NoError(t, err)
			require.Equal(t, first, got)
			got, err = b.store.Append(b.ctx, stream, store.Exact(0), evs[:2]...)
			require.NoError(t, err)
			require.Equal(t, first, got)
			got, err = b.store.Append(b.ctx, stream, store.Any, evs[1])
			require.NoError(t, err)
			require.Equal(t, store.AppendResult{StreamID: stream, Version: 2, FirstPosition: first.LastPosition, LastPosition: first.LastPosition}, got)

			// Anything else that names an archived id is a duplicate.
			refused := []struct {
				stream   string
				expected store.ExpectedVersion
				events   []store.Event
			}{
				{stream, store.Exact(3), evs[:2]},
				{stream, store.Exact(3), evs[1:2]},
				{stream, store.Any, []store.Event{evs[1], evs[0]}},
				{"game-2", store.NoStream, evs[:1]},
				{"game-2", store.Any, evs[:2]},
			}
			for _, r := range refused {
				_, err := b.store.Append(b.ctx, r.stream, r.expected, r.events...)
				require.ErrorIs(t, err, store.ErrDuplicateEvent, "%s at %s", r.stream, r.expected)
				err = b.store.InTx(b.ctx, func(ctx context.Context) error {
					_, err := b.store.Append(ctx, r.stream, r.expected, r.events...)
					return err
				})
				require.ErrorIs(t, err, store.ErrDuplicateEvent, "in a transaction: %s at %s", r.stream, r.expected)
			}
			require.Equal(t, 1, countRows(t, b, stream))
			require.Equal(t, 2, countArchived(t, b, stream))
			require.Equal(t, 0, countRows(t, b, "game-2"))

			// In one coalesced statement, next to a call that succeeds.
			_, err = b.store.Append(b.ctx, "game-3", store.NoStream, rawEvents(1, 10)...)
			require.NoError(t, err)
			rows, err := b.pool.Query(b.ctx, `SELECT coalesce(r.error_code, ''), coalesce(r.new_version, 0)
  FROM eventstore.append_batch($1, ARRAY['game-1', 'game-3'], ARRAY[3, 1]::bigint[], ARRAY[1, 1],
       ARRAY[$2::uuid, $3::uuid], ARRAY['test_event', 'test_event'], ARRAY[1, 1], ARRAY['{}', '{}']::jsonb[]) AS r
 ORDER BY r.call_index`, testGuild, evs[1].ID, uuid.New())
			require.NoError(t, err)
			type outcome struct {
				Code    string
				Version int64
			}
			outs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[outcome])
			require.NoError(t, err)
			require.Equal(t, []outcome{{"ES007", 0}, {"", 2}}, outs)
			require.Equal(t, 1, countRows(t, b, stream))
		})
	}
}

// TestArchivingRacesNoDuplicate: an event id that another stream's
// archiving moves while an append of it waits is still refused. The append
// meets the moving row in the unique index of eventstore.events, waits for
// the archiving to commit and then finds the index free, the id now sitting
// in eventstore.events_archive, which that index does not cover; the
// archive lookup must come after the insert to see it. Checked for a single
// append (the store's lean path, coalescing on and off) and for
// append_batch's fast path.
func TestArchivingRacesNoDuplicate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   store.Config
		batch bool
	}{
		{"coalescing", store.Config{}, false},
		{"alone", store.Config{DisableCoalescing: true}, false},
		{"append_batch", store.Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.cfg)
			evs := rawEvents(3, 1)
			for i := range evs {
				evs[i].ID = uuid.New()
			}
			moving := evs[0].ID
			_, err := b.store.Append(b.ctx, "game-old", store.NoStream, evs...)
			require.NoError(t, err)
			_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: "game-old", Version: 2, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
			require.NoError(t, err)
			// The appends go to existing streams: a new stream's first
			// append takes the full path, which looks at both tables at once.
			for _, id := range []string{"game-new", "game-other"} {
				_, err = b.store.Append(b.ctx, id, store.NoStream, rawEvents(1, 10)...)
				require.NoError(t, err)
			}

			// The archiving moves the id and stays open.
			tx, err := b.pool.Begin(b.ctx)
			require.NoError(t, err)
			t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
			var moved int64
			require.NoError(t, tx.QueryRow(b.ctx, `SELECT r.events_archived FROM eventstore.archive_stream('game-old', -1, 3, $1) AS r`,
				testGuild).Scan(&moved))
			require.Equal(t, int64(2), moved)

			dup := rawEvent("test_event", 20)
			dup.ID = moving
			done := make(chan error, 1)
			go func() {
				if !tc.batch {
					_, err := b.store.Append(b.ctx, "game-new", store.Exact(1), dup)
					done <- err
					return
				}
				rows, err := b.pool.Query(b.ctx, `SELECT r.call_index FROM eventstore.append_batch($1,
       ARRAY['game-new', 'game-other'], ARRAY[1, 1]::bigint[], ARRAY[1, 1], ARRAY[$2::uuid, $3::uuid],
       ARRAY['test_event', 'test_event'], ARRAY[1, 1], ARRAY['{}', '{}']::jsonb[]) AS r`, testGuild, moving, uuid.New())
				if err == nil {
					_, err = pgx.CollectRows(rows, pgx.RowTo[int32])
				}
				done <- err
			}()
			// The append waits on the moving row in the unique index.
			waitLockWaiters(t, b.pool, 1)
			require.Empty(t, done, "the append returned before the archiving committed")
			require.NoError(t, tx.Commit(b.ctx))

			err = <-done
			if tc.batch {
				// The statement fails as a whole (the store then sends each
				// call alone), with nothing stored.
				var pgErr *pgconn.PgError
				require.ErrorAs(t, err, &pgErr)
				require.Equal(t, "23505", pgErr.Code)
				require.Equal(t, 1, countRows(t, b, "game-other"))
			} else {
				require.ErrorIs(t, err, store.ErrDuplicateEvent)
			}
			require.Equal(t, 1, countRows(t, b, "game-new"))
			var copies int
			require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT (SELECT count(*) FROM eventstore.events WHERE event_id = $1)
     + (SELECT count(*) FROM eventstore.events_archive WHERE event_id = $1)`, moving).Scan(&copies))
			require.Equal(t, 1, copies, "the id is stored once")
		})
	}
}
