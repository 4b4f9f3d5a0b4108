package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate holds a stream's row lock in a transaction of its own, so that an
// append to that stream waits (and with it, its whole flush).
type gate struct {
	tx pgx.Tx
}

func lockStream(t *testing.T, pool *pgxpool.Pool, streamID string) *gate {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	var got string
	require.NoError(t, tx.QueryRow(t.Context(),
		`SELECT stream_id FROM eventstore.streams WHERE stream_id = $1 FOR UPDATE`, streamID).Scan(&got))
	return &gate{tx: tx}
}

func (g *gate) open(t *testing.T) { require.NoError(t, g.tx.Rollback(t.Context())) }

// waitLockWaiters waits until n statements of the database wait for a lock.
func waitLockWaiters(t *testing.T, pool *pgxpool.Pool, n int) []uint32 {
	t.Helper()
	var pids []uint32
	require.Eventually(t, func() bool {
		rows, err := pool.Query(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' ORDER BY pid`)
		if err != nil {
			return false
		}
		pids, err = pgx.CollectRows(rows, pgx.RowTo[uint32])
		return err == nil && len(pids) == n
	}, 20*time.Second, 2*time.Millisecond)
	return pids
}

// occupyFlushers makes both of the store's flushers wait on locked streams
// and returns the gates that hold them. The store must wait for locks
// without a bound (Config.FlushLockWait negative).
func occupyFlushers(t *testing.T, b *bundle, wg *sync.WaitGroup) []*gate {
	t.Helper()
	var gates []*gate
	for i, id := range []string{"gate-1", "gate-2"} {
		_, err := b.store.Append(b.ctx, id, store.Any, rawEvent("gate", 0))
		require.NoError(t, err)
		g := lockStream(t, b.pool, id)
		gates = append(gates, g)
		wg.Go(func() {
			_, err := b.store.Append(b.ctx, id, store.Any, rawEvent("gate", 1))
			require.NoError(t, err)
		})
		waitLockWaiters(t, b.pool, i+1)
	}
	return gates
}

// TestCoalescedCallsKeepTheirOwnOutcomes: appends that queue behind flushes
// in flight go out together in one statement, and each gets its own
// outcome: a version conflict, a full stream, a duplicate id and another
// guild's stream fail those calls alone; the others are stored.
func TestCoalescedCallsKeepTheirOwnOutcomes(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, FlushLockWait: -1})
	ctx := b.ctx
	_, err := b.store.Append(ctx, "conflict", store.NoStream, rawEvent("x", 1))
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "full", store.NoStream, rawEvent("x", 1))
	require.NoError(t, err)
	require.NoError(t, b.store.SetStreamLimit(ctx, "full", 1))
	taken := withID(rawEvent("x", 1))
	_, err = b.store.Append(ctx, "holder", store.NoStream, taken)
	require.NoError(t, err)
	_, err = b.store.Append(store.WithGuild(t.Context(), "other-guild"), "foreign", store.NoStream, rawEvent("x", 1))
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "existing", store.NoStream, rawEvent("x", 1))
	require.NoError(t, err)
	held, err := b.store.ReadForward(ctx, "holder", 1, 1)
	require.NoError(t, err)

	var wg sync.WaitGroup
	gates := occupyFlushers(t, b, &wg)

	type outcome struct {
		res store.AppendResult
		err error
	}
	calls := map[string]func() (store.AppendResult, error){
		"conflict": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "conflict", store.Exact(5), rawEvent("x", 2))
		},
		"full": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "full", store.Any, rawEvent("x", 2))
		},
		"dup": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "dup", store.NoStream, rawEvent("x", 1), taken)
		},
		"foreign": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "foreign", store.Any, rawEvent("x", 2))
		},
		"new": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "new", store.NoStream, rawEvent("x", 1), rawEvent("x", 2))
		},
		"next": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "conflict", store.Exact(1), rawEvent("x", 3))
		},
		// On a live stream at the right version (the one INSERT of the
		// batch takes it) but with a stored id: the unique index refuses
		// it, and every call is decided one by one.
		"dupfast": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "existing", store.Any, taken)
		},
		// The stored event again where it is: a replay, the original result.
		"holder": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "holder", store.Exact(0), taken)
		},
		"fast": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "existing", store.Exact(1), rawEvent("x", 5))
		},
		// A replay that passes the fast path's checks (any version): the
		// unique index refuses it in the batch, and alone it is a replay.
		"replayfast": func() (store.AppendResult, error) {
			return b.store.Append(ctx, "holder", store.Any, taken)
		},
	}
	var mu sync.Mutex
	got := map[string]outcome{}
	for name, call := range calls {
		wg.Go(func() {
			res, err := call()
			mu.Lock()
			got[name] = outcome{res, err}
			mu.Unlock()
		})
	}
	require.Eventually(t, func() bool { return store.CoalescerQueued(b.store) == len(calls) },
		20*time.Second, time.Millisecond, "every call waits for a flusher")
	for _, g := range gates {
		g.open(t)
	}
	wg.Wait()

	var conflict *store.VersionConflictError
	require.ErrorAs(t, got["conflict"].err, &conflict) // at 1 or 2: "next" may go first
	var full *store.StreamFullError
	require.ErrorAs(t, got["full"].err, &full)
	require.ErrorIs(t, got["dup"].err, store.ErrDuplicateEvent)
	require.ErrorIs(t, got["foreign"].err, store.ErrGuildMismatch)
	require.NoError(t, got["new"].err)
	require.Equal(t, int64(2), got["new"].res.Version)
	require.Equal(t, got["new"].res.FirstPosition+1, got["new"].res.LastPosition)
	require.NoError(t, got["next"].err)
	require.Equal(t, int64(2), got["next"].res.Version)
	require.ErrorIs(t, got["dupfast"].err, store.ErrDuplicateEvent)
	require.NoError(t, got["holder"].err)
	require.Equal(t, int64(1), got["holder"].res.Version)
	require.Equal(t, held[0].GlobalPosition, got["holder"].res.FirstPosition, "the original result")
	require.NoError(t, got["replayfast"].err)
	require.Equal(t, got["holder"].res, got["replayfast"].res, "the original result")
	require.Equal(t, 1, countRows(t, b, "holder"))
	require.NoError(t, got["fast"].err)
	require.Equal(t, int64(2), got["fast"].res.Version)
	require.Equal(t, 2, countRows(t, b, "existing"))
	require.Equal(t, 2, countRows(t, b, "gate-1"))

	// Nothing refused is stored; what was acknowledged is.
	require.Equal(t, 2, countRows(t, b, "conflict"))
	require.Equal(t, 1, countRows(t, b, "full"))
	require.Equal(t, 0, countRows(t, b, "dup"))
	require.Equal(t, 2, countRows(t, b, "new"))
	_, err = b.store.StreamInfo(ctx, "dup")
	require.ErrorIs(t, err, store.ErrStreamNotFound, "the refused batch created no stream")

	// They went out in one statement.
	together := 0
	for _, o := range rec.of(store.OpAppend) {
		if o.Coalesced == len(calls) {
			together++
		}
	}
	require.Equal(t, len(calls), together)
}

