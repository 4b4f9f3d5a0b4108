package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Coalesced appends (group commit).
//
// Appends outside a caller's transaction go through the Store's coalescer.
// When no flush is in flight an append goes out at once, alone, exactly as
// without coalescing. Appends that arrive while flushes are in flight queue,
// and the next free flusher sends everything queued as one statement per
// guild (eventstore.append_batch; a flush's guilds side by side): one round
// trip and one commit for all of a guild's appends. Nothing waits on a
// timer.
//
// Each call keeps its own outcome: append_batch stores every call that
// passes the fast path's checks with one INSERT, and runs each other call
// in a subtransaction of its own, so a conflict or a full stream fails that
// call alone. A call returns after the shared commit. When the statement as
// a whole fails, every call of it gets that error and its Append retries it
// as usual (the ids are fixed, so a retry after an unknown outcome is a
// replay); when it fails for a reason that belongs to one call (a stored
// event id: a replay or a duplicate; a document PostgreSQL refuses to
// parse), each call is sent again alone so that only that call fails.
//
// A guild's calls that each append one event (GameBot's commands) go out
// first as a pipeline instead: one prepared append_event statement per call,
// as each would go alone, and one Sync, so PostgreSQL runs them in one
// implicit transaction with one commit. Per call that costs the server less
// than append_batch's arrays and its statements (docs/PERFORMANCE-LOG.md,
// "Single appends of a flush as one pipeline"). A statement that fails
// aborts the pipeline and nothing is stored; the calls then go out through
// append_batch, which decides each one, except when the failure is the
// flush's lock wait: the calls on the locked stream are handed off (below)
// and the others go again. A failure of the connection, or a session the
// server ends (a FATAL error), leaves every call's outcome unknown, as for
// append_batch's statement. The pipeline is used when the store prepares its
// statements (pgx's default mode) and the pool's tracer, if any, traces
// batches.
//
// Calls are sorted by guild and stream within a flush, so two flushes (of
// two Stores) lock stream rows in the same order and cannot deadlock each
// other.
//
// A stream is in at most one of a Store's flushes at a time. A call whose
// stream is in a flush in flight (or in an append handed off, below) stays
// queued until that one is settled, and then goes out with the calls on its
// stream that queued meanwhile. Sent at once, it would only wait in the
// database for the stream's row lock, which the other flush holds until its
// commit, and hold a flusher while it waited; so the other flusher takes
// the other streams' calls, and a stream that many writers share (a game's
// players) gets one statement per commit with all of their appends.
//
// A flush waits at most Config.FlushLockWait for a lock that another
// transaction holds (a stream row, or a stream id being created): its
// statement sets lock_timeout. When the wait runs out, nothing of the
// statement is stored, and each of its calls is handed off: sent again
// alone, without the bound, by a goroutine of its own, so that only the
// calls on the locked stream wait, each on a connection of its own, and the
// flusher goes back to the queue. Without the bound, two appends to
// streams that a caller's transaction (or anyone holding the bot's role)
// kept locked held both flushers, and every other append of the Store, any
// guild's, queued behind them.

const (
	// maxCoalescedCalls bounds one flush; a longer queue goes out in
	// several. It keeps a flush's statement short, and the subtransactions
	// of its calls that leave the fast path under the number a backend
	// tracks without overflowing (64).
	maxCoalescedCalls = 48
	// coalesceFlushers is how many flushes may be in flight at once: while
	// one waits for its commit, the next runs.
	coalesceFlushers = 2
	// maxParallelGroups bounds the connections one flush uses at once for
	// the statements of its guilds.
	maxParallelGroups = 2
)

// appendCall is one Append waiting in the coalescer.
type appendCall struct {
	ctx    context.Context // the caller's: its values (guild, trace) go with the SQL
	stream string
	params db.EventsAppendParams
	done   chan struct{}
	// set before done is closed
	res   AppendResult
	err   error
	batch int // how many calls went out in the same flush
	// handedOff: sent again alone by a goroutine of its own, which settles
	// it. Set by the flusher before it starts that goroutine; read by the
	// flusher, and by the caller once done is closed.
	handedOff bool
}

// flushUse is how the coalescer sent one append: with how many appends in
// its statement (1: alone), and whether its flush handed it off.
type flushUse struct {
	calls     int
	handedOff bool
}

