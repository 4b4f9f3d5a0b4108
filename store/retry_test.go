package store_test

import (
	"context"
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

// fastRetry retries quickly, so that tests do not wait.
func fastRetry() store.RetryPolicy {
	return store.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

// withID gives a test event a fixed id.
func withID(ev store.Event) store.Event {
	ev.ID = uuid.New()
	return ev
}

// requireOneCopy checks that streamID holds exactly the events with ids, in
// that order, after its first skip events.
func requireOneCopy(t *testing.T, b *bundle, streamID string, skip int, ids ...uuid.UUID) {
	t.Helper()
	recs, err := b.store.ReadForward(b.ctx, streamID, 0, 100)
	require.NoError(t, err)
	require.Len(t, recs, skip+len(ids))
	var got []uuid.UUID
	for _, r := range recs[skip:] {
		got = append(got, r.ID)
	}
	require.ElementsMatch(t, ids, got)
}

func TestRetryPolicyBackoff(t *testing.T) {
	t.Parallel()
	p := store.RetryPolicy{BaseDelay: 10 * time.Millisecond, MaxDelay: 70 * time.Millisecond}
	for attempt, want := range map[int]time.Duration{
		1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond,
		4: 70 * time.Millisecond, 30: 70 * time.Millisecond,
	} {
		require.Equal(t, want, p.Ceiling(attempt), "attempt %d", attempt)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Backoff(attempt)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.Less(t, d, want)
			seen[d] = true
		}
		require.Greater(t, len(seen), 100, "full jitter spreads the delays")
	}
	def := store.RetryPolicy{}
	require.Equal(t, store.DefaultRetryBaseDelay, def.Ceiling(1))
	require.Equal(t, store.DefaultRetryMaxDelay, def.Ceiling(100))
}

// TestInTxRetriesDeadlock: two transactions lock two streams in opposite
// order; PostgreSQL aborts one with a deadlock (40P01); the store retries
// it and both commit, each event stored exactly once.
func TestInTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, Retry: fastRetry()})
	for _, s := range []string{"left", "right"} {
		_, err := b.store.Append(b.ctx, s, store.NoStream, rawEvent("test_event", 0))
		require.NoError(t, err)
	}
	type writer struct {
		first, second string
		evs           [2]store.Event
		calls         atomic.Int32
	}
	ws := []*writer{
		{first: "left", second: "right", evs: [2]store.Event{withID(rawEvent("test_event", 1)), withID(rawEvent("test_event", 2))}},
		{first: "right", second: "left", evs: [2]store.Event{withID(rawEvent("test_event", 3)), withID(rawEvent("test_event", 4))}},
	}
	var barrier sync.WaitGroup
	barrier.Add(len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			errs[i] = b.store.InTx(b.ctx, func(ctx context.Context) error {
				attempt := w.calls.Add(1)
				if _, err := b.store.Append(ctx, w.first, store.Any, w.evs[0]); err != nil {
					return err
				}
				if attempt == 1 {
					barrier.Done() // both hold their first lock, then want the other's
					barrier.Wait()
				}
				_, err := b.store.Append(ctx, w.second, store.Any, w.evs[1])
				return err
			})
		})
	}
	wg.Wait()
	require.NoError(t, errs[0], "after %d attempts", ws[0].calls.Load())
	require.NoError(t, errs[1], "after %d attempts", ws[1].calls.Load())
	calls := int64(ws[0].calls.Load() + ws[1].calls.Load())
	require.GreaterOrEqual(t, calls, int64(3), "the deadlock victim ran again")

	requireOneCopy(t, b, "left", 1, ws[0].evs[0].ID, ws[1].evs[1].ID)
	requireOneCopy(t, b, "right", 1, ws[1].evs[0].ID, ws[0].evs[1].ID)

	var deadlocks int
	for _, o := range rec.of(store.OpTransaction) {
		if o.Err == nil {
			continue
		}
		require.Equal(t, store.ClassTransient, o.Class)
		require.ErrorIs(t, o.Err, store.ErrTransactionConflict)
		require.True(t, o.Retrying)
		require.Equal(t, testGuild, o.GuildID)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, o.Err, &pgErr)
		if pgErr.Code == "40P01" {
			deadlocks++
		}
	}
	// A retry may meet the survivor again before it commits and deadlock
	// once more; every deadlock is retried.
	require.GreaterOrEqual(t, deadlocks, 1)
	st := b.store.Stats()
	require.Equal(t, calls-2, st.Retries)
	require.Equal(t, int64(2), st.Transactions)
}