// TestCoalescedAppendsUnderLoad: writers append to streams of their own
// (exact), to a shared stream (any), race for a second shared stream with
// exact versions (conflicts) and fill a limited one (full): every call's
// outcome is its own, everything acknowledged is stored once, nothing
// refused is stored, and every stream's versions are contiguous.
func TestCoalescedAppendsUnderLoad(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, Retry: fastRetry()})
	ctx := b.ctx
	const writers, rounds, limit = 12, 40, 100
	_, err := b.store.Append(ctx, "limited", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)
	require.NoError(t, b.store.SetStreamLimit(ctx, "limited", limit))

	var (
		mu       sync.Mutex
		acked    = map[uuid.UUID]string{} // event id → stream
		refused  = map[uuid.UUID]bool{}
		fullSeen atomic.Int32
		conflict atomic.Int32
	)
	note := func(stream string, err error, evs ...store.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			if err == nil {
				acked[ev.ID] = stream
			} else {
				refused[ev.ID] = true
			}
		}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprintf("own-%d", w)
			for i := range rounds {
				ev := withID(rawEvent("own", i))
				_, err := b.store.Append(ctx, own, store.Exact(int64(i)), ev)
				require.NoError(t, err)
				note(own, err, ev)

				ev = withID(rawEvent("shared", i))
				_, err = b.store.Append(ctx, "shared", store.Any, ev)
				require.NoError(t, err)
				note("shared", err, ev)

				info, err := b.store.StreamInfo(ctx, "raced")
				version := int64(0)
				if err == nil {
					version = info.Version
				} else {
					require.ErrorIs(t, err, store.ErrStreamNotFound)
				}
				ev = withID(rawEvent("raced", i))
				_, err = b.store.Append(ctx, "raced", store.Exact(version), ev)
				if err != nil {
					require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
					conflict.Add(1)
				}
				note("raced", err, ev)

				ev = withID(rawEvent("limited", i))
				_, err = b.store.Append(ctx, "limited", store.Any, ev)
				if err != nil {
					var full *store.StreamFullError
					require.ErrorAs(t, err, &full)
					fullSeen.Add(1)
				}
				note("limited", err, ev)
			}
		})
	}
	wg.Wait()

	// Every stream holds exactly what was acknowledged, once, at
	// contiguous versions.
	perStream := map[string]map[uuid.UUID]bool{}
	for id, stream := range acked {
		if perStream[stream] == nil {
			perStream[stream] = map[uuid.UUID]bool{}
		}
		perStream[stream][id] = true
	}
	for stream, ids := range perStream {
		recs, err := b.store.ReadForward(ctx, stream, 0, 10000)
		require.NoError(t, err)
		skip := 0
		if stream == "limited" {
			skip = 1
		}
		require.Len(t, recs, len(ids)+skip, stream)
		for i, r := range recs {
			require.Equal(t, int64(i+1), r.Version, stream)
			if i >= skip {
				require.True(t, ids[r.ID], "%s v%d was not acknowledged", stream, r.Version)
			}
		}
	}
	var stored int
	ids := make([]uuid.UUID, 0, len(refused))
	for id := range refused {
		ids = append(ids, id)
	}
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE event_id = ANY ($1::text[]::uuid[])`, idTexts(ids)).Scan(&stored))
	require.Zero(t, stored, "a refused event was stored")
	require.Equal(t, int32(writers*rounds-(limit-1)), fullSeen.Load(), "the limited stream filled up exactly")
	require.Positive(t, len(perStream["raced"]))

	maxBatch := 0
	for _, o := range rec.of(store.OpAppend) {
		maxBatch = max(maxBatch, o.Coalesced)
	}
	require.Greater(t, maxBatch, 1, "concurrent appends went out together")
	t.Logf("%d conflicts on the raced stream; largest coalesced statement: %d appends", conflict.Load(), maxBatch)
}

// flushCall is one Append of a test's flush and its outcome.
type flushCall struct {
	stream   string
	expected store.ExpectedVersion
	ev       store.Event
	err      error
}

// gatedFlushRig is a store with cfg whose stream gate-3 (one event) is
// locked by held, and whose flushers both wait on locked streams: gate-1's
// append waits alone, gate-2's holds the other flusher until gates[1] opens.
// wg counts the two gate appends.
func gatedFlushRig(t *testing.T, cfg store.Config) (b *bundle, held *gate, gates []*gate, wg *sync.WaitGroup) {
	t.Helper()
	b = setup(t, cfg)
	_, err := b.store.Append(b.ctx, "gate-3", store.Any, rawEvent("gate", 0))
	require.NoError(t, err)
	held = lockStream(t, b.pool, "gate-3")
	wg = &sync.WaitGroup{}
	gates = occupyFlushers(t, b, wg)
	return b, held, gates, wg
}

// TestCoalescedFlushConnectionKilled: the server processes of two flushes
// in flight (one call alone, five together) are terminated while they wait
// for a stream lock. Every call then has a clear outcome: the appends are
// retried and stored exactly once; the one whose expected version is wrong
// is refused and not stored.
func TestCoalescedFlushConnectionKilled(t *testing.T) {
	t.Parallel()
	b, held, gates, wg := gatedFlushRig(t, store.Config{FlushLockWait: -1,
		Retry: store.RetryPolicy{MaxAttempts: 20, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	ctx := b.ctx
	calls := []*flushCall{
		{stream: "gate-3", expected: store.Any},
		{stream: "b", expected: store.NoStream},
		{stream: "c", expected: store.NoStream},
		{stream: "gate-3", expected: store.Exact(0)}, // wrong: refused
		{stream: "d", expected: store.Any},
	}
	for _, c := range calls {
		c.ev = withID(rawEvent("x", 1))
		wg.Go(func() { _, c.err = b.store.Append(ctx, c.stream, c.expected, c.ev) })
	}
	require.Eventually(t, func() bool { return store.CoalescerQueued(b.store) == len(calls) }, 20*time.Second, time.Millisecond)
	// The second flusher finishes gate-2 and takes the five, which wait
	// for gate-3, held outside the store, while the first flusher's call
	// waits for gate-1.
	gates[1].open(t)
	// The five are out of the queue, in one flush (the other flusher waits
	// for gate-1), when two statements wait for locks.
	var pids []uint32
	require.Eventually(t, func() bool {
		if store.CoalescerQueued(b.store) != 0 {
			return false
		}
		rows, err := b.pool.Query(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		if err != nil {
			return false
		}
		pids, err = pgx.CollectRows(rows, pgx.RowTo[uint32])
		return err == nil && len(pids) == 2
	}, 20*time.Second, 2*time.Millisecond)
	for _, pid := range pids {
		var gone bool
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, pid).Scan(&gone))
		require.True(t, gone)
	}
	// The retries wait for the lock again, on new connections.
	require.Eventually(t, func() bool {
		var n int
		err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND NOT (pid = ANY ($1))`, pids).Scan(&n)
		return err == nil && n >= 1
	}, 20*time.Second, 2*time.Millisecond)
	gates[0].open(t)
	held.open(t)
	wg.Wait()

	ids := []uuid.UUID{}
	for _, c := range calls {
		if c.expected == store.Exact(0) {
			require.ErrorIs(t, c.err, store.ErrWrongExpectedVersion)
			continue
		}
		require.NoError(t, c.err, c.stream)
		ids = append(ids, c.ev.ID)
	}
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE event_id = ANY ($1::text[]::uuid[])`, idTexts(ids)).Scan(&n))
	require.Equal(t, len(ids), n, "every acknowledged event once")
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE event_id = $1`, calls[3].ev.ID).Scan(&n))
	require.Zero(t, n, "the refused event is not stored")
	for stream, n := range map[string]int{
		"gate-1": 2, // its first event and the first flusher's call
		"gate-3": 2, // its first event and the five's Any
	} {
		recs, err := b.store.ReadForward(ctx, stream, 0, 100)
		require.NoError(t, err)
		require.Len(t, recs, n, stream)
		for i, r := range recs {
			require.Equal(t, int64(i+1), r.Version)
		}
	}
}