// use returns how call went out; call is settled.
func (call *appendCall) use() flushUse { return flushUse{calls: call.batch, handedOff: call.handedOff} }

// coalescer gathers concurrent appends of a Store.
type coalescer struct {
	s *Store
	// lockWait is the lock_timeout of a flush's statements, in
	// PostgreSQL's syntax ("100ms"); empty: no bound.
	lockWait string
	mu       sync.Mutex
	queue    []*appendCall
	running  int // flushers running
	// busy counts, per guild and stream id, the calls of flushes in
	// flight and the hand-offs not yet settled; a queued call on such a
	// stream stays queued. (Another guild's call on the same id is
	// refused without waiting for the stream, so it need not wait here.)
	busy map[streamKey]int
}

// streamKey names a guild's stream in the coalescer.
type streamKey struct{ guild, stream string }

func (call *appendCall) key() streamKey { return streamKey{call.params.GuildID, call.stream} }

func newCoalescer(s *Store) *coalescer {
	c := &coalescer{s: s, busy: make(map[streamKey]int)}
	if w := s.cfg.FlushLockWait; w > 0 {
		c.lockWait = fmt.Sprintf("%dms", max(1, w.Milliseconds()))
	}
	return c
}

// append sends one encoded append through the coalescer and waits for its
// outcome. When ctx ends first, a call still queued is withdrawn (nothing
// was sent); a call already sent returns ctx's error, and its outcome is
// unknown, as for any append cancelled in flight.
func (c *coalescer) append(ctx context.Context, streamID string, p db.EventsAppendParams) (AppendResult, flushUse, error) {
	call := &appendCall{ctx: ctx, stream: streamID, params: p, done: make(chan struct{})}
	c.mu.Lock()
	if c.running == 0 && len(c.queue) == 0 && c.busy[call.key()] == 0 {
		// Idle: this goroutine sends its own call at once, and hands
		// whatever queued meanwhile to a flusher.
		c.running++
		c.busy[call.key()]++
		c.mu.Unlock()
		c.flush(ctx, []*appendCall{call})
		c.mu.Lock()
		if len(c.queue) > 0 {
			go c.run()
		} else {
			c.running--
		}
		c.mu.Unlock()
		<-call.done // settled by now, unless it was handed off
		return call.res, call.use(), call.err
	}
	c.queue = append(c.queue, call)
	// A call on a busy stream needs no new flusher: whoever settles the
	// stream's call in flight looks at the queue again.
	if c.running < coalesceFlushers && c.busy[call.key()] == 0 {
		c.running++
		go c.run()
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.res, call.use(), call.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	if i := slices.Index(c.queue, call); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
		c.mu.Unlock()
		return AppendResult{}, flushUse{}, ctx.Err()
	}
	c.mu.Unlock()
	select {
	case <-call.done: // decided meanwhile
		return call.res, call.use(), call.err
	default:
		return AppendResult{}, flushUse{}, fmt.Errorf("%w (the append was in flight: its outcome is unknown, and appending the same events again is safe)", ctx.Err())
	}
}