// TestInTxRetriesSerializationFailure: two SERIALIZABLE transactions each
// read one stream and append to the other (write skew); PostgreSQL aborts
// one with a serialization failure (40001); the store retries it, and the
// retry, which reads again, commits. Each event is stored exactly once.
//
// A retry reads only once the other writer is done (should both be
// aborted, the first writer's retry goes first), and the policy allows ten
// attempts: in one CI run under a loaded machine every one of five attempts
// of a writer failed with 40001. The retry's snapshot may still predate the
// other's commit (the transaction sets its guild first), so that attempt
// can fail once more.
func TestInTxRetriesSerializationFailure(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	retry := fastRetry()
	retry.MaxAttempts = 10
	b := setup(t, store.Config{Observer: rec, Retry: retry})
	for _, s := range []string{"doctor-a", "doctor-b"} {
		_, err := b.store.Append(b.ctx, s, store.NoStream, rawEvent("on_call", 0))
		require.NoError(t, err)
	}
	serializable := pgx.TxOptions{IsoLevel: pgx.Serializable}
	type writer struct {
		read, write string
		ev          store.Event
		calls       atomic.Int32
		done        chan struct{}
		retrying    chan struct{} // closed when its first retry starts
	}
	ws := []*writer{
		{read: "doctor-a", write: "doctor-b", ev: withID(rawEvent("off_call", 1)), done: make(chan struct{}), retrying: make(chan struct{})},
		{read: "doctor-b", write: "doctor-a", ev: withID(rawEvent("off_call", 2)), done: make(chan struct{}), retrying: make(chan struct{})},
	}
	var barrier sync.WaitGroup
	barrier.Add(len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		other := ws[1-i]
		wg.Go(func() {
			defer close(w.done)
			errs[i] = b.store.InTxWith(b.ctx, serializable, func(ctx context.Context) error {
				attempt := w.calls.Add(1)
				if attempt == 2 {
					close(w.retrying)
				}
				if attempt > 1 {
					first := other.retrying // both retrying: the first writer goes on
					if i == 1 {
						first = nil
					}
					select {
					case <-other.done:
					case <-first:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				if _, err := b.store.ReadForward(ctx, w.read, 0, 10); err != nil {
					return err
				}
				if attempt == 1 {
					barrier.Done() // both have read before either writes
					barrier.Wait()
				}
				_, err := b.store.Append(ctx, w.write, store.Any, w.ev)
				return err
			})
		})
	}
	wg.Wait()
	require.NoError(t, errs[0], "after %d attempts", ws[0].calls.Load())
	require.NoError(t, errs[1], "after %d attempts", ws[1].calls.Load())
	calls := int64(ws[0].calls.Load() + ws[1].calls.Load())
	require.GreaterOrEqual(t, calls, int64(3), "at least one transaction ran again")
	requireOneCopy(t, b, "doctor-b", 1, ws[0].ev.ID)
	requireOneCopy(t, b, "doctor-a", 1, ws[1].ev.ID)

	var failed int64
	for _, o := range rec.of(store.OpTransaction) {
		if o.Err != nil {
			require.ErrorIs(t, o.Err, store.ErrTransactionConflict)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, o.Err, &pgErr)
			require.Equal(t, "40001", pgErr.Code)
			require.True(t, o.Retrying)
			failed++
		}
	}
	require.Equal(t, calls-2, failed, "every extra run follows a serialization failure")
}

// TestInTxRetriesAfterBackendTerminated: the transaction's server process
// is terminated (pg_terminate_backend, SQLSTATE 57P01) after a first
// append; the store retries the whole transaction on a new connection and
// each event is stored exactly once.
func TestInTxRetriesAfterBackendTerminated(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, Retry: fastRetry()})
	ev1, ev2 := withID(rawEvent("test_event", 1)), withID(rawEvent("test_event", 2))
	var calls atomic.Int32
	err := b.store.InTx(b.ctx, func(ctx context.Context) error {
		if _, err := b.store.Append(ctx, "t-1", store.NoStream, ev1); err != nil {
			return err
		}
		if calls.Add(1) == 1 {
			tx, _ := store.TxFromContext(ctx)
			var gone bool
			require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, tx.Conn().PgConn().PID()).Scan(&gone))
			require.True(t, gone)
		}
		_, err := b.store.Append(ctx, "t-2", store.NoStream, ev2)
		return err
	})
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load())
	requireOneCopy(t, b, "t-1", 0, ev1.ID)
	requireOneCopy(t, b, "t-2", 0, ev2.ID)

	txs := rec.of(store.OpTransaction)
	require.Len(t, txs, 2)
	require.Equal(t, store.ClassConnection, txs[0].Class)
	require.ErrorIs(t, txs[0].Err, store.ErrConnection)
	require.True(t, txs[0].Retrying)
	require.NoError(t, txs[1].Err)
	require.Equal(t, 2, txs[1].Attempt)
}