// TestCoalescedFlushKilledWithoutRetries: the server process of a flush of
// four single-event appends is terminated while the flush waits for a
// stream lock. With retries off, each of the four returns the connection
// error at once, an outcome unknown to the caller, and nothing of the flush
// is stored; the store does not send the calls again on its own (which
// would wait for the lock a second time).
func TestCoalescedFlushKilledWithoutRetries(t *testing.T) {
	t.Parallel()
	b, held, gates, wg := gatedFlushRig(t, store.Config{FlushLockWait: -1, Retry: store.RetryPolicy{MaxAttempts: 1}})
	ctx := b.ctx
	var heldPID uint32
	require.NoError(t, held.tx.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&heldPID))
	calls := []*flushCall{
		{stream: "gate-3", expected: store.Any},
		{stream: "b", expected: store.NoStream},
		{stream: "c", expected: store.NoStream},
		{stream: "d", expected: store.Any},
	}
	var settled sync.WaitGroup
	for _, c := range calls {
		c.ev = withID(rawEvent("x", 1))
		settled.Go(func() { _, c.err = b.store.Append(ctx, c.stream, c.expected, c.ev) })
	}
	require.Eventually(t, func() bool { return store.CoalescerQueued(b.store) == len(calls) }, 20*time.Second, time.Millisecond)
	gates[1].open(t) // the second flusher takes the four, which wait for gate-3
	var pid uint32
	require.Eventually(t, func() bool {
		return store.CoalescerQueued(b.store) == 0 && b.pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND $1 = ANY (pg_blocking_pids(pid))`, heldPID).Scan(&pid) == nil
	}, 20*time.Second, 2*time.Millisecond)
	var gone bool
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, pid).Scan(&gone))
	require.True(t, gone)

	// Every call returns while gate-3 is still held.
	returned := make(chan struct{})
	go func() { settled.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(deliveryLimit):
		t.Fatal("the calls of the killed flush did not return while the stream stayed locked: the store sent them again")
	}
	ids := make([]uuid.UUID, 0, len(calls))
	for _, c := range calls {
		require.ErrorIs(t, c.err, store.ErrConnection, c.stream)
		ids = append(ids, c.ev.ID)
	}
	gates[0].open(t)
	held.open(t)
	wg.Wait()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE event_id = ANY ($1::text[]::uuid[])`, idTexts(ids)).Scan(&n))
	require.Zero(t, n, "nothing of the killed flush is stored")
}