// queued returns how many calls wait in the queue.
func (c *coalescer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// run flushes the queue until it is empty.
//
// Before it takes the queue, a flusher yields its processor once. The
// callers whose appends the last flush settled are runnable by then, and
// most of them queue their next append within that yield, so it goes out
// in this flush rather than alone in the next (in append_single, 2.4
// appends per statement without the yield, 3.2 with it). The yield waits
// for no timer and for no caller that is not already runnable: on an idle
// Store it costs one pass of the scheduler.
//
// A flusher that finds only calls on busy streams stops: whoever settles
// the call that keeps a stream busy (a flusher, which then looks at the
// queue again, or a hand-off, which starts one) sends them.
func (c *coalescer) run() {
	for {
		runtime.Gosched()
		c.mu.Lock()
		calls := c.take()
		if len(calls) == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		// The statement carries the first call's values (its guild, its
		// trace), not its cancellation: it settles every call.
		c.flush(context.WithoutCancel(calls[0].ctx), calls)
	}
}

// take removes from the queue, in queue order, the calls the next flush
// sends, and marks their streams busy: the calls on streams that are not
// busy, at most maxCoalescedCalls of them, and no more events or bytes than
// one append may carry (Config.MaxAppendBatch, MaxBatchBytes), so that a
// flush's statement stays as bounded as a single append's; at least one
// when any call is takeable. The calls left keep their order, and a
// stream's calls are taken in order: a busy stream's all stay, and the
// first call that does not fit ends the flush. c.mu is held.
func (c *coalescer) take() []*appendCall {
	var calls []*appendCall
	events, size := 0, 0
	kept := c.queue[:0]
	for i, call := range c.queue {
		if c.busy[call.key()] > 0 {
			kept = append(kept, call)
			continue
		}
		n, b := len(call.params.EventIds), 0
		for j := range call.params.Data {
			b += len(call.params.Data[j]) + len(call.params.Metadata[j])
		}
		if len(calls) > 0 && (len(calls) == maxCoalescedCalls || events+n > c.s.cfg.MaxAppendBatch ||
			(c.s.cfg.MaxBatchBytes > 0 && size+b > c.s.cfg.MaxBatchBytes)) {
			kept = append(kept, c.queue[i:]...)
			break
		}
		calls = append(calls, call)
		events, size = events+n, size+b
	}
	// Mark after the scan: a stream's later calls in the queue go out
	// with its first, in this flush.
	for _, call := range calls {
		c.busy[call.key()]++
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	return calls
}

// release marks call's stream no longer busy with it. When a hand-off
// settles, the calls that queued behind it need a flusher, which it
// starts (a flush's own flusher looks at the queue again after it).
// c.mu is held.
func (c *coalescer) release(call *appendCall, handOff bool) {
	if k := call.key(); c.busy[k] <= 1 {
		delete(c.busy, k)
	} else {
		c.busy[k]--
	}
	if handOff && len(c.queue) > 0 && c.running < coalesceFlushers {
		c.running++
		go c.run()
	}
}

// flush sends calls and settles each one.
func (c *coalescer) flush(ctx context.Context, calls []*appendCall) {
	defer func() {
		// Release the streams first: a caller may queue its next append
		// on the same stream as soon as its call is settled.
		c.mu.Lock()
		for _, call := range calls {
			if !call.handedOff {
				c.release(call, false)
			}
		}
		c.mu.Unlock()
		for _, call := range calls {
			if !call.handedOff {
				call.batch = len(calls)
				close(call.done)
			}
		}
	}()
	if len(calls) == 1 {
		c.sendAlone(ctx, calls[0])
		return
	}
	slices.SortStableFunc(calls, func(a, b *appendCall) int {
		return cmp.Or(cmp.Compare(a.params.GuildID, b.params.GuildID), cmp.Compare(a.stream, b.stream))
	})
	var members [][]*appendCall // one guild's calls each
	for start := 0; start < len(calls); {
		end := start + 1
		for end < len(calls) && calls[end].params.GuildID == calls[start].params.GuildID {
			end++
		}
		members = append(members, calls[start:end:end])
		start = end
	}

	// One statement per guild (the app role's guild rules hold per
	// transaction); a flush's guilds go out side by side.
	errs := make([]error, len(members))
	if len(members) == 1 { // the common case: no goroutine to hand it to
		errs[0] = c.sendGroup(ctx, members[0])
	} else {
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxParallelGroups)
		for gi := range members {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				errs[gi] = c.sendGroup(ctx, members[gi])
			})
		}
		wg.Wait()
	}
	// Announce the commit when a statement stored something. A call sent
	// alone (a group of one, or sent again after its statement failed)
	// announced its own; one handed off will; one refused stored nothing.
	stored := false
	for gi, err := range errs {
		if err != nil {
			c.settleGroup(ctx, members[gi], err)
			continue
		}
		if len(members[gi]) == 1 {
			continue
		}
		for _, call := range members[gi] {
			if !call.handedOff && call.err == nil { // handedOff first: the hand-off writes err
				stored = true
			}
		}
	}
	if stored {
		c.s.committed()
	}
}

