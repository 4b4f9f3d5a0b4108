package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// chaseStart is the re-read delay after a wake-up: what woke the
// subscription may not have been deliverable yet (an older transaction
// still held the feed's horizon). It stays at chaseStart while re-reads
// find events and doubles while they do not, up to the poll interval.
const chaseStart = 10 * time.Millisecond

// consume is the consume loop: it catches up from pos, then delivers live,
// until ctx is done or an error stops it. lease is nil for an in-memory
// subscription. Each turn reads one batch (step); a full page is read on
// at once (catching up), otherwise the subscription is live and waits for a
// wake-up or its poll (idle.wait).
func (sub *Subscription) consume(ctx context.Context, lease *subscriptionLease, pos subPosition) error {
	sub.setPosition(pos)
	sub.setState(StateCatchingUp)
	w := sub.store.live.join(sub.State)
	defer w.leave()
	failures := backoff{policy: reconnectPolicy()}
	idle := idleWait{poll: sub.opts.PollInterval, coalesce: sub.opts.CoalesceWindow, wake: w.c}
	for {
		progressed, batch, more, err := sub.step(ctx, lease, &pos)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !retryableInBackground(err):
			return err // a lost lease, a handler that gave up, a deleted stream…
		case err != nil:
			wait := failures.fail()
			sub.log.Warn("eventstore: subscription read failed, retrying", "error", err, "retry_in", wait)
			if sleepCtx(ctx, wait) != nil {
				return ctx.Err()
			}
			continue
		}
		failures.reset()
		if more {
			sub.setState(StateCatchingUp)
			continue
		}
		if w.ready() {
			sub.setState(StateLive)
		}
		if err := idle.wait(ctx, progressed, batch); err != nil {
			return err
		}
	}
}

// idleWait is how a caught-up subscription waits before its next read: a
// wake-up, a short look-again after one, or the poll.
type idleWait struct {
	poll, coalesce time.Duration
	wake           <-chan struct{}
	chase          time.Duration // re-read delay after a wake-up, 0: not chasing
	woken          bool
}

// wait returns when the next read is due. progressed says whether the last
// read moved the position, batch how many events it read.
func (iw *idleWait) wait(ctx context.Context, progressed bool, batch int) error {
	if batch > 1 && iw.coalesce > 0 { // a batch read moved the position
		select {
		case <-iw.wake:
			// Commits came faster than one read each: more arrived while
			// this batch of several was read and handled. Let more gather,
			// then read them together. (After a batch of one, a commit
			// that arrived meanwhile is read at once: one event at a
			// time is no backlog to gather.)
			iw.woken, iw.chase = true, 0
			return sleepCtx(ctx, iw.coalesce)
		default:
		}
	}
	switch {
	case iw.woken || iw.chase > 0:
		// Part of what woke us may still be behind the feed's horizon (a
		// transaction that began earlier was still open): look again soon
		// while looks find events, then back off up to the poll interval.
		if progressed || iw.chase == 0 {
			iw.chase = chaseStart
		} else if iw.chase *= 2; iw.chase >= iw.poll {
			iw.chase = 0
		}
	default:
		iw.chase = 0
	}
	wait := iw.poll
	if iw.chase > 0 {
		wait = iw.chase
	}
	iw.woken = false
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-iw.wake:
		iw.woken, iw.chase = true, 0
	case <-t.C:
	}
	return nil
}

// step reads one batch after pos, hands it to the handler and saves the
// checkpoint. It reports whether the position moved, how many events the
// batch held and whether more may be read at once.
func (sub *Subscription) step(ctx context.Context, lease *subscriptionLease, pos *subPosition) (progressed bool, batch int, more bool, err error) {
	if err := sub.redeliverDeadLetters(ctx, lease); err != nil { // deadletter.go
		return false, 0, false, err
	}
	events, next, more, decErr, err := sub.read(ctx, *pos)
	switch {
	case err != nil:
		return false, 0, more, err
	case next == *pos && lease != nil && sub.position() != *pos:
		// The last save failed after the batch was handled: save again.
		return false, 0, more, sub.save(ctx, lease, *pos, 0)
	case next == *pos:
		return false, 0, more, nil
	}
	batch = len(events)
	start := *pos
	handled := int64(0) // handled since the last save
	for _, ev := range events {
		if ctx.Err() != nil {
			// Stopping: keep what was handled, hand out nothing more.
			return *pos != start, batch, false, errors.Join(ctx.Err(), sub.save(ctx, lease, *pos, handled))
		}
		if sub.wanted(ev) {
			var evErr error
			if ev.Event == nil && decErr != nil {
				evErr = &DecodeError{Record: ev, Err: decodeCause(decErr, ev)}
			}
			if err := sub.deliver(ctx, ev, evErr); err != nil {
				// Keep what was handled before the failing event.
				return *pos != start, batch, false, errors.Join(err, sub.save(ctx, lease, *pos, handled))
			}
			handled++
			sub.addHandled(1)
		}
		if sub.opts.StreamID == "" {
			pos.cp = ev.Checkpoint()
		} else {
			pos.version = ev.Version
		}
		if sub.opts.CheckpointEvery > 0 && handled >= int64(sub.opts.CheckpointEvery) {
			if err := sub.save(ctx, lease, *pos, handled); err != nil {
				return true, batch, false, err
			}
			handled = 0
		}
	}
	*pos = next
	if err := sub.save(ctx, lease, *pos, handled); err != nil {
		return true, batch, false, err
	}
	return true, batch, more, nil
}