// TestCoalescedBusyStreamWaitsInQueue: an append to a stream that one of
// the Store's flushes is writing waits in the queue, not in the database,
// where it would only wait for that flush's commit (the stream's row lock)
// and hold the other flusher meanwhile. The other flusher sends the other
// streams' appends, and the stream's queued appends go out together, in
// one statement, once the flush in flight is settled.
func TestCoalescedBusyStreamWaitsInQueue(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, FlushLockWait: -1})
	ctx := b.ctx
	_, err := b.store.Append(ctx, "game", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)
	g := lockStream(t, b.pool, "game")

	// The first append to the game waits for the lock held outside the
	// store, in a flush of its own; three more queue behind it.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() { _, errs[0] = b.store.Append(ctx, "game", store.Exact(1), rawEvent("x", 1)) })
	waitLockWaiters(t, b.pool, 1)
	for i := 1; i < 4; i++ {
		wg.Go(func() { _, errs[i] = b.store.Append(ctx, "game", store.Any, rawEvent("x", 1+i)) })
	}
	require.Eventually(t, func() bool { return store.CoalescerQueued(b.store) == 3 }, 20*time.Second, time.Millisecond,
		"the game's appends wait in the queue while a flush writes the game")

	// The other flusher is free for other streams, this guild's and
	// another's. (The bound only turns a hang into a failure.)
	bounded, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := range 3 {
		_, err := b.store.Append(bounded, fmt.Sprintf("other-%d", i), store.NoStream, rawEvent("x", i))
		require.NoError(t, err, "an append to another stream waits behind the game's")
		_, err = b.store.Append(store.WithGuild(bounded, "guild-b"), fmt.Sprintf("b-%d", i), store.NoStream, rawEvent("x", i))
		require.NoError(t, err, "another guild's append waits behind the game's")
	}
	// Another guild's append to the game's id does not wait for the game:
	// it is refused (the id is taken), without touching the held row.
	_, err = b.store.Append(store.WithGuild(bounded, "guild-b"), "game", store.Any, rawEvent("x", 9))
	require.ErrorIs(t, err, store.ErrGuildMismatch, "another guild's append to the id waits for its stream")
	require.Equal(t, 3, store.CoalescerQueued(b.store), "the game's appends still wait for the first")
	require.Equal(t, 3, b.store.Stats().QueuedAppends)

	g.open(t)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "append %d to the game", i)
	}
	recs, err := b.store.ReadForward(ctx, "game", 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, 5)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
	}
	together := 0
	for _, o := range rec.of(store.OpAppend) {
		if o.Coalesced == 3 {
			together++
		}
	}
	require.Equal(t, 3, together, "the three queued appends went out in one statement")
}

