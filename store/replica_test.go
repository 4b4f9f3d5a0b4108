package store_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/devdb"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// replicaBundle is a store whose reads go to the test server's hot standby,
// on a fresh database replicated there.
type replicaBundle struct {
	*bundle
	standby *pgxpool.Pool // the test database on the standby
	db      *testdb.Replicated
}

// setupReplica returns a store reading from the standby once the standby is
// in use.
func setupReplica(t *testing.T, cfgs ...store.Config) *replicaBundle {
	t.Helper()
	rdb := testdb.NewReplicated(t)
	var cfg store.Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	cfg.Replicas.Pools = []*pgxpool.Pool{rdb.Standby}
	s := store.New(rdb.Pool, cfg)
	t.Cleanup(s.Close)
	b := &bundle{store: s, pool: rdb.Pool, ctx: store.WithGuild(t.Context(), testGuild)}
	waitReplicaHealthy(t, s)
	return &replicaBundle{bundle: b, standby: rdb.Standby, db: rdb}
}

func waitReplicaHealthy(t *testing.T, s *store.Store) {
	t.Helper()
	require.Eventually(t, func() bool {
		st := s.Stats().Replicas
		return len(st) == 1 && st[0].Healthy
	}, 30*time.Second, 5*time.Millisecond, "the standby never became healthy: %+v", s.Stats().Replicas)
}

// TestReplicaFeedOrderOnStandby holds transactions open on the primary while
// later ones commit, and reads the feed from the standby throughout: the
// standby's horizon (pg_snapshot_xmin of its snapshot) holds the later
// commits back until the held transactions end, so the reader never passes
// the late commits and sees every event once, in feed order.
func TestReplicaFeedOrderOnStandby(t *testing.T) {
	t.Parallel()
	rb := setupReplica(t)
	ctx := rb.ctx

	// One held transaction takes its transaction id without writing
	// anything yet (the standby learns of it only from later records), the
	// other appends at once; both commit after everything else.
	idOnly, err := rb.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = idOnly.Rollback(context.WithoutCancel(ctx)) }()
	var idOnlyXid uint64
	require.NoError(t, idOnly.QueryRow(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&idOnlyXid))
	appended, err := rb.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = appended.Rollback(context.WithoutCancel(ctx)) }()
	_, err = rb.store.Append(store.WithTx(ctx, appended), "held-append", store.NoStream, rawEvent("held", 1))
	require.NoError(t, err)

	const later = 20
	for i := range later {
		_, err := rb.store.Append(ctx, fmt.Sprintf("later-%d", i%4), store.Any, rawEvent("later", i))
		require.NoError(t, err)
	}
	// The standby has replayed the later commits...
	testdb.WaitReplayed(t, rb.pool, testdb.StandbyServerURL(t))
	// ...and yet its feed delivers none of them while the held
	// transactions run. (The reader is a store of its own: the writer's
	// feed reads would also wait for the standby to replay its appends.
	// It keeps using the standby however far behind it falls while the
	// other tests load the server.)
	reader := store.New(rb.pool, store.Config{Replicas: store.ReplicaConfig{Pools: []*pgxpool.Pool{rb.standby}, MaxLag: time.Hour}})
	t.Cleanup(reader.Close)
	waitReplicaHealthy(t, reader)
	page, err := reader.ReadFeed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 100})
	require.NoError(t, err)
	require.Empty(t, page.Events, "the standby's feed passed a transaction still open on the primary")

	// A reader follows the feed from the standby while the held
	// transactions commit, the one without events last.
	var (
		seen []store.Recorded
		cp   store.Checkpoint
	)
	read := func() {
		page, err := reader.ReadFeed(ctx, cp, store.FeedOptions{Limit: 7})
		require.NoError(t, err)
		for _, r := range page.Events {
			require.True(t, cp.Less(r.Checkpoint()), "feed order broken at %s after %s", r.Checkpoint(), cp)
			cp = r.Checkpoint()
			seen = append(seen, r)
		}
	}
	read()
	_, err = rb.store.Append(store.WithTx(ctx, idOnly), "held-id", store.NoStream, rawEvent("held", 2))
	require.NoError(t, err)
	read()
	require.NoError(t, appended.Commit(ctx))
	read()
	require.NoError(t, idOnly.Commit(ctx))
	require.Eventually(t, func() bool { read(); return len(seen) >= later+2 }, deliveryLimit, 5*time.Millisecond,
		"the standby's feed delivered %d of %d events", len(seen), later+2)
	require.Len(t, seen, later+2, "an event was delivered twice")

	// The held transactions' events come first: they have the oldest
	// transaction ids, and no reader ever passed them.
	require.Equal(t, "held-id", seen[0].StreamID, "the transaction that took its id first comes first")
	require.Equal(t, idOnlyXid, seen[0].TransactionID)
	require.Equal(t, "held-append", seen[1].StreamID)
	versions := map[string]int64{}
	for _, r := range seen[2:] {
		require.Equal(t, "later", r.Type)
		versions[r.StreamID]++
		require.Equal(t, versions[r.StreamID], r.Version, "stream %s out of order", r.StreamID)
	}
	st := reader.Stats()
	require.Positive(t, st.Replicas[0].Reads, "the standby served the feed")
	require.Zero(t, st.PrimaryReads, "every feed read went to the standby")
}

