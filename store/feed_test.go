package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestCheckpointParse(t *testing.T) {
	t.Parallel()
	c := store.Checkpoint{TransactionID: 12345, Position: 678}
	got, err := store.ParseCheckpoint(c.String())
	require.NoError(t, err)
	require.Equal(t, c, got)
	zero, err := store.ParseCheckpoint("0")
	require.NoError(t, err)
	require.Equal(t, store.Checkpoint{}, zero)
	for _, bad := range []string{"x", "1/", "/2", "1/-3", "-1/2", "1/2/3"} {
		_, err := store.ParseCheckpoint(bad)
		require.ErrorIs(t, err, store.ErrInvalidArgument, bad)
	}
	require.True(t, store.Checkpoint{TransactionID: 1, Position: 9}.Less(store.Checkpoint{TransactionID: 2, Position: 1}))
}

func TestFeedReadsAllStreamsInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		_, err := b.store.Append(b.ctx, fmt.Sprintf("s-%d", i%2), store.Any, rawEvents(3, i*3)...)
		require.NoError(t, err)
	}
	// Until transactions of other tests in the cluster that began before
	// these appends end, the feed holds the appends back.
	waitFeed(t, b, 15)
	// The feed's horizon is cluster-wide: a transaction held open by another
	// test on the same server delays it, so poll until everything arrived.
	var got []int
	var cp store.Checkpoint
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < 15 {
		require.True(t, time.Now().Before(deadline), "feed incomplete: %v", got)
		page, err := b.store.ReadFeed(b.admin, cp, store.FeedOptions{Limit: 4})
		require.NoError(t, err)
		if len(page.Events) == 0 {
			require.Equal(t, cp, page.Next)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for _, r := range page.Events {
			require.True(t, cp.Less(r.Checkpoint()))
			cp = r.Checkpoint()
			got = append(got, eventN(t, r))
		}
		require.Equal(t, cp, page.Next)
	}
	require.Len(t, got, 15)
	for i, n := range got {
		require.Equal(t, i, n)
	}
}

// TestFeedNeverSkipsLateCommits holds a transaction open after it appended,
// while other writers commit, and polls the feed throughout: every event is
// seen exactly once, in checkpoint order, the held one included.
func TestFeedNeverSkipsLateCommits(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// The held transaction appends first, so its transaction id is the
	// smallest, but it commits last.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = b.store.Append(store.WithTx(b.ctx, tx), "held", store.NoStream, rawEvents(3, 1_000_000)...)
	require.NoError(t, err)

	const writers, perWriter = 4, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				_, err := b.store.Append(b.ctx, fmt.Sprintf("w-%d", w), store.Any, rawEvent("test_event", w*1000+i))
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}

	seen := map[int]int{}
	var cp store.Checkpoint
	poll := func() {
		page, err := b.store.ReadFeed(b.admin, cp, store.FeedOptions{Limit: 7})
		require.NoError(t, err)
		for _, r := range page.Events {
			require.True(t, cp.Less(r.Checkpoint()), "feed order")
			cp = r.Checkpoint()
			seen[eventN(t, r)]++
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	polling := true
	for polling {
		select {
		case <-done:
			polling = false
		default:
			poll()
		}
	}
	// Everything else committed; the held transaction still hides the rest.
	for range 50 {
		poll()
	}
	require.Empty(t, seen, "nothing after the held transaction may be delivered before it commits")
	require.NoError(t, tx.Commit(b.ctx))

	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < writers*perWriter+3 && time.Now().Before(deadline) {
		poll()
	}
	require.Len(t, seen, writers*perWriter+3)
	for n, c := range seen {
		require.Equal(t, 1, c, "event %d seen %d times", n, c)
	}
}

// filterFixture appends 60 events over two guilds, three stream prefixes
// and three types, plus a non-matching tail, and returns the whole feed.
func filterFixture(t *testing.T, b *bundle) []store.Recorded {
	t.Helper()
	other := store.WithGuild(b.ctx, "guild-2")
	types := []string{"GuessMade", "RoundStarted", "GameEnded"}
	for i := range 60 {
		ctx, stream := b.ctx, fmt.Sprintf("game-%d", i%4)
		if i%5 == 0 {
			ctx, stream = other, fmt.Sprintf("g2-game-%d", i%3)
		}
		if i%7 == 0 {
			stream = "lobby-" + stream
		}
		_, err := b.store.Append(ctx, stream, store.Any, rawEvent(types[i%3], i))
		require.NoError(t, err)
	}
	// A tail no filter below matches.
	_, err := b.store.Append(b.ctx, "tail", store.Any, rawEvents(25, 100)...)
	require.NoError(t, err)
	return feedEvents(t, b, 85)
}

// TestFeedFilters reads the feed through each filter in small pages: only
// matching events come back, in feed order, and the checkpoint ends past
// the non-matching tail.
func TestFeedFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := filterFixture(t, b)
	end := all[len(all)-1].Checkpoint()
	tests := []struct {
		name   string
		filter store.FeedFilter
		match  func(r store.Recorded) bool
	}{
		{"types", store.FeedFilter{EventTypes: []string{"GuessMade", "GameEnded"}},
			func(r store.Recorded) bool { return r.Type == "GuessMade" || r.Type == "GameEnded" }},
		{"stream prefix", store.FeedFilter{StreamPrefix: "lobby-"},
			func(r store.Recorded) bool { return strings.HasPrefix(r.StreamID, "lobby-") }},
		{"guild", store.FeedFilter{GuildID: "guild-2"},
			func(r store.Recorded) bool { return r.GuildID == "guild-2" }},
		{"all three", store.FeedFilter{EventTypes: []string{"RoundStarted"}, StreamPrefix: "g2-", GuildID: "guild-2"},
			func(r store.Recorded) bool { return r.Type == "RoundStarted" && strings.HasPrefix(r.StreamID, "g2-") }},
		{"prefix with LIKE characters", store.FeedFilter{StreamPrefix: "game_%"},
			func(store.Recorded) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []int
			for _, r := range all {
				if tc.match(r) {
					want = append(want, eventN(t, r))
				}
			}
			var (
				got   []int
				cp    store.Checkpoint
				reads int
			)
			for {
				page, err := b.store.ReadFeed(b.admin, cp, store.FeedOptions{Limit: 3, ScanLimit: 8, Filter: tc.filter})
				require.NoError(t, err)
				reads++
				require.False(t, page.Next.Less(cp), "the checkpoint never moves back")
				for _, r := range page.Events {
					require.True(t, cp.Less(r.Checkpoint()))
					cp = r.Checkpoint()
					got = append(got, eventN(t, r))
				}
				require.False(t, page.Next.Less(cp))
				cp = page.Next
				if !page.More {
					break
				}
			}
			require.Equal(t, want, got)
			require.Equal(t, end, cp, "the checkpoint passes the non-matching tail")
			require.LessOrEqual(t, reads, len(all)/8+len(want)/3+2, "bounded work per read")
		})
	}
}