// TestCoalescingOffSendsEachAlone: with DisableCoalescing every append is
// its own statement, and an idle store sends an append at once, alone.
func TestCoalescingOffSendsEachAlone(t *testing.T) {
	t.Parallel()
	for _, off := range []bool{false, true} {
		rec := &recorder{}
		b := setup(t, store.Config{Observer: rec, DisableCoalescing: off})
		_, err := b.store.Append(b.ctx, "idle", store.NoStream, rawEvent("x", 1))
		require.NoError(t, err)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 20 {
					_, err := b.store.Append(b.ctx, fmt.Sprintf("w-%d", w), store.Exact(int64(i)), rawEvent("x", i))
					require.NoError(t, err)
				}
			})
		}
		wg.Wait()
		obs := rec.of(store.OpAppend)
		require.Len(t, obs, 1+8*20)
		if off {
			for _, o := range obs {
				require.Zero(t, o.Coalesced)
			}
			continue
		}
		require.Equal(t, 1, obs[0].Coalesced, "an idle store sends at once, alone")
		for _, o := range obs {
			require.Positive(t, o.Coalesced)
		}
	}
}

// TestCoalescedGuildsUnderAppRole: under the application role, appends of
// two guilds that go out together are each checked against their own
// guild: each guild's are stored in its streams, and an append to the other
// guild's stream id fails alone.
func TestCoalescedGuildsUnderAppRole(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setupApp(t, store.Config{Observer: rec})
	ctxA, ctxB := store.WithGuild(t.Context(), guildA), store.WithGuild(t.Context(), guildB)
	_, err := b.app.Append(ctxB, "b-owned", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)

	var wg sync.WaitGroup
	var stolen atomic.Int32
	for w := range 6 {
		ctx, guild := ctxA, guildA
		if w%2 == 1 {
			ctx, guild = ctxB, guildB
		}
		wg.Go(func() {
			for i := range 25 {
				_, err := b.app.Append(ctx, fmt.Sprintf("%s-%d", guild, w), store.Exact(int64(i)), rawEvent("x", i))
				require.NoError(t, err)
				if guild == guildA && i%5 == 0 {
					_, err := b.app.Append(ctx, "b-owned", store.Any, rawEvent("steal", i))
					require.ErrorIs(t, err, store.ErrGuildMismatch)
					stolen.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Positive(t, stolen.Load())
	require.Equal(t, 1, b.countAll(t, "b-owned"), "guild A stored nothing in guild B's stream")
	for w := range 6 {
		guild := guildA
		if w%2 == 1 {
			guild = guildB
		}
		info, err := b.owner.StreamInfo(t.Context(), fmt.Sprintf("%s-%d", guild, w))
		require.NoError(t, err)
		require.Equal(t, guild, info.GuildID)
		require.Equal(t, int64(25), info.Version)
	}
	maxBatch := 0
	for _, o := range rec.of(store.OpAppend) {
		maxBatch = max(maxBatch, o.Coalesced)
	}
	t.Logf("largest coalesced statement: %d appends", maxBatch)
}

// TestCoalescedLockedStreamsHoldUpNoOne: streams whose rows transactions
// outside the store hold locked (a caller's transaction in another process,
// or anyone holding the bot's role, which may run append_events in a
// transaction it keeps open) hold up the store's appends to those streams,
// and no others. With two of guild A's streams locked, the appends to them
// once held both of the coalescer's flushers, and every other append of the
// Store, any guild's, queued behind them until the locks were released.
func TestCoalescedLockedStreamsHoldUpNoOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	held := []string{"held-1", "held-2", "held-3"}
	heldErrs := make([]error, len(held))
	var gates []*gate
	for _, id := range held {
		_, err := b.store.Append(b.ctx, id, store.NoStream, rawEvent("x", 0))
		require.NoError(t, err)
		gates = append(gates, lockStream(t, b.pool, id))
	}
	for i, id := range held[:2] {
		wg.Go(func() {
			_, heldErrs[i] = b.store.Append(b.ctx, id, store.Exact(1), rawEvent("x", 1))
		})
		waitLockWaiters(t, b.pool, i+1)
	}

	// Another guild's appends, and guild A's on other streams, go through
	// while both wait. (The bound only turns a hang into a failure.)
	bounded, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	for i := range 5 {
		_, err := b.store.Append(store.WithGuild(bounded, "guild-b"), fmt.Sprintf("free-b-%d", i), store.NoStream, rawEvent("x", i))
		require.NoError(t, err, "another guild's append is held up by guild A's locked streams")
		_, err = b.store.Append(bounded, fmt.Sprintf("free-a-%d", i), store.NoStream, rawEvent("x", i))
		require.NoError(t, err, "an append to a free stream is held up by locked ones")
	}

	// Appends that may share a flush with one on a locked stream: each
	// round, eight writers at once, one of them on held-3.
	for round := range 5 {
		var free sync.WaitGroup
		freeErrs := make([]error, 7)
		for w := range 7 {
			free.Go(func() {
				_, freeErrs[w] = b.store.Append(bounded, fmt.Sprintf("round-%d-%d", round, w), store.NoStream, rawEvent("x", w))
			})
		}
		wg.Go(func() {
			_, err := b.store.Append(b.ctx, "held-3", store.Any, rawEvent("x", round))
			assert.NoError(t, err)
		})
		free.Wait()
		for w, err := range freeErrs {
			require.NoError(t, err, "round %d, writer %d: held up by an append on a locked stream", round, w)
		}
	}

	for _, g := range gates {
		g.open(t)
	}
	wg.Wait()
	for i, err := range heldErrs {
		require.NoError(t, err, "the append to %s, once its stream was free", held[i])
	}
	for _, id := range held[:2] {
		require.Equal(t, 2, countRows(t, b, id), "%s holds its first event and the one that waited", id)
	}
	require.Equal(t, 6, countRows(t, b, "held-3"), "held-3 holds its first event and one per round")
	require.GreaterOrEqual(t, b.store.Stats().FlushHandOffs, int64(2), "the appends to held-1 and held-2 were handed off")
}

// TestCoalescedHandOffKeepsSessionLockTimeout: a flush's own bound on lock
// waits (Config.FlushLockWait) applies to the flush's statement alone. An
// append handed off after it waits under the session's lock_timeout, and
// when that runs out the caller gets ErrStatementCanceled, as without
// coalescing.
func TestCoalescedHandOffKeepsSessionLockTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = "400ms"
	pool, err := pgxpool.NewWithConfig(b.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{FlushLockWait: 20 * time.Millisecond})
	t.Cleanup(s.Close)
	_, err = s.Append(b.ctx, "held", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)
	g := lockStream(t, b.pool, "held")

	_, err = s.Append(b.ctx, "held", store.Exact(1), rawEvent("x", 1))
	require.ErrorIs(t, err, store.ErrStatementCanceled, "the session's lock_timeout ends the wait: %v", err)
	require.Equal(t, int64(1), s.Stats().FlushHandOffs, "the flush's bound ran out first, and the append was handed off")
	g.open(t)
	require.Equal(t, 1, countRows(t, b, "held"), "nothing of the canceled append is stored")
}

// heldStreamsStore returns a Store on a pool of four connections that
// waits at most five seconds for a stream's lock in a flush, and the gates
// of its streams gate-1, gate-2 and held (one event each), locked outside
// it. The bound is the window in which the tests' other appends must
// queue behind the two flushers waiting for the gates: a second was too
// short on a loaded machine (the first flusher's bound could run out
// before the appends had queued).
func heldStreamsStore(t *testing.T, b *bundle) (*store.Store, []*gate) {
	t.Helper()
	cfg := b.pool.Config().Copy()
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(b.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{FlushLockWait: 5 * time.Second, Retry: fastRetry()})
	t.Cleanup(s.Close)
	var gates []*gate
	for _, id := range []string{"gate-1", "gate-2", "held"} {
		_, err := s.Append(b.ctx, id, store.NoStream, rawEvent("x", 0))
		require.NoError(t, err)
		gates = append(gates, lockStream(t, b.pool, id))
	}
	return s, gates
}

// waitOnGates makes both of s's flushers wait for gate-1 and gate-2 (their
// appends join wg).
func waitOnGates(t *testing.T, b *bundle, s *store.Store, wg *sync.WaitGroup) {
	t.Helper()
	for i, id := range []string{"gate-1", "gate-2"} {
		wg.Go(func() {
			_, err := s.Append(b.ctx, id, store.Exact(1), rawEvent("x", 1))
			assert.NoError(t, err, id)
		})
		waitLockWaiters(t, b.pool, i+1)
	}
}

// appendToHeld starts n appends to held (they join wg).
func appendToHeld(t *testing.T, ctx context.Context, s *store.Store, wg *sync.WaitGroup, n int) {
	for i := range n {
		wg.Go(func() {
			_, err := s.Append(ctx, "held", store.Any, rawEvent("x", 1+i))
			assert.NoError(t, err, "append %d to held", i)
		})
	}
}

// requireFreeStreamsServed requires that appends to free streams go
// through while three of the pool's four connections wait for locks (two
// gates, held). (The bound only turns a hang into a failure.)
func requireFreeStreamsServed(t *testing.T, s *store.Store, ctx context.Context) {
	t.Helper()
	bounded, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := range 3 {
		_, err := s.Append(bounded, fmt.Sprintf("free-%d", i), store.NoStream, rawEvent("x", i))
		require.NoError(t, err, "an append to a free stream waits for a connection")
	}
}

// openGatesCheckHeld releases the locks, waits for the appends of wg and
// requires held to hold versions 1..n, once each.
func openGatesCheckHeld(t *testing.T, ctx context.Context, s *store.Store, gates []*gate, wg *sync.WaitGroup, n int) {
	t.Helper()
	for _, g := range gates {
		g.open(t)
	}
	wg.Wait()
	recs, err := s.ReadForward(ctx, "held", 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, n)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
	}
}

// TestCoalescedHandOffOneConnectionPerStream: when a flush's wait for a
// lock runs out, its calls on one stream are sent again one after another
// on one connection, not each on its own: a stream held outside the store
// takes one of the pool's connections, however many of the Store's appends
// wait for it, and the pool keeps serving the other streams.
func TestCoalescedHandOffOneConnectionPerStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, gates := heldStreamsStore(t, b)
	ctx := b.ctx

	// Both flushers wait for a gate (at most five seconds each); three
	// appends to held queue meanwhile and go out in one flush, which
	// waits for held and hands the three off.
	var wg sync.WaitGroup
	waitOnGates(t, b, s, &wg)
	appendToHeld(t, ctx, s, &wg, 3)
	require.Eventually(t, func() bool { return store.CoalescerQueued(s) == 3 }, 20*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return s.Stats().FlushHandOffs == 5 }, time.Minute, time.Millisecond,
		"the gates' appends and held's three are handed off")

	requireFreeStreamsServed(t, s, ctx)
	openGatesCheckHeld(t, ctx, s, gates, &wg, 4)
}