// read reads the batch after pos: of the feed (filtered and partitioned in
// SQL) or of the stream. next is the position past it; decErr holds the
// decode failures of a complete page.
//
// The page is BatchSize events unless the server cancelled a read (see
// pageLimit): then it is smaller for a while.
func (sub *Subscription) read(ctx context.Context, pos subPosition) (events []Recorded, next subPosition, more bool, decErr, err error) {
	limit := sub.page.limit(sub.opts.BatchSize)
	defer func() { sub.page.outcome(err, sub.opts.BatchSize, sub.log) }()
	if sub.opts.StreamID == "" {
		scan := sub.opts.ScanLimit
		if scan > 0 && limit < sub.opts.BatchSize {
			// An explicit scan limit shrinks with the page.
			scan = max(limit, int(int64(scan)*int64(limit)/int64(sub.opts.BatchSize)))
		}
		page, err := sub.store.readFeed(ctx, pos.cp, FeedOptions{
			Limit:     limit,
			Filter:    sub.opts.Filter,
			Partition: sub.opts.Partition,
			ScanLimit: scan,
		})
		if err != nil && !isDecodeError(err) {
			return nil, pos, false, nil, err
		}
		return page.Events, subPosition{cp: page.Next}, page.More, err, nil
	}
	recs, err := sub.store.readPage(ctx, sub.opts.StreamID, pos.version+1, limit, true)
	switch {
	case errors.Is(err, ErrStreamNotFound):
		return nil, pos, false, nil, nil // waited for
	case err != nil && !isDecodeError(err):
		return nil, pos, false, nil, err
	}
	next = pos
	if len(recs) > 0 {
		next.version = recs[len(recs)-1].Version
	}
	return recs, next, len(recs) == limit, err, nil
}

// pageGrowAfter is how many reads in a row must succeed before a page the
// server's cancellations shrank doubles again.
const pageGrowAfter = 4

// pageLimit is a subscription's page size (used by its consume goroutine
// only). A page read that the server cancels (ErrStatementCanceled: a
// statement_timeout the read cannot meet, say, because a guild stored
// large events) is retried with half the page, down to one event, so that
// the subscription keeps moving instead of failing on the same page
// forever. After pageGrowAfter reads in a row succeed, the page doubles
// again, up to BatchSize.
type pageLimit struct {
	cur int // 0: BatchSize
	ok  int // reads in a row that succeeded since the last change
}

func (p *pageLimit) limit(batch int) int {
	if p.cur <= 0 || p.cur > batch {
		return batch
	}
	return p.cur
}

// outcome adjusts the page after a read that returned err.
func (p *pageLimit) outcome(err error, batch int, log *slog.Logger) {
	cur := p.limit(batch)
	switch {
	case errors.Is(err, ErrStatementCanceled):
		p.cur, p.ok = max(1, cur/2), 0
		if p.cur < cur {
			log.Warn("eventstore: subscription page read cancelled by the server; reading smaller pages",
				"batch", p.cur, "batch_size", batch)
		}
	case err != nil && !isDecodeError(err):
		// Anything else says nothing about the page's size.
	case cur < batch:
		if p.ok++; p.ok >= pageGrowAfter {
			p.cur, p.ok = min(batch, cur*2), 0
		}
	}
}

// wanted applies the in-Go part of the filter (event types of stream
// subscriptions; the feed filters in SQL).
func (sub *Subscription) wanted(ev Recorded) bool {
	if sub.opts.StreamID == "" || len(sub.opts.Filter.EventTypes) == 0 {
		return true
	}
	for _, t := range sub.opts.Filter.EventTypes {
		if t == ev.Type {
			return true
		}
	}
	return false
}

// save records pos after handled more events: in memory, and for a
// persistent subscription in its row, with its lease token. A save made
// while the subscription stops still runs (bounded in time).
//
// sub.pos is the saved position: when a save fails, the consume loop's
// position runs ahead of it, and the next step saves again (with the
// handled count of the failed save).
func (sub *Subscription) save(ctx context.Context, lease *subscriptionLease, pos subPosition, handled int64) error {
	if lease != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		handled += sub.unsaved
		if err := lease.save(sctx, pos, handled); err != nil {
			sub.unsaved = handled
			return err
		}
		sub.unsaved = 0
	}
	sub.setPosition(pos)
	return nil
}

// position returns the last saved position.
func (sub *Subscription) position() subPosition {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.pos
}

// isDecodeError reports an error made only of *DecodeError values (a read
// whose page is complete but has undecodable events).
func isDecodeError(err error) bool {
	var de *DecodeError
	if !errors.As(err, &de) {
		return false
	}
	type multi interface{ Unwrap() []error }
	if m, ok := err.(multi); ok {
		for _, e := range m.Unwrap() {
			if !errors.As(e, &de) {
				return false
			}
		}
	}
	return true
}