// pairBundle is a store on a primary and hot standby of the test's own,
// which the test may pause, stop or promote.
type pairBundle struct {
	pair    *devdb.Pair
	store   *store.Store
	primary *pgxpool.Pool
	standby *pgxpool.Pool
	admin   *pgxpool.Pool // the standby as superuser
	ctx     context.Context
}

// pauseReplay pauses the standby's replay and waits until it has paused.
func (pb *pairBundle) pauseReplay(t *testing.T) {
	t.Helper()
	_, err := pb.admin.Exec(pb.ctx, "SELECT pg_wal_replay_pause()")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var state string
		require.NoError(t, pb.admin.QueryRow(pb.ctx, "SELECT pg_get_wal_replay_pause_state()").Scan(&state))
		return state == "paused"
	}, 10*time.Second, 5*time.Millisecond)
}

// setupPair migrates the pair's postgres database and returns a store that
// reads from its standby; primaryURL, when set, replaces the primary's URL
// (for a multi-host URL).
func setupPair(t *testing.T, cfg store.Config, primaryURL func(*devdb.Pair) string) *pairBundle {
	t.Helper()
	pair := devdb.StartPair(t)
	ctx := store.WithGuild(t.Context(), testGuild)
	migrator := testdb.Connect(t, pair.PrimaryURL)
	_, err := store.Migrate(ctx, migrator)
	require.NoError(t, err)
	testdb.WaitReplayed(t, migrator, pair.StandbyURL)
	u := pair.PrimaryURL
	if primaryURL != nil {
		u = primaryURL(pair)
	}
	pb := &pairBundle{
		pair: pair, primary: testdb.Connect(t, u), standby: testdb.Connect(t, pair.StandbyURL),
		admin: testdb.Connect(t, pair.StandbyURL), ctx: ctx,
	}
	cfg.Replicas.Pools = []*pgxpool.Pool{pb.standby}
	pb.store = store.New(pb.primary, cfg)
	t.Cleanup(pb.store.Close)
	waitReplicaHealthy(t, pb.store)
	return pb
}

