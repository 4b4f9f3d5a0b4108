package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// guild is the guild every workload writes for.
const guild = "guild-reliability"

// faultedApp is the application_name of the connections faults may hit.
const faultedApp = "reliability-faulted"

// rig is one test database with an admin pool on its server and a store
// that no fault touches (used to verify).
type rig struct {
	url    string // the test database, as its owner
	dbName string
	admin  *pgxpool.Pool // superuser on the server
	check  *store.Store
	pool   *pgxpool.Pool // the check store's pool
	ctx    context.Context
}

// newRig returns a rig on a fresh database of the shared test server.
func newRig(t *testing.T) *rig {
	t.Helper()
	d := testdb.NewDB(t)
	return rigOn(t, d.URL, testdb.ServerURL(t))
}

// rigOn returns a rig on the database at dbURL; adminURL is a superuser
// connection to the same server.
func rigOn(t *testing.T, dbURL, adminURL string) *rig {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	pool := testdb.Connect(t, dbURL)
	check := store.New(pool, store.Config{MaxStreamEvents: -1})
	t.Cleanup(check.Close)
	return &rig{
		url:    dbURL,
		dbName: strings.TrimPrefix(u.Path, "/"),
		admin:  testdb.Connect(t, adminURL),
		check:  check,
		pool:   pool,
		ctx:    store.WithGuild(t.Context(), guild),
	}
}

// faultedPool opens a pool whose connections faults may hit (they carry
// the application_name faultedApp), configured further by configure.
func (r *rig) faultedPool(t *testing.T, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(r.url)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["application_name"] = faultedApp
	cfg.MaxConns = 8
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// injection is a fault being injected.
type injection struct {
	// injected returns how many faults have been injected so far.
	injected func() int
	// stop ends the fault and returns how many faults it injected.
	stop func() int
}

// terminator kills a random share of the faulted connections of the rig's
// database every interval, from the admin connection, until it is
// stopped; it counts the backends terminated.
func (r *rig) terminator(t *testing.T, interval time.Duration) injection {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var killed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var n int64
			err := r.admin.QueryRow(ctx, `
				SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))
				  FROM pg_stat_activity a
				 WHERE a.datname = $1 AND a.application_name LIKE $2 AND a.pid <> pg_backend_pid()
				   AND random() < 0.6`, r.dbName, faultedApp+"%").Scan(&n)
			if err == nil {
				killed.Add(n)
			} else if ctx.Err() == nil {
				t.Errorf("terminate backends: %v", err)
			}
		}
	})
	return injection{
		injected: func() int { return int(killed.Load()) },
		stop: func() int {
			cancel()
			wg.Wait()
			return int(killed.Load())
		},
	}
}

// scenario is one fault run: a workload on faulted stores with consumers
// reading along, a fault injected meanwhile, then every check.
type scenario struct {
	fault    string
	duration time.Duration
	// pool configures the faulted pool.
	pool func(*pgxpool.Config)
	// stores are the configurations of the faulted stores the writers
	// share (MaxStreamEvents is set to -1: no limit).
	stores []store.Config
	// work is the workload; its ledger is set by run.
	work workload
	// refusable are the definitive errors the run expects besides
	// conflicts.
	refusable func(error) bool
	// inject starts the fault. It may be nil when the workload injects
	// the fault itself (counted by faults).
	inject func(t *testing.T) injection
	// faults counts the faults the workload injected itself (pool is the
	// writers' pool).
	faults func(f figures, pool *pgxpool.Pool) int
	// consumerPool, when set, configures the pool of the consumers (the
	// live feed reader and the subscriptions); by default they share the
	// writers' faulted pool.
	consumerPool func(*pgxpool.Config)
	// minFaults is the least number of faults a meaningful run injects.
	minFaults int
	// readers is the number of stream readers running along (see reader).
	readers int
	// restartEvery is how often the persistent subscription's consumer is
	// restarted; default half the duration.
	restartEvery time.Duration
}