// TestFeedFilterRefusesMalformedText: a NUL byte or invalid UTF-8 in a
// filter's stream prefix or event types is refused as ErrInvalidArgument
// before any SQL, by ReadFeed, Feed and Subscribe.
func TestFeedFilterRefusesMalformedText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stores := map[string]*store.Store{"database": b.store, "no server": offlineStore(t)}
	h := func(context.Context, store.Recorded) error { return nil }
	for _, bad := range []string{"\x00", "\xff", "a\x00b"} {
		for _, tc := range []struct {
			name   string
			filter store.FeedFilter
		}{
			{"stream prefix", store.FeedFilter{StreamPrefix: bad}},
			{"event type", store.FeedFilter{EventTypes: []string{"test_event", bad}}},
		} {
			t.Run(fmt.Sprintf("%s %q", tc.name, bad), func(t *testing.T) {
				for name, s := range stores {
					_, err := s.ReadFeed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 10, Filter: tc.filter})
					require.ErrorIs(t, err, store.ErrInvalidArgument, name)

					var iterErr error
					for _, err := range s.Feed(b.ctx, store.Checkpoint{}, store.FeedOptions{Limit: 10, Filter: tc.filter}) {
						iterErr = err
						break
					}
					require.ErrorIs(t, iterErr, store.ErrInvalidArgument, name)

					sub, err := s.Subscribe(b.ctx, store.SubscriptionOptions{Filter: tc.filter}, h)
					if sub != nil {
						_ = sub.Stop()
					}
					require.ErrorIs(t, err, store.ErrInvalidArgument, name)
					require.Nil(t, sub)
				}
			})
		}
	}
}