// TestReplicaHealth pauses the standby's replay, then stops and restarts
// the standby: reads that must see a write fall back to the primary within
// MaxWait, a standby past MaxLag or unreachable is skipped (Stats says why
// and how far behind it is), reads never fail, and they return to the
// standby once it has caught up.
func TestReplicaHealth(t *testing.T) {
	t.Parallel()
	const (
		// Long enough that nothing but the paused replay puts the standby
		// past it: between the pause and the read that must fall back,
		// other tests' writes pile up WAL the standby cannot replay, and a
		// loaded machine may take hundreds of milliseconds there.
		maxLag  = 3 * time.Second
		maxWait = 100 * time.Millisecond
	)
	pb := setupPair(t, store.Config{Replicas: store.ReplicaConfig{MaxLag: maxLag, MaxWait: maxWait, CheckInterval: 20 * time.Millisecond}}, nil)
	s, ctx := pb.store, pb.ctx
	n := 0
	// appendAndRead appends to a stream and reads it back (the store's
	// own write: the read must see it), returning how long the read took.
	appendAndRead := func(t *testing.T) time.Duration {
		t.Helper()
		n++
		id := fmt.Sprintf("health-%d", n%7)
		res, err := s.Append(ctx, id, store.Any, rawEvent("e", n))
		require.NoError(t, err)
		start := time.Now()
		recs, err := s.ReadBackward(ctx, id, store.End, 1)
		took := time.Since(start)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		require.Equal(t, res.Version, recs[0].Version, "the read missed the store's own append")
		return took
	}
	replica := func() store.ReplicaStats { return s.Stats().Replicas[0] }

	t.Run("replay paused", func(t *testing.T) {
		// (Under load a read may still fall back now and then: the standby
		// may take longer than MaxWait to replay.)
		readsFromStandby := func() bool {
			before := replica().Reads
			appendAndRead(t)
			return replica().Reads > before
		}
		require.Eventually(t, readsFromStandby, 30*time.Second, 5*time.Millisecond, "the standby serves reads while healthy")

		pb.pauseReplay(t)

		// The standby cannot replay the append: the read waits at most
		// MaxWait, then the primary serves it.
		fallbacks := replica().Fallbacks
		took := appendAndRead(t)
		require.Less(t, took, maxWait+time.Second, "the read took %s to fall back", took)
		require.Greater(t, replica().Fallbacks, fallbacks)

		// As WAL piles up, the standby falls past MaxLag and is skipped.
		require.Eventually(t, func() bool {
			appendAndRead(t)
			st := replica()
			return !st.Healthy && st.Lag > maxLag && st.ReplayPaused && st.LagBytes > 0
		}, 30*time.Second, 10*time.Millisecond, "the paused standby was never skipped: %+v", replica())
		st := replica()
		require.Contains(t, st.Reason, "replay paused")
		t.Logf("paused standby: lag %s, %d bytes behind: %s", st.Lag, st.LagBytes, st.Reason)

		// Skipped, it makes nobody wait: reads go straight to the primary,
		// those without a token (the feed) too.
		primaryReads, reads := s.Stats().PrimaryReads, replica().Reads
		require.Less(t, appendAndRead(t), maxWait)
		_, err := s.ReadFeed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 10})
		require.NoError(t, err)
		require.GreaterOrEqual(t, s.Stats().PrimaryReads, primaryReads+2)
		require.Equal(t, reads, replica().Reads)

		_, err = pb.admin.Exec(ctx, "SELECT pg_wal_replay_resume()")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			st := replica()
			return st.Healthy && st.Lag == 0 && !st.ReplayPaused
		}, 30*time.Second, 5*time.Millisecond, "the standby never caught up: %+v", replica())
		require.Eventually(t, readsFromStandby, 30*time.Second, 5*time.Millisecond, "reads return to the standby: %+v", replica())
	})

	t.Run("standby down then up", func(t *testing.T) {
		// Readers keep going while the standby stops and starts again; not
		// one read may fail or miss a write.
		stop := make(chan struct{})
		var (
			wg    sync.WaitGroup
			reads atomic.Int64
			errs  = make(chan error, 4)
		)
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("down-%d", w)
					res, err := s.Append(ctx, id, store.Any, rawEvent("e", i))
					if err == nil {
						var recs []store.Recorded
						recs, err = s.ReadBackward(ctx, id, store.End, 1)
						if err == nil && (len(recs) != 1 || recs[0].Version != res.Version) {
							err = fmt.Errorf("read %v after appending version %d", recs, res.Version)
						}
					}
					if err == nil {
						_, err = s.ReadFeed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 5})
					}
					if err != nil {
						errs <- err
						return
					}
					reads.Add(1)
				}
			})
		}
		defer func() {
			close(stop)
			wg.Wait()
		}()
		// waitUntil waits for cond while the readers go on, failing on
		// their first error.
		waitUntil := func(cond func() bool, msg string) {
			t.Helper()
			require.Eventually(t, func() bool {
				select {
				case err := <-errs:
					require.NoError(t, err)
				default:
				}
				return cond()
			}, 60*time.Second, 5*time.Millisecond, msg)
		}
		waitReads := func(more int64) {
			t.Helper()
			target := reads.Load() + more
			waitUntil(func() bool { return reads.Load() >= target }, "the readers stalled")
		}
		waitReads(20)

		pb.pair.StopStandby(t)
		require.Eventually(t, func() bool { return !replica().Healthy }, 30*time.Second, 5*time.Millisecond)
		t.Logf("standby down: %s", replica().Reason)
		primaryReads := s.Stats().PrimaryReads
		waitReads(50)
		require.Greater(t, s.Stats().PrimaryReads, primaryReads, "the primary serves the reads")

		pb.pair.StartStandby(t)
		waitReplicaHealthy(t, pb.store)
		// Healthy again, it may still be more than MaxWait behind for a
		// while after the restart: reads that must see a write go to the
		// primary until it has caught up.
		standbyReads := replica().Reads
		waitUntil(func() bool { return replica().Reads > standbyReads }, "reads never returned to the standby")
		select {
		case err := <-errs:
			require.NoError(t, err)
		default:
		}
		t.Logf("standby down then up: %d read rounds, %d standby failures observed, %d reads on the primary",
			reads.Load(), replica().Failures, s.Stats().PrimaryReads)
	})
}