// run runs the scenario on r and returns its figures.
func (sc scenario) run(t *testing.T, r *rig) figures {
	t.Helper()
	start := time.Now()
	pool := r.faultedPool(t, sc.pool)
	stores := make([]*store.Store, len(sc.stores))
	for i, cfg := range sc.stores {
		cfg.MaxStreamEvents = -1
		stores[i] = store.New(pool, cfg)
		t.Cleanup(stores[i].Close)
	}
	consumers := stores[0]
	if sc.consumerPool != nil {
		consumers = store.New(r.faultedPool(t, sc.consumerPool), store.Config{MaxStreamEvents: -1})
		t.Cleanup(consumers.Close)
	}
	l := newLedger(func(err error) bool {
		return classify(err) == refused &&
			(isConflict(err) || errors.Is(err, store.ErrTransactionConflict) || (sc.refusable != nil && sc.refusable(err)))
	})
	sc.work.ledger = l

	live, stopLive := startFeedReader(t, r.ctx, consumers)
	memSub, memHandle := subscriber(t, r.ctx, consumers)
	persist := startPersistent(t, r.ctx, consumers, r.check, "reliability-"+strings.ReplaceAll(sc.fault, " ", "-"))

	stopWriters := sc.work.run(r.ctx, stores)
	stopReaders := startReaders(t, r.ctx, consumers, sc.readers, sc.work.streamIDs())
	var fault injection
	if sc.inject != nil {
		fault = sc.inject(t)
	}
	restartEvery := sc.restartEvery
	if restartEvery == 0 {
		restartEvery = sc.duration / 2
	}
	end := time.Now().Add(sc.duration)
	for time.Until(end) > restartEvery/2 {
		time.Sleep(min(restartEvery, time.Until(end)))
		if time.Until(end) > 0 {
			persist.restart(t, r.ctx)
		}
	}
	time.Sleep(time.Until(end))
	// The duration is the least a run lasts. Under a fault that refuses
	// most statements (a statement_timeout of a few milliseconds on a busy
	// machine) it goes on until a writer's append has been acknowledged, so
	// that every run checks stored events too, and on a slow machine (few
	// connections alive to kill, few appends to cancel) until the faults
	// injected and counted are enough for a meaningful run.
	require.Eventually(t, func() bool {
		if n, _ := l.ackedByWriters(); n == 0 {
			return false
		}
		n := 0
		if fault.injected != nil {
			n += fault.injected()
		}
		if sc.faults != nil {
			var f figures
			l.fill(&f)
			n += sc.faults(f, pool)
		}
		return n >= sc.minFaults
	}, 2*time.Minute, 10*time.Millisecond, "no append succeeded, or too few faults, under %s", sc.fault)
	injected := 0
	if fault.stop != nil {
		injected = fault.stop()
	}
	stopWriters()
	reads := stopReaders()

	l.requireNoUnexpected(t)
	f := figures{Test: t.Name(), Fault: sc.fault}
	f.ReconcileStored, f.ReconcileAppended, f.ReconcileAbsent = l.reconcile(t, r.ctx, r.check, r.pool)
	v := l.verifyStored(t, r.pool)
	l.fill(&f)
	if sc.faults != nil {
		injected += sc.faults(f, pool)
	}
	f.FaultsInjected = injected
	require.GreaterOrEqual(t, injected, sc.minFaults, "too few faults injected for a meaningful run")
	require.Positive(t, f.AckedBatches, "no append succeeded")

	f.StoredEvents, f.AckedEvents, f.Lost, f.Duplicates = len(v.stored), v.ackedEvents, v.lost, v.duplicates
	f.FeedEvents = readWholeFeed(t, r.ctx, r.check, v.stored)
	live.waitAll(t, v.stored, 60*time.Second)
	stopLive()
	requireRunning(t, "in-memory subscription", memHandle)
	memSub.waitAll(t, v.stored, 60*time.Second)
	f.LiveFeedEvents, f.SubscriptionEvents = live.total, memSub.total
	f.PersistentDelivery, f.PersistentRedelive = persist.verify(t, v.stored)
	f.PersistentRestarts = persist.restarts
	var storeAppends, storeEvents int64
	for _, s := range stores {
		st := s.Stats()
		f.StoreConflicts += st.Conflicts
		f.StoreRetries += st.Retries
		storeAppends += st.Appends
		storeEvents += st.EventsAppended
	}
	require.Equal(t, int64(f.Conflicts), f.StoreConflicts, "conflicts seen by the writers and counted by the store")
	writerAppends, writerEvents := l.ackedByWriters()
	require.Equal(t, writerAppends, storeAppends, "appends acknowledged to the writers and counted by the store")
	require.Equal(t, writerEvents, storeEvents, "events acknowledged to the writers and counted by the store")
	f.Reads, f.ReadErrors = reads.reads, reads.errors
	f.Duration = time.Since(start).Round(time.Millisecond).String()
	f.log(t)
	return f
}

func isConflict(err error) bool {
	return err != nil && store.Classify(err) == store.ClassConflict
}

func (f figures) String() string {
	return fmt.Sprintf("%s: %d faults, %d/%d appends acknowledged, %d events stored", f.Fault, f.FaultsInjected, f.AckedBatches, f.Attempts, f.StoredEvents)
}