// TestFeedFilterSkipsLongStretch puts 500 non-matching events before a
// matching one: each read examines at most ScanLimit rows and returns an
// advancing checkpoint without events, until the match.
func TestFeedFilterSkipsLongStretch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		_, err := b.store.Append(b.ctx, "noise", store.Any, rawEvents(100, i*100)...)
		require.NoError(t, err)
	}
	_, err := b.store.Append(b.ctx, "signal", store.Any, rawEvent("wanted", 500))
	require.NoError(t, err)
	all := feedEvents(t, b, 501)

	opts := store.FeedOptions{Limit: 10, ScanLimit: 50, Filter: store.FeedFilter{EventTypes: []string{"wanted"}}}
	var cp store.Checkpoint
	for i := range 10 {
		page, err := b.store.ReadFeed(b.admin, cp, opts)
		require.NoError(t, err)
		require.Empty(t, page.Events, "read %d", i)
		require.True(t, page.More)
		require.Equal(t, all[(i+1)*50-1].Checkpoint(), page.Next, "read %d advances by ScanLimit rows", i)
		cp = page.Next
	}
	page, err := b.store.ReadFeed(b.admin, cp, opts)
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	require.Equal(t, 500, eventN(t, page.Events[0]))
	require.False(t, page.More)
	require.Equal(t, all[500].Checkpoint(), page.Next)

	// Read again at the end: nothing, and the checkpoint stays.
	page, err = b.store.ReadFeed(b.admin, page.Next, opts)
	require.NoError(t, err)
	require.Empty(t, page.Events)
	require.Equal(t, all[500].Checkpoint(), page.Next)
}

// TestFeedPartitions splits the feed among 3 members: together they read
// every event once, and each stream belongs to one member.
func TestFeedPartitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := filterFixture(t, b)
	owner := map[string]int{}
	seen := map[string]int{}
	for m := range 3 {
		var cp store.Checkpoint
		for {
			page, err := b.store.ReadFeed(b.admin, cp, store.FeedOptions{Limit: 10, Partition: store.FeedPartition{Member: m, Count: 3}})
			require.NoError(t, err)
			for _, r := range page.Events {
				if o, ok := owner[r.StreamID]; ok {
					require.Equal(t, o, m, "stream %s in two partitions", r.StreamID)
				}
				owner[r.StreamID] = m
				seen[r.ID.String()]++
			}
			cp = page.Next
			if !page.More {
				break
			}
		}
	}
	require.Len(t, seen, len(all))
	for id, n := range seen {
		require.Equal(t, 1, n, "event %s", id)
	}

	for _, bad := range []store.FeedPartition{{Member: 3, Count: 3}, {Member: -1, Count: 2}, {Member: 1, Count: 0}, {Member: 0, Count: -2}} {
		_, err := b.store.ReadFeed(b.admin, store.Checkpoint{}, store.FeedOptions{Limit: 1, Partition: bad})
		require.ErrorIs(t, err, store.ErrInvalidArgument, "%+v", bad)
	}
}

