package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

// TestGroupedInserter: rows that queue while flushes are in flight go out
// together, and every row is written exactly once. The twin table is locked
// while eight writers insert, so that both flushers wait in the database
// and every other row queues; once all eight are sent or queued, the lock
// goes and whatever queued is written in one statement.
func TestGroupedInserter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := testdb.New(t)
	_, err := pool.Exec(ctx, `CREATE SCHEMA `+twinSchema+`;
CREATE TABLE `+twinSchema+`.events (LIKE eventstore.events INCLUDING ALL)`)
	require.NoError(t, err)
	const writers = 8
	p, err := newPlan(planSpec{tag: "grouped", writers: writers, callsPerWriter: 1, perCall: 1,
		eventsPerStream: eventsPerStream, rows: true}, serde.NewJSON(events.NewRegistry()))
	require.NoError(t, err)

	lock, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback(context.Background()) }()
	_, err = lock.Exec(ctx, `LOCK TABLE `+twinSchema+`.events IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)

	g := &groupedInserter{r: &runner{pool: pool}}
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { errs[w] = g.insert(ctx, p[w][0].rows[0]) })
	}
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.sent+len(g.queue) == writers
	}, 20*time.Second, time.Millisecond, "every row is sent or queued")
	g.mu.Lock()
	require.Equal(t, groupedFlushers, g.running, "both flushers wait for the lock; the other rows queue")
	g.mu.Unlock()
	require.NoError(t, lock.Rollback(ctx))
	wg.Wait()

	for w, err := range errs {
		require.NoError(t, err, "writer %d", w)
	}
	require.EqualValues(t, writers, g.rows)
	require.LessOrEqual(t, g.flushes, int64(groupedFlushers+1), "the queue went out in one statement")
	var rows, ids int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM `+twinSchema+`.events`).Scan(&rows, &ids))
	require.Equal(t, writers, rows)
	require.Equal(t, writers, ids)
}