// delivery records what a subscription handler received.
type delivery struct {
	mu     sync.Mutex
	events []store.Recorded
}

func (d *delivery) handle(_ context.Context, ev store.Recorded) error {
	d.mu.Lock()
	d.events = append(d.events, ev)
	d.mu.Unlock()
	return nil
}

func (d *delivery) snapshot() []store.Recorded {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]store.Recorded(nil), d.events...)
}

// distinct returns the deliveries with redeliveries removed. It checks that
// new events come in feed order and that a redelivery (at-least-once, after
// a restart from the last saved checkpoint) repeats a run of what was
// delivered, in the same order, up to the last delivery before new events
// come again: nothing is skipped or reordered.
func distinct(t *testing.T, evs []store.Recorded) []store.Recorded {
	t.Helper()
	var out []store.Recorded
	seen := map[string]int{} // event id -> index in out
	replaying := -1          // index in out of the last redelivered event
	for _, ev := range evs {
		id := ev.ID.String()
		if i, ok := seen[id]; ok {
			if replaying >= 0 {
				require.Equal(t, replaying+1, i, "redelivery of %s out of order", id)
			}
			replaying = i
			continue
		}
		if replaying >= 0 {
			require.Equal(t, len(out)-1, replaying, "new event %s before the redelivery caught up", id)
			replaying = -1
		}
		if len(out) > 0 {
			require.True(t, out[len(out)-1].Checkpoint().Less(ev.Checkpoint()),
				"delivered %s after %s", ev.Checkpoint(), out[len(out)-1].Checkpoint())
		}
		seen[id] = len(out)
		out = append(out, ev)
	}
	return out
}

