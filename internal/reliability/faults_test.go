package reliability_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// faultDuration is how long each fault scenario appends under its fault.
const faultDuration = 4 * time.Second

// baseWorkload: eight writers, each with two streams of its own, all
// sharing three, batches of 1 to 100 events, half with an exact expected
// version.
func baseWorkload() workload {
	return workload{
		writers: 8, ownStreams: 2, sharedStreams: 3, maxBatch: 100, pad: 200,
		appendContext: timeoutContext(30 * time.Second),
		resend:        2,
	}
}

// retryingAndNot: one store retries recoverable errors itself (the
// default policy), the other does not, so that callers see ambiguous
// errors too.
func retryingAndNot() []store.Config {
	return []store.Config{{}, {Retry: store.RetryPolicy{MaxAttempts: 1}}}
}

// TestFaultTerminateBackends kills the writers', readers' and subscribers'
// backends from an admin connection again and again while they work.
func TestFaultTerminateBackends(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	scenario{
		fault:     "pg_terminate_backend",
		duration:  faultDuration,
		stores:    retryingAndNot(),
		work:      baseWorkload(),
		minFaults: 10,
		inject: func(t *testing.T) injection {
			return r.terminator(t, 40*time.Millisecond)
		},
	}.run(t, r)
}

// TestFaultCancelMidBatch gives every append a context that ends after a
// random 0.2 to 8 ms, so that many end while the batch is on the wire or
// being stored.
func TestFaultCancelMidBatch(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	work := baseWorkload()
	work.pad = 2000
	work.appendContext = func(ctx context.Context, rnd *rand.Rand) (context.Context, context.CancelFunc) {
		if rnd.IntN(4) == 0 {
			return context.WithTimeout(ctx, 30*time.Second)
		}
		return context.WithTimeout(ctx, 200*time.Microsecond+rand.N(8*time.Millisecond))
	}
	scenario{
		fault:     "context cancelled mid-batch",
		duration:  faultDuration,
		stores:    retryingAndNot(),
		work:      work,
		minFaults: 10,
		faults:    func(f figures, _ *pgxpool.Pool) int { return f.AmbiguousCanceled },
	}.run(t, r)
}

// TestFaultPoolExhaustion runs sixteen writers on a pool of two
// connections with append timeouts of 5 to 150 ms: queueing for a
// connection (or, with coalescing, for the next flush) takes longer than
// that often, so many appends time out waiting and others while they run.
func TestFaultPoolExhaustion(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	work := baseWorkload()
	work.writers = 16
	work.appendContext = func(ctx context.Context, rnd *rand.Rand) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, 5*time.Millisecond+rand.N(145*time.Millisecond))
	}
	scenario{
		fault:        "pool exhausted (2 connections, 16 writers, 5-150 ms timeouts)",
		duration:     faultDuration,
		pool:         func(c *pgxpool.Config) { c.MaxConns = 2 },
		consumerPool: func(c *pgxpool.Config) { c.MaxConns = 2 },
		stores:       retryingAndNot(),
		work:         work,
		minFaults:    10,
		// Faults: acquires that gave up waiting for a connection, and
		// appends whose time ran out while they waited (for a connection,
		// or queued behind a coalesced flush) or ran.
		faults: func(f figures, pool *pgxpool.Pool) int {
			return int(pool.Stat().CanceledAcquireCount()) + f.AmbiguousCanceled
		},
	}.run(t, r)
}

// TestFaultStatementTimeout sets statement_timeout to 3 ms on every
// connection of the writers, readers and subscribers: big batches, appends
// waiting for a shared stream's lock and long reads are cancelled by the
// server, which the store reports as ErrStatementCanceled.
func TestFaultStatementTimeout(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	work := baseWorkload()
	work.pad = 1000
	scenario{
		fault:    "statement_timeout = 3ms",
		duration: faultDuration,
		pool: func(c *pgxpool.Config) {
			c.ConnConfig.RuntimeParams["statement_timeout"] = "3ms"
		},
		stores:    retryingAndNot(),
		work:      work,
		refusable: isStatementTimeout,
		minFaults: 10,
		faults:    func(f figures, _ *pgxpool.Pool) int { return f.ServerCancelled },
	}.run(t, r)
}

// isStatementTimeout reports the error of a statement the server
// cancelled because of statement_timeout: nothing of it was stored. It is
// typed (ErrStatementCanceled) and classified as cancelled.
func isStatementTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, store.ErrStatementCanceled) && store.Classify(err) == store.ClassCanceled &&
		errors.As(err, &pgErr) && pgErr.Code == "57014"
}

// TestFaultServerRestart restarts the PostgreSQL server twice (pg_ctl
// restart -m fast) while the writers, readers and subscribers work. It runs
// on a cluster of its own, never on the shared test server.
func TestFaultServerRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	r := rigOn(t, c.database(t, "reliability"), c.url)
	const restarts = 2
	duration := 6 * time.Second
	scenario{
		fault:     "pg_ctl restart -m fast",
		duration:  duration,
		stores:    retryingAndNot(),
		work:      baseWorkload(),
		minFaults: restarts,
		inject: func(t *testing.T) injection {
			var n atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range restarts {
					time.Sleep(duration / (restarts + 1))
					if err := c.restart(t); err != nil {
						t.Error(err)
						return
					}
					n.Add(1)
				}
			}()
			return injection{
				injected: func() int { return int(n.Load()) },
				stop:     func() int { <-done; return int(n.Load()) },
			}
		},
	}.run(t, r)
}