// TestSubscriptionFilters subscribes through each filter kind: the handler
// gets only matching events, and the stored checkpoint still advances to
// the last event of the feed.
func TestSubscriptionFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := filterFixture(t, b)
	tests := []struct {
		name   string
		filter store.FeedFilter
		match  func(r store.Recorded) bool
	}{
		{"types", store.FeedFilter{EventTypes: []string{"RoundStarted"}},
			func(r store.Recorded) bool { return r.Type == "RoundStarted" }},
		{"prefix", store.FeedFilter{StreamPrefix: "lobby-"},
			func(r store.Recorded) bool { return strings.HasPrefix(r.StreamID, "lobby-") }},
		{"guild", store.FeedFilter{GuildID: testGuild},
			func(r store.Recorded) bool { return r.GuildID == testGuild }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []int
			for _, r := range all {
				if tc.match(r) {
					want = append(want, eventN(t, r))
				}
			}
			var rec sink
			name := "filter-" + tc.name
			subscribe(t, b.store, b.admin, store.SubscriptionOptions{Name: name, Filter: tc.filter, BatchSize: 4, ScanLimit: 9}, rec.handle)
			require.Equal(t, want, ns(t, rec.waitLen(t, len(want))))
			deadline := time.Now().Add(deliveryLimit)
			for {
				info := stored(t, b, name)
				if info.Checkpoint == all[len(all)-1].Checkpoint() {
					require.EqualValues(t, len(want), info.Handled)
					break
				}
				require.True(t, time.Now().Before(deadline), "checkpoint %s, want %s", info.Checkpoint, all[len(all)-1].Checkpoint())
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestFeedLag holds a transaction open in another database of the cluster:
// the feed holds back events committed after it began, FeedLag counts them,
// and both clear when it ends.
//
// It runs alone (not parallel): the transaction it holds delays the feed of
// every database in the cluster, which would slow this package's other
// feed tests.
func TestFeedLag(t *testing.T) {
	b := setup(t)
	before, err := b.store.FeedEnd(b.ctx)
	require.NoError(t, err)

	admin, err := pgx.Connect(b.ctx, testdb.ServerURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close(t.Context()) })
	tx, err := admin.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	_, err = tx.Exec(b.ctx, "SELECT pg_current_xact_id()") // take a transaction id
	require.NoError(t, err)

	_, err = b.store.Append(b.ctx, "s", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	page, err := b.store.ReadFeed(b.admin, before, store.FeedOptions{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, page.Events, "a transaction in another database holds the feed back")
	lag, err := b.store.FeedLag(b.ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, lag.HeldEvents, int64(3))
	require.GreaterOrEqual(t, lag.HeldFor, 150*time.Millisecond)
	require.NotNil(t, lag.Oldest, "some transaction holds the horizon")
	if lag.Oldest.State != "" { // another role's session shows no state or age without pg_read_all_stats
		require.GreaterOrEqual(t, lag.Oldest.Age, 150*time.Millisecond)
	}

	require.NoError(t, tx.Commit(b.ctx))
	deadline := time.Now().Add(deliveryLimit)
	for {
		lag, err = b.store.FeedLag(b.ctx)
		require.NoError(t, err)
		page, err = b.store.ReadFeed(b.admin, before, store.FeedOptions{Limit: 10})
		require.NoError(t, err)
		if len(page.Events) == 3 && lag.HeldEvents == 0 {
			require.Zero(t, lag.HeldFor)
			require.Regexp(t, `^no event held back; `, lag.String())
			break
		}
		require.True(t, time.Now().Before(deadline), "still held: %+v", lag)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFeedLagNamesBlocker shows the blocking transaction when it runs as the
// reader's own role.
// It runs alone, like TestFeedLag.
func TestFeedLagNamesBlocker(t *testing.T) {
	b := setup(t)
	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	tx, err := conn.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	var pid int
	require.NoError(t, tx.QueryRow(b.ctx, "SELECT pg_backend_pid(), pg_current_xact_id()::text").Scan(&pid, new(string)))
	_, err = b.store.Append(b.ctx, "s", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)

	lag, err := b.store.FeedLag(b.ctx)
	require.NoError(t, err)
	require.Positive(t, lag.Horizon)
	require.GreaterOrEqual(t, lag.HeldEvents, int64(1))
	require.NotNil(t, lag.Oldest)
	// Another test's transaction of the shared cluster may be older still;
	// when ours is the oldest, it is named.
	if lag.Oldest.PID == pid {
		require.Equal(t, "idle in transaction", lag.Oldest.State)
		require.False(t, lag.Oldest.Prepared)
		require.GreaterOrEqual(t, lag.Oldest.Age, 100*time.Millisecond)
		require.NotEmpty(t, lag.Oldest.Database)
		require.Contains(t, lag.String(), fmt.Sprintf("the horizon is held by the transaction of pid %d in database %q (idle in transaction, open ",
			pid, lag.Oldest.Database))
	}
	require.Regexp(t, `^[0-9]+ events? held back for [0-9.]+m?s; the horizon is held by `, lag.String())
}

// TestFeedEnd returns the last deliverable event's checkpoint.
func TestFeedEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cp, err := b.store.FeedEnd(b.ctx)
	require.NoError(t, err)
	require.Equal(t, store.Checkpoint{}, cp)
	_, err = b.store.Append(b.ctx, "s", store.NoStream, rawEvents(4, 0)...)
	require.NoError(t, err)
	all := feedEvents(t, b, 4)
	cp, err = b.store.FeedEnd(b.ctx)
	require.NoError(t, err)
	require.Equal(t, all[3].Checkpoint(), cp)
}

// TestFeedKeepsStreamOrder: a transaction that took its id before another
// writer appended to a stream appends after it all the same, and the feed
// (ordered by feed label, never below a stream's previous one) still shows
// the stream in version order. Nothing is refused or retried.
func TestFeedKeepsStreamOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	older, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = older.Rollback(context.Background()) }()
	var olderXID uint64
	require.NoError(t, older.QueryRow(b.ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&olderXID))

	_, err = b.store.Append(b.ctx, "s", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)
	res, err := b.store.Append(store.WithTx(b.ctx, older), "s", store.Any, rawEvent("test_event", 2))
	require.NoError(t, err)
	require.Equal(t, int64(2), res.Version)
	require.NoError(t, older.Commit(b.ctx))
	_, err = b.store.Append(b.ctx, "s", store.Any, rawEvent("test_event", 3))
	require.NoError(t, err)

	evs := feedEvents(t, b, 3)
	require.Equal(t, []int{1, 2, 3}, ns(t, evs), "the stream in version order")
	require.Greater(t, evs[1].TransactionID, olderXID, "the older transaction's event is labelled after the stream's previous one")
	for i := 1; i < len(evs); i++ {
		require.True(t, evs[i-1].Checkpoint().Less(evs[i].Checkpoint()))
	}
}