// TestReplicaSubscriptionDelivers runs subscriptions that read from the
// standby while writers append concurrently — on the writers' own store,
// woken in process by its appends, and on a store that only reads, woken by
// NOTIFY on the primary for the others' — and checks that each delivers
// every event once, in feed order.
func TestReplicaSubscriptionDelivers(t *testing.T) {
	t.Parallel()
	rb := setupReplica(t)
	other := store.New(rb.pool, store.Config{}) // a writer in "another process"
	t.Cleanup(other.Close)
	// The reading store keeps to the standby however far behind it is,
	// so all its reads are the standby's.
	reader := store.New(rb.pool, store.Config{Replicas: store.ReplicaConfig{Pools: []*pgxpool.Pool{rb.standby}, MaxLag: time.Hour}})
	t.Cleanup(reader.Close)
	waitReplicaHealthy(t, reader)

	const (
		writers   = 4
		perWriter = 150
	)
	type consumer struct {
		store *store.Store
		name  string // "" in memory
		d     delivery
	}
	consumers := map[string]*consumer{
		"writer's store, in memory":  {store: rb.store},
		"writer's store, persistent": {store: rb.store, name: "replica-sub-writer"},
		"reading store, in memory":   {store: reader},
		"reading store, persistent":  {store: reader, name: "replica-sub-reader"},
	}
	for _, c := range consumers {
		sub, err := c.store.Subscribe(rb.ctx, store.SubscriptionOptions{Name: c.name, BatchSize: 25, PollInterval: 200 * time.Millisecond}, c.d.handle)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, sub.Stop()) })
	}
	var wg sync.WaitGroup
	for w := range writers {
		writer := rb.store
		if w%2 == 1 {
			writer = other
		}
		wg.Go(func() {
			for i := range perWriter {
				_, err := writer.Append(rb.ctx, fmt.Sprintf("sub-%d-%d", w, i%5), store.Any, rawEvent("e", i))
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	const total = writers * perWriter
	for name, c := range consumers {
		require.Eventually(t, func() bool { return len(c.d.snapshot()) >= total }, 60*time.Second, 5*time.Millisecond,
			"%s: delivered %d of %d", name, len(c.d.snapshot()), total)
		got := c.d.snapshot()
		require.Len(t, distinct(t, got), total, "%s: every event once", name)
		require.Len(t, got, total, "%s: no event twice", name)
		versions := map[string]int64{}
		for _, ev := range got {
			versions[ev.StreamID]++
			require.Equal(t, versions[ev.StreamID], ev.Version, "%s: stream %s out of order", name, ev.StreamID)
		}
	}
	st := reader.Stats()
	require.Positive(t, st.Replicas[0].Reads)
	require.Zero(t, st.PrimaryReads, "the reading store's subscriptions read from the standby only")
	ws := rb.store.Stats()
	t.Logf("subscriptions: the reading store made %d reads on the standby; the writer's store %d there and %d on the primary",
		st.Replicas[0].Reads, ws.Replicas[0].Reads, ws.PrimaryReads)
}

// TestReplicaPromotion promotes the standby while a persistent subscription
// reads from it and a writer appends: the store's pool names both servers
// (target_session_attrs=read-write), so writes, the subscription's lock and
// checkpoints move to the new primary; the subscription goes on from its
// checkpoint (which the standby had replayed) and delivers every event, in
// feed order, without loss.
func TestReplicaPromotion(t *testing.T) {
	t.Parallel()
	multiHost := func(p *devdb.Pair) string {
		pu, err := url.Parse(p.PrimaryURL)
		require.NoError(t, err)
		su, err := url.Parse(p.StandbyURL)
		require.NoError(t, err)
		pu.Host = pu.Host + "," + su.Host
		q := pu.Query()
		q.Set("target_session_attrs", "read-write")
		q.Set("connect_timeout", "2")
		pu.RawQuery = q.Encode()
		return pu.String()
	}
	pb := setupPair(t, store.Config{Replicas: store.ReplicaConfig{CheckInterval: 20 * time.Millisecond}}, multiHost)
	s, ctx := pb.store, pb.ctx

	var d delivery
	sub, err := s.Subscribe(ctx, store.SubscriptionOptions{
		Name: "promotion", BatchSize: 10, PollInterval: 100 * time.Millisecond, LockRetryInterval: 50 * time.Millisecond,
	}, d.handle)
	require.NoError(t, err)
	defer func() { require.NoError(t, sub.Stop()) }()

	// The writer appends events with fixed ids and retries each until it
	// is stored: a retry after an append whose outcome was lost is
	// idempotent.
	const total = 400
	written := make(chan int, total)
	writerDone := make(chan error, 1)
	go func() {
		for i := range total {
			ev := rawEvent("e", i)
			ev.ID = uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(i)))
			deadline := time.Now().Add(time.Minute)
			for attempt := 1; ; attempt++ {
				_, err := s.Append(ctx, fmt.Sprintf("promo-%d", i%6), store.Any, ev)
				if err == nil {
					break
				}
				if time.Now().After(deadline) || s.RetryPolicy().Wait(ctx, attempt) != nil {
					writerDone <- fmt.Errorf("event %d: %w", i, err)
					return
				}
			}
			written <- i
		}
		writerDone <- nil
	}()
	require.Eventually(t, func() bool { return len(d.snapshot()) >= total/3 }, time.Minute, 5*time.Millisecond)
	pb.pair.Promote(t)
	t.Logf("promoted after %d deliveries", len(d.snapshot()))
	require.NoError(t, <-writerDone)

	require.Eventually(t, func() bool { return len(distinct(t, d.snapshot())) >= total }, time.Minute, 5*time.Millisecond,
		"delivered %d of %d after the promotion", len(distinct(t, d.snapshot())), total)
	got := distinct(t, d.snapshot())
	require.Len(t, got, total)

	// The new primary's feed is exactly what was delivered, in order.
	var feed []store.Recorded
	for rec, err := range s.Feed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 100}) {
		require.NoError(t, err)
		feed = append(feed, rec)
	}
	require.Len(t, feed, total)
	for i := range feed {
		require.Equal(t, feed[i].ID, got[i].ID, "delivery %d differs from the feed", i)
	}
	require.Eventually(t, func() bool {
		infos, err := s.SubscriptionInfo(ctx, "promotion")
		require.NoError(t, err)
		return len(infos) == 1 && infos[0].Checkpoint == feed[total-1].Checkpoint()
	}, 30*time.Second, 5*time.Millisecond, "the checkpoint on the new primary")
	require.Eventually(t, func() bool { return !s.Stats().Replicas[0].Healthy }, 30*time.Second, 5*time.Millisecond)
	t.Logf("promotion: %d deliveries for %d events; the old standby: %s", len(d.snapshot()), total, s.Stats().Replicas[0].Reason)
}