// TestCoalescedResentHandOffOneConnectionPerStream: when a flush's
// statement fails for one call's input (here a document PostgreSQL refuses
// to parse), each call is sent again alone; a stream held outside the store
// then still takes one connection. Its first call waits out the flush's
// lock bound and is handed off, and its later calls follow it on the same
// connection without a wait of their own. Sent one by one, each waited out
// the bound and took a connection of its own: in a pool of four, the other
// streams' appends then found none.
func TestCoalescedResentHandOffOneConnectionPerStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, gates := heldStreamsStore(t, b)
	ctx := b.ctx

	// Both flushers wait for a gate (at most five seconds each, then handed
	// off: two connections); meanwhile two appends to held and one whose
	// document the server refuses queue, and go out in one flush.
	var wg sync.WaitGroup
	waitOnGates(t, b, s, &wg)
	appendToHeld(t, ctx, s, &wg, 2)
	refused := make(chan error, 1)
	go func() {
		bad := rawEvent("x", 9)
		bad.Data = rawData("x", `{"a":"\u0000"}`)
		_, err := s.Append(ctx, "refused", store.NoStream, bad)
		refused <- err
	}()
	require.Eventually(t, func() bool { return store.CoalescerQueued(s) == 3 }, 20*time.Second, time.Millisecond)

	// The refused call gets its own error. (The bounds only turn a hang
	// into a failure.)
	select {
	case err := <-refused:
		require.ErrorIs(t, err, store.ErrInvalidEventData)
	case <-time.After(time.Minute):
		t.Fatal("the refused append did not return")
	}
	require.Eventually(t, func() bool { return s.Stats().FlushHandOffs == 4 }, time.Minute, time.Millisecond,
		"the gates' appends and held's two are handed off")

	requireFreeStreamsServed(t, s, ctx)
	openGatesCheckHeld(t, ctx, s, gates, &wg, 3)
	require.Zero(t, countRows(t, b, "refused"))
}

