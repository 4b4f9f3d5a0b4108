package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// insert_grouped: what group commit itself buys on this server and
// machine, with nothing of the store in the way. append_single's writers
// (8, one stream each, the same pre-serialized rows) hand each row to a
// minimal group commit, which writes everything queued with one multi-row
// INSERT into the twin table, one statement and one commit; against the
// same rows as autocommitted single-row INSERTs (append_single's baseline).
//
// The group commit follows the store's coalescer: an idle writer sends its
// own row at once; rows that arrive while flushes are in flight queue, and
// up to two flushers take everything queued (at most maxCoalescedRows),
// yielding the processor once first; a writer returns after its flush's
// commit. It does none of the store's work: no serialization, no version,
// guild or size check, no function call. Its ratio is therefore an upper
// bound for append_single's on the same machine: the most any store that
// groups single appends of this shape can reach there.

const (
	groupedFlushers  = 2  // as the store's coalescer
	maxCoalescedRows = 48 // as the store's maxCoalescedCalls
)

// groupedCall is one row waiting for its flush.
type groupedCall struct {
	row  []any
	done chan error
}

// groupedInserter is the minimal group commit.
type groupedInserter struct {
	r       *runner
	mu      sync.Mutex
	queue   []*groupedCall
	running int
	sent    int // rows taken from the queue or sent at once
	// statements and rows sent, and rows sent alone, for the report
	flushes, rows, alone int64
}

// insert writes row and returns after the commit of the statement it went
// out in.
func (g *groupedInserter) insert(ctx context.Context, row []any) error {
	call := &groupedCall{row: row, done: make(chan error, 1)}
	g.mu.Lock()
	if g.running == 0 && len(g.queue) == 0 {
		g.running++
		g.sent++
		g.mu.Unlock()
		g.send(ctx, []*groupedCall{call})
		g.mu.Lock()
		if len(g.queue) > 0 {
			go g.run(ctx)
		} else {
			g.running--
		}
		g.mu.Unlock()
		return <-call.done
	}
	g.queue = append(g.queue, call)
	if g.running < groupedFlushers {
		g.running++
		go g.run(ctx)
	}
	g.mu.Unlock()
	return <-call.done
}

// run flushes the queue until it is empty.
func (g *groupedInserter) run(ctx context.Context) {
	for {
		runtime.Gosched()
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		n := min(len(g.queue), maxCoalescedRows)
		calls := append([]*groupedCall(nil), g.queue[:n]...)
		g.queue = g.queue[n:]
		g.sent += n
		g.mu.Unlock()
		g.send(ctx, calls)
	}
}

// send writes calls' rows with one INSERT and settles every call.
func (g *groupedInserter) send(ctx context.Context, calls []*groupedCall) {
	rows := make([][]any, len(calls))
	for i, c := range calls {
		rows[i] = c.row
	}
	err := g.r.insertRows(ctx, insertSQL(len(rows)), rows)
	g.mu.Lock()
	g.flushes++
	g.rows += int64(len(rows))
	if len(rows) == 1 {
		g.alone++
	}
	g.mu.Unlock()
	for _, c := range calls {
		c.done <- err
	}
}

// appendGrouped runs p's rows through a fresh groupedInserter, one
// goroutine per writer.
func (r *runner) appendGrouped(ctx context.Context, p plan) (sample, error) {
	g := &groupedInserter{r: r}
	sm, err := timeCalls(ctx, p, func(ctx context.Context, c call) error {
		for _, row := range c.rows {
			if err := g.insert(ctx, row); err != nil {
				return err
			}
		}
		return nil
	})
	sm.flushes = flushCounts{appends: g.rows, alone: g.alone, flushes: float64(g.flushes)}
	return sm, err
}

// insertGrouped compares the minimal group commit with autocommitted
// single-row INSERTs; it has no target (see the top of this file).
func insertGrouped(ctx context.Context, r *runner) (Result, error) {
	side := func(name string, write func(ctx context.Context, p plan) (sample, error)) func(ctx context.Context, rep int) (sample, error) {
		return func(ctx context.Context, rep int) (sample, error) {
			// Both sides write the twin table: each needs rows of its own.
			p, err := r.planFor(name, singleShape, rep, false, true)
			if err != nil {
				return sample{}, err
			}
			return write(ctx, p)
		}
	}
	o, b, err := r.compare(ctx, "insert_grouped",
		side("insert_grouped", r.appendGrouped),
		side("insert_grouped_alone", func(ctx context.Context, p plan) (sample, error) { return r.appendBaseline(ctx, p, false) }))
	if err != nil {
		return Result{}, err
	}
	params := map[string]any{
		"writers": singleShape.writers, "events_per_call": singleShape.perCall, "calls_per_writer": r.scaled(singleShape.callsPerWriter, 2),
		"events_per_stream": eventsPerStream, "flushers": groupedFlushers, "max_rows_per_statement": maxCoalescedRows,
		"event": "guess_processed v1, pre-serialized rows",
	}
	return rateResult(params,
		measureOf(fmt.Sprintf("the same rows grouped: writers queue rows, up to %d flushers write everything queued with one multi-row INSERT into the twin table, 8 writers", groupedFlushers), o),
		measureOf("single-row INSERT transactions of the same rows into the twin table, 8 writers", b),
		nil), nil
}