// TestReplicaStandbys reads pg_stat_replication through Standbys: the test
// server's standby streams from it; a role without pg_read_all_stats sees
// it without details.
func TestReplicaStandbys(t *testing.T) {
	t.Parallel()
	rb := setupReplica(t)
	admin := testdb.Connect(t, testdb.ServerURL(t))
	s := store.New(admin, store.Config{})
	t.Cleanup(s.Close)
	sts, err := s.Standbys(rb.ctx)
	require.NoError(t, err)
	require.NotEmpty(t, sts)
	st := sts[0]
	require.True(t, st.Visible)
	require.Equal(t, "streaming", st.State)
	require.Equal(t, "async", st.SyncState)
	require.False(t, st.ReplayPosition.IsZero())
	require.GreaterOrEqual(t, st.ReplayLagBytes, int64(0))

	owned, err := rb.store.Standbys(rb.ctx)
	require.NoError(t, err)
	require.NotEmpty(t, owned)
	require.False(t, owned[0].Visible, "the test database's owner has no pg_read_all_stats")

	// psql: the primary's eventstore.replication_lag lists the standby (its
	// figures need pg_monitor, like Standbys').
	var n int
	require.NoError(t, rb.pool.QueryRow(rb.ctx, `SELECT count(*) FROM eventstore.replication_lag`).Scan(&n))
	require.GreaterOrEqual(t, n, 1)
}

// TestReplicaLagMeasuredByReplay: when the standby is behind every sample
// of the primary's WAL position a Store holds (one just taken, at start),
// its own clock (the age of the last transaction it replayed) only bounds
// the lag from above: a primary that wrote no commit lately but other WAL
// (pages pruned by reads, a checkpoint) makes it look behind by that age. The check
// then watches the standby reach the sample, and only a standby that has
// not reached it once the sample is MaxLag old stays over MaxLag.
func TestReplicaLagMeasuredByReplay(t *testing.T) {
	t.Parallel()
	const maxLag = 5 * time.Second
	b := setupReplica(t, store.Config{Replicas: store.ReplicaConfig{MaxLag: maxLag}})
	var lsn uint64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&lsn))
	at := time.Now()
	// A commit flushes the WAL past the sample, so the standby gets it.
	_, err := b.store.Append(b.ctx, "game-1", store.Any, rawEvent("test_event", 1))
	require.NoError(t, err)
	lag := store.ReplicaLagAfterReplay(b.ctx, b.store, lsn, at, time.Hour)
	require.Less(t, lag, maxLag, "the standby reached the sample: its lag is measured, not its clock's hour")

	// A position the standby cannot reach, in a sample already MaxLag old:
	// the clock's lag stands.
	lag = store.ReplicaLagAfterReplay(b.ctx, b.store, lsn+1<<40, time.Now().Add(-maxLag), time.Hour)
	require.Equal(t, time.Hour, lag)
}