// TestCoalescedRefusedFlushAnnouncesNothing: a flush whose calls were all
// refused stored nothing, and wakes no one: neither the Store's consumers
// nor, through a NOTIFY, other processes' (each reads the feed when woken).
func TestCoalescedRefusedFlushAnnouncesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{FlushLockWait: -1})
	ctx := b.ctx
	_, err := b.store.Append(ctx, "conflict", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)
	var wg sync.WaitGroup
	gates := occupyFlushers(t, b, &wg)
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.store.Append(ctx, "conflict", store.Exact(5), rawEvent("x", i)) })
	}
	require.Eventually(t, func() bool { return store.CoalescerQueued(b.store) == len(errs) }, 20*time.Second, time.Millisecond)
	before := store.CommitsAnnounced(b.store)
	for _, g := range gates {
		g.open(t)
	}
	wg.Wait()
	for i, err := range errs {
		require.ErrorIs(t, err, store.ErrWrongExpectedVersion, "call %d", i)
	}
	require.Equal(t, before+2, store.CommitsAnnounced(b.store),
		"the gates' two appends are announced, the refused flush is not")
}

// TestCoalescedHandOffConnectionKilled: an append that its flush handed off
// and that waits for a stream held outside the store loses its connection.
// Its Append retries (the outcome was unknown; the ids are fixed), the
// retry waits for the stream in turn, and once the stream is free the
// event is stored exactly once and acknowledged.
func TestCoalescedHandOffConnectionKilled(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{FlushLockWait: 20 * time.Millisecond,
		Retry: store.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	ctx := b.ctx
	_, err := b.store.Append(ctx, "held", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)
	g := lockStream(t, b.pool, "held")

	ev := withID(rawEvent("x", 1))
	done := make(chan error, 1)
	go func() {
		_, err := b.store.Append(ctx, "held", store.Exact(1), ev)
		done <- err
	}()
	require.Eventually(t, func() bool { return b.store.Stats().FlushHandOffs == 1 }, time.Minute, time.Millisecond)
	pids := waitLockWaiters(t, b.pool, 1)
	var gone bool
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, pids[0]).Scan(&gone))
	require.True(t, gone)

	// The retry's flush waits out its bound too, and is handed off again.
	require.Eventually(t, func() bool { return b.store.Stats().FlushHandOffs == 2 }, time.Minute, time.Millisecond)
	waitLockWaiters(t, b.pool, 1)
	g.open(t)
	require.NoError(t, <-done, "acknowledged once the stream was free")
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE event_id = $1`, ev.ID).Scan(&n))
	require.Equal(t, 1, n, "stored exactly once")
	require.Equal(t, 2, countRows(t, b, "held"))
	require.GreaterOrEqual(t, b.store.Stats().Retries, int64(1))
}

// TestCoalescedSingleAppendsPipelined: a flush of single-event appends goes
// out as one pipeline of append_event statements, which the pool's tracer
// sees as one batch, and commits once: its events share one transaction.
// A call that fails in the pipeline (here a wrong expected version) fails
// alone: the flush's other calls are stored, in one transaction again.
func TestCoalescedSingleAppendsPipelined(t *testing.T) {
	t.Parallel()
	tr := &traces{}
	cfg, err := pgxpool.ParseConfig(testdb.NewDB(t).URL) // pgx's default mode: prepared statements
	require.NoError(t, err)
	(&store.Tracer{TraceFunc: tr.add}).Install(cfg)
	cfg.MaxConns = 20 // two gates, their appends, the flush and the test's own queries
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{FlushLockWait: -1})
	t.Cleanup(s.Close)
	b := &bundle{store: s, pool: pool, ctx: store.WithGuild(t.Context(), testGuild), admin: t.Context()}
	_, err = s.Append(b.ctx, "p-wrong", store.NoStream, rawEvent("x", 0))
	require.NoError(t, err)

	flush := func(streams []string, expected []store.ExpectedVersion) []error {
		var wg sync.WaitGroup
		gates := occupyFlushers(t, b, &wg)
		errs := make([]error, len(streams))
		for i, id := range streams {
			wg.Go(func() { _, errs[i] = s.Append(b.ctx, id, expected[i], rawEvent("x", i+1)) })
		}
		require.Eventually(t, func() bool { return store.CoalescerQueued(s) == len(streams) }, deliveryLimit, time.Millisecond)
		tr.reset()
		gates[1].open(t) // the second flusher takes the queued calls
		require.Eventually(t, func() bool { return store.CoalescerQueued(s) == 0 }, deliveryLimit, time.Millisecond)
		gates[0].open(t)
		wg.Wait()
		return errs
	}
	txOf := func(streams ...string) []string {
		rows, err := pool.Query(t.Context(), `SELECT DISTINCT transaction_id::text FROM eventstore.events
			WHERE stream_id = ANY ($1::text[]) AND stream_version > 0 AND event_type = 'x' AND data->>'n' <> '0'`, streams)
		require.NoError(t, err)
		txs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return txs
	}

	streams := []string{"p-1", "p-2", "p-3", "p-4"}
	errs := flush(streams, []store.ExpectedVersion{store.NoStream, store.NoStream, store.Any, store.NoStream})
	for i, err := range errs {
		require.NoError(t, err, streams[i])
	}
	require.Len(t, txOf(streams...), 1, "the flush committed once")
	batches := tr.find(store.TraceBatch, "")
	require.Len(t, batches, 1, "one pipeline")
	require.Equal(t, len(streams), batches[0].BatchSize)
	require.Len(t, tr.find(store.TraceBatchQuery, "name: EventsAppendOne "), len(streams))

	streams = []string{"q-1", "p-wrong", "q-2"}
	errs = flush(streams, []store.ExpectedVersion{store.NoStream, store.Exact(7), store.NoStream})
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], store.ErrWrongExpectedVersion)
	require.NoError(t, errs[2])
	require.Len(t, txOf("q-1", "q-2"), 1, "the others committed together")
	require.Equal(t, 1, countRows(t, b, "p-wrong"))
}