// sendGroup sends one guild's calls in one statement and records each
// call's outcome; it returns the statement's own error (then nothing of
// the group is stored, or its outcome is unknown).
func (c *coalescer) sendGroup(ctx context.Context, calls []*appendCall) error {
	if len(calls) == 1 { // alone: no subtransaction needed
		c.sendAlone(ctx, calls[0])
		return nil
	}
	if c.pipelines(calls) {
		failed, err := c.sendPipelined(ctx, calls)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case c.lockWaitRanOut(err) && failed >= 0:
			// Nothing was stored. The call whose stream is held, and the
			// later calls on it, are handed off; the others go again.
			n := failed + 1
			for n < len(calls) && calls[n].stream == calls[failed].stream {
				n++
			}
			c.handOff(calls[failed:n:n])
			if rest := slices.Concat(calls[:failed], calls[n:]); len(rest) > 0 {
				if err := c.sendGroup(ctx, rest); err != nil {
					c.settleGroup(ctx, rest, err)
				}
			}
			return nil
		case c.lockWaitRanOut(err):
			c.handOff(calls)
			return nil
		case !errors.As(err, &pgErr) || cmp.Or(pgErr.SeverityUnlocalized, pgErr.Severity) != "ERROR":
			// The connection failed, or the server ended the session (a
			// FATAL error, as when the backend is terminated): the outcome
			// is unknown, as for append_batch's statement, and each call
			// says so; its Append retries as its policy allows.
			return err
		}
		// One call failed, and with it the pipeline: nothing was stored.
		// append_batch gives each call its own outcome.
	}
	g := groupParams(calls)
	g.LockWait = c.lockWait
	rows, err := c.s.wire.appendBatch(ctx, c.s, c.s.q, &g)
	if err == nil && len(rows) != len(calls) {
		err = fmt.Errorf("eventstore: append_batch returned %d rows for %d appends", len(rows), len(calls))
	}
	if c.lockWaitRanOut(err) {
		c.handOff(calls)
		return nil
	}
	if err != nil {
		return err
	}
	var late []*appendCall
	for i, row := range rows {
		call := calls[i]
		if c.lockWait != "" && row.ErrorCode == sqlstateLockNotAvailable {
			// A call that left the fast path waited too long in its
			// subtransaction (a stream id another transaction is creating).
			late = append(late, call)
			continue
		}
		if row.ErrorCode != "" {
			call.err = mapPgError(&pgconn.PgError{
				Severity: "ERROR", Code: row.ErrorCode, Message: row.ErrorMessage, Detail: row.ErrorDetail,
				ConstraintName: row.ErrorConstraint, TableName: row.ErrorTable,
			})
			continue
		}
		call.res = AppendResult{StreamID: call.stream, Version: row.NewVersion,
			FirstPosition: row.FirstPosition, LastPosition: row.LastPosition}
	}
	c.handOff(late)
	return nil
}

// settleGroup settles the calls of a group whose statement failed as a
// whole. A transient failure or a lost connection is every call's error,
// and each Append retries (its ids are fixed, so after an unknown outcome
// the retry is a replay). Any other failure belongs to one call's input: a
// stored event id (a replay, or a duplicate, which only append_events
// tells apart), or a document PostgreSQL refuses to parse, say. Each call
// is then sent again alone, for its own outcome. A call whose lock wait
// runs out is handed off, and so are the later calls on its stream (calls
// are in stream order, as a flush sorts them) without a wait of their own:
// they go after it, one after another on its connection.
func (c *coalescer) settleGroup(ctx context.Context, calls []*appendCall, err error) {
	err = mapError(err)
	if retryable(err, true) && !errors.Is(err, errConcurrentDuplicate) {
		for _, call := range calls {
			call.res, call.err = AppendResult{}, err
		}
		return
	}
	var late []*appendCall
	for _, call := range calls {
		if len(late) > 0 && late[len(late)-1].stream == call.stream {
			late = append(late, call)
			continue
		}
		if !c.trySendAlone(ctx, call) {
			late = append(late, call)
		}
	}
	c.handOff(late)
}

// sqlstateLockNotAvailable is lock_not_available, what a statement that
// waited past its lock_timeout fails with.
const sqlstateLockNotAvailable = "55P03"

// lockWaitRanOut reports whether err is a flush statement's lock_timeout:
// nothing of the statement was stored.
func (c *coalescer) lockWaitRanOut(err error) bool {
	var pgErr *pgconn.PgError
	return c.lockWait != "" && errors.As(err, &pgErr) && pgErr.Code == sqlstateLockNotAvailable
}