// TestAppendRetriesAfterBackendTerminated: an autocommit Append waits for a
// lock when its server process is terminated; the store re-sends the same
// events (same ids) on a new connection, and they are stored once.
func TestAppendRetriesAfterBackendTerminated(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, Retry: fastRetry()})
	_, err := b.store.Append(b.ctx, "locked", store.NoStream, rawEvent("test_event", 0))
	require.NoError(t, err)

	lock, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = lock.Rollback(context.Background()) }()
	_, err = lock.Exec(t.Context(), `SELECT 1 FROM eventstore.streams WHERE stream_id = 'locked' FOR UPDATE`)
	require.NoError(t, err)

	ev := withID(rawEvent("test_event", 1))
	done := make(chan error, 1)
	var res store.AppendResult
	go func() {
		var err error
		res, err = b.store.Append(b.ctx, "locked", store.Exact(1), ev)
		done <- err
	}()
	var pid uint32
	require.Eventually(t, func() bool {
		err := b.pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%append_event%'`).Scan(&pid)
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	var gone bool
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, pid).Scan(&gone))
	require.True(t, gone)
	require.NoError(t, lock.Rollback(t.Context()))

	require.NoError(t, <-done)
	require.Equal(t, int64(2), res.Version)
	requireOneCopy(t, b, "locked", 1, ev.ID)
	appends := rec.of(store.OpAppend)
	require.Len(t, appends, 3) // the setup append, the terminated attempt, the retry
	require.Equal(t, store.ClassConnection, appends[1].Class)
	require.True(t, appends[1].Retrying)
	require.Equal(t, 1, appends[1].Attempt)
	require.NoError(t, appends[2].Err)
	require.Equal(t, 2, appends[2].Attempt)
	require.Equal(t, int64(1), b.store.Stats().Retries)
}

// TestLogicalErrorsAreNotRetried: a wrong expected version, a validation
// error or a guild error is returned after exactly one attempt.
func TestLogicalErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec, Retry: fastRetry()})
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvent("test_event", 0))
	require.NoError(t, err)

	_, err = b.store.Append(b.ctx, "s", store.Exact(5), rawEvent("test_event", 1))
	require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
	_, err = b.store.Append(b.ctx, "$bad", store.Any, rawEvent("test_event", 1))
	require.ErrorIs(t, err, store.ErrInvalidStreamID)
	_, err = b.store.Append(store.WithGuild(t.Context(), "guild-2"), "s", store.Any, rawEvent("test_event", 1))
	require.ErrorIs(t, err, store.ErrGuildMismatch)
	require.Len(t, rec.of(store.OpAppend), 4, "one attempt each")

	var calls atomic.Int32
	err = b.store.InTx(b.ctx, func(ctx context.Context) error {
		calls.Add(1)
		_, err := b.store.Append(ctx, "s", store.Exact(7), rawEvent("test_event", 1))
		return err
	})
	require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
	require.Equal(t, int32(1), calls.Load())
	require.Zero(t, b.store.Stats().Retries)
	require.Equal(t, 1, countRows(t, b, "s"))
}

// TestRetryGivesUp: a transaction that keeps failing with a recoverable
// error runs MaxAttempts times and returns the last error.
func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, store.Config{Retry: store.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}})
	var calls atomic.Int32
	err := b.store.InTx(b.ctx, func(ctx context.Context) error {
		calls.Add(1)
		return &pgconn.PgError{Code: "40001", Message: "injected serialization failure"}
	})
	require.ErrorIs(t, err, store.ErrTransactionConflict)
	require.Equal(t, int32(3), calls.Load())
	st := b.store.Stats()
	require.Equal(t, int64(2), st.Retries)
	require.Equal(t, int64(3), st.Rollbacks)
	require.Equal(t, int64(3), st.Errors[store.ClassTransient])
}

// TestRetryStopsOnCancel: cancelling the context while the store waits
// between attempts returns the context's error at once.
func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(store.WithGuild(t.Context(), testGuild))
	defer cancel()
	var cancelledAt atomic.Int64
	obs := store.ObserverFunc(func(_ context.Context, o store.Observation) {
		if o.Op == store.OpTransaction && o.Retrying {
			// The store now sleeps up to an hour; cancel in the middle of it.
			time.AfterFunc(50*time.Millisecond, func() {
				cancelledAt.Store(time.Now().UnixNano())
				cancel()
			})
		}
	})
	b := setup(t, store.Config{Observer: obs, Retry: store.RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour}})
	var calls atomic.Int32
	err := b.store.InTx(ctx, func(ctx context.Context) error {
		calls.Add(1)
		return &pgconn.PgError{Code: "40P01", Message: "injected deadlock"}
	})
	returned := time.Now()
	require.ErrorIs(t, err, context.Canceled)
	require.NotZero(t, cancelledAt.Load())
	require.Less(t, returned.Sub(time.Unix(0, cancelledAt.Load())), time.Second)
	// The first backoff is random in [0, 1h): a second attempt is all but impossible.
	require.LessOrEqual(t, calls.Load(), int32(2))
}

// TestRetryPolicyWait: Wait sleeps at most the attempt's ceiling and stops
// at once when the context ends.
func TestRetryPolicyWait(t *testing.T) {
	t.Parallel()
	p := store.RetryPolicy{BaseDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
	start := time.Now()
	require.NoError(t, p.Wait(t.Context(), 1))
	require.Less(t, time.Since(start), time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	long := store.RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour}
	require.ErrorIs(t, long.Wait(ctx, 1), context.Canceled)
}