// TestReplicaPollKeepsReplayPosition: a check that watches the standby
// for a position it does not reach in time still keeps the replay position
// it polled last: Stats reports it, and reads waiting for a position go by
// it, rather than by the position the check began with.
func TestReplicaPollKeepsReplayPosition(t *testing.T) {
	t.Parallel()
	const maxLag = 5 * time.Second
	// One check only, at the start: nothing else moves the position Stats reports.
	b := setupReplica(t, store.Config{Replicas: store.ReplicaConfig{MaxLag: maxLag, CheckInterval: time.Hour}})
	before := b.store.Stats().Replicas[0].ReplayPosition
	_, err := b.store.Append(b.ctx, "game-1", store.Any, rawEvent("test_event", 1))
	require.NoError(t, err)
	var written string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT pg_current_wal_flush_lsn()::text`).Scan(&written))
	// The standby replays past the append; the Store has not looked since.
	require.Eventually(t, func() bool {
		var ok bool
		require.NoError(t, b.standby.QueryRow(b.ctx,
			`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, written).Scan(&ok))
		return ok
	}, 30*time.Second, 5*time.Millisecond)
	require.Equal(t, before, b.store.Stats().Replicas[0].ReplayPosition)
	want, err := store.ParseConsistencyToken(written)
	require.NoError(t, err)
	require.True(t, before.Less(want))

	// A position the standby cannot reach, in a sample already MaxLag old:
	// one poll, and the lag stands.
	var lsn uint64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint`).Scan(&lsn))
	lag := store.ReplicaLagAfterReplay(b.ctx, b.store, lsn+1<<40, time.Now().Add(-maxLag), time.Hour)
	require.Equal(t, time.Hour, lag)
	got := b.store.Stats().Replicas[0].ReplayPosition
	require.False(t, got.Less(want), "Stats reports %s, the position of the check's start; the standby had replayed %s", got, written)
}

// TestReplicaLagBytesAfterReplay starts a Store while its standby's clock
// says it is far behind (replay paused since before MaxLag), and resumes
// the replay while the Store's first check waits for the standby to reach
// the primary's position: the standby is healthy then, and Stats no longer
// counts the bytes it was behind before it caught up.
func TestReplicaLagBytesAfterReplay(t *testing.T) {
	t.Parallel()
	const (
		// The test resumes replay within MaxLag of the Store's start, or
		// the check gives up waiting: long enough for a loaded machine.
		maxLag = 5 * time.Second
		app    = "lag-bytes-check"
	)
	pb := setupPair(t, store.Config{}, nil)
	ctx := pb.ctx
	pb.pauseReplay(t)
	_, err := pb.store.Append(ctx, "unreplayed", store.Any, rawEvent("e", 1))
	require.NoError(t, err)
	// The standby's last replayed commit is older than MaxLag.
	require.Eventually(t, func() bool {
		var age float64
		require.NoError(t, pb.admin.QueryRow(ctx,
			"SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8").Scan(&age))
		return age > maxLag.Seconds()
	}, 30*time.Second, 10*time.Millisecond)

	cfg, err := pgxpool.ParseConfig(pb.pair.StandbyURL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	standby, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(standby.Close)
	// One check only, at the start.
	s := store.New(pb.primary, store.Config{Replicas: store.ReplicaConfig{
		Pools: []*pgxpool.Pool{standby}, MaxLag: maxLag, CheckInterval: time.Hour,
	}})
	t.Cleanup(s.Close)
	// The check waits for the standby to replay the primary's position.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, pb.admin.QueryRow(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query = $2",
			app, store.ReplayPollSQL).Scan(&n))
		return n > 0
	}, 30*time.Second, 2*time.Millisecond, "the check never polled the standby's replay position")
	_, err = pb.admin.Exec(ctx, "SELECT pg_wal_replay_resume()")
	require.NoError(t, err)

	require.Eventually(t, func() bool { return s.Stats().Replicas[0].Healthy }, 30*time.Second, 5*time.Millisecond,
		"the standby that caught up within MaxLag was not used: %+v", s.Stats().Replicas[0])
	st := s.Stats().Replicas[0]
	require.Less(t, st.Lag, maxLag)
	require.Zero(t, st.LagBytes, "the standby has replayed the only sample of the primary's position: %+v", st)
	require.False(t, st.ReplayPaused, "replay was resumed before the check ended: %+v", st)
}