// sendAlone sends one call by itself, waiting at most the flush's lock
// wait; when that runs out, the call is handed off.
func (c *coalescer) sendAlone(ctx context.Context, call *appendCall) {
	if !c.trySendAlone(ctx, call) {
		c.handOff([]*appendCall{call})
	}
}

// trySendAlone sends one call by itself, waiting at most the flush's lock
// wait, and settles it; it reports false, leaving the call unsettled, when
// that wait ran out.
func (c *coalescer) trySendAlone(ctx context.Context, call *appendCall) bool {
	p := call.params
	p.LockWait = c.lockWait
	res, err := c.s.appendEncoded(ctx, call.stream, p)
	if c.lockWaitRanOut(err) {
		return false
	}
	call.res, call.err = res, err
	return true
}

// handOff sends calls again, each alone, without the flush's lock wait,
// from a goroutine per stream that settles them in turn: a stream's calls
// wait for it as appends without coalescing would, on one connection of
// their own, and the flusher moves on. (calls are in stream order, as a
// flush sorts them.) Each statement runs under its caller's context, so a
// caller that gives up also ends the wait (its outcome is then unknown, as
// for any append cancelled in flight).
func (c *coalescer) handOff(calls []*appendCall) {
	for len(calls) > 0 {
		n := 1
		for n < len(calls) && calls[n].stream == calls[0].stream {
			n++
		}
		same := calls[:n:n]
		calls = calls[n:]
		for _, call := range same {
			call.handedOff = true
		}
		c.s.stats.flushHandOffs.Add(int64(len(same)))
		go func() {
			for _, call := range same {
				call.res, call.err = c.s.appendEncoded(call.ctx, call.stream, call.params)
				call.batch = 1
				c.mu.Lock()
				c.release(call, true)
				c.mu.Unlock()
				close(call.done)
			}
		}()
	}
}

// pipelines reports whether a group goes out as a pipeline of single
// appends (sendPipelined) before append_batch: when every call appends one
// event, the store sends its statements prepared, and a pool tracer, if
// any, can see a batch.
func (c *coalescer) pipelines(calls []*appendCall) bool {
	w := c.s.wire
	if w == nil || !w.prepare {
		return false
	}
	if w.tracer != nil {
		if _, ok := w.tracer.(pgx.BatchTracer); !ok {
			return false
		}
	}
	for _, call := range calls {
		if len(call.params.EventIds) != 1 {
			return false
		}
	}
	return true
}

// sendPipelined sends a group of single-event calls as one pipeline of
// append_event statements, each call's append as it would go alone, that
// commits once, and settles every call; on an error it settles none.
func (c *coalescer) sendPipelined(ctx context.Context, calls []*appendCall) (failed int, err error) {
	ps := make([]db.EventsAppendOneParams, len(calls))
	for i, call := range calls {
		ps[i] = oneParams(&call.params)
		ps[i].LockWait = c.lockWait
	}
	rows, failed, err := c.s.wire.appendOnes(ctx, c.s, ps)
	if err != nil {
		return failed, err
	}
	for i, call := range calls {
		call.res = AppendResult{StreamID: call.stream, Version: rows[i].NewVersion,
			FirstPosition: rows[i].GlobalPosition, LastPosition: rows[i].GlobalPosition}
	}
	return -1, nil
}

// groupParams is append_batch's arguments for calls of one guild.
func groupParams(calls []*appendCall) db.EventsAppendBatchParams {
	g := db.EventsAppendBatchParams{GuildID: calls[0].params.GuildID, MaxStreamEvents: calls[0].params.MaxStreamEvents}
	for _, call := range calls {
		p := &call.params
		g.StreamIds = append(g.StreamIds, p.StreamID)
		g.ExpectedVersions = append(g.ExpectedVersions, p.ExpectedVersion)
		g.Counts = append(g.Counts, int32(len(p.EventIds)))
		g.EventIds = append(g.EventIds, p.EventIds...)
		g.EventTypes = append(g.EventTypes, p.EventTypes...)
		g.EventVersions = append(g.EventVersions, p.EventVersions...)
		g.Data = append(g.Data, p.Data...)
		g.Metadata = append(g.Metadata, p.Metadata...)
		g.CausationIds = append(g.CausationIds, p.CausationIds...)
		g.CorrelationIds = append(g.CorrelationIds, p.CorrelationIds...)
	}
	return g
}
