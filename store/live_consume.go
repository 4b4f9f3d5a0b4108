package store

import (
	"context"
	"errors"
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
		progressed, more, err := sub.step(ctx, lease, &pos)
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
		if err := idle.wait(ctx, progressed); err != nil {
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
// read moved the position.
func (iw *idleWait) wait(ctx context.Context, progressed bool) error {
	if progressed && iw.coalesce > 0 {
		select {
		case <-iw.wake:
			// Commits arrived while this batch was read and handled: let
			// more gather, then read them together.
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
// checkpoint. It reports whether the position moved and whether more may
// be read at once.
func (sub *Subscription) step(ctx context.Context, lease *subscriptionLease, pos *subPosition) (progressed, more bool, err error) {
	if err := sub.redeliverDeadLetters(ctx, lease); err != nil { // deadletter.go
		return false, false, err
	}
	events, next, more, decErr, err := sub.read(ctx, *pos)
	switch {
	case err != nil:
		return false, more, err
	case next == *pos && lease != nil && sub.position() != *pos:
		// The last save failed after the batch was handled: save again.
		return false, more, sub.save(ctx, lease, *pos, 0)
	case next == *pos:
		return false, more, nil
	}
	start := *pos
	handled := int64(0) // handled since the last save
	for _, ev := range events {
		if ctx.Err() != nil {
			// Stopping: keep what was handled, hand out nothing more.
			return *pos != start, false, errors.Join(ctx.Err(), sub.save(ctx, lease, *pos, handled))
		}
		if sub.wanted(ev) {
			var evErr error
			if ev.Event == nil && decErr != nil {
				evErr = &DecodeError{Record: ev, Err: decodeCause(decErr, ev)}
			}
			if err := sub.deliver(ctx, ev, evErr); err != nil {
				// Keep what was handled before the failing event.
				return *pos != start, false, errors.Join(err, sub.save(ctx, lease, *pos, handled))
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
				return true, false, err
			}
			handled = 0
		}
	}
	*pos = next
	if err := sub.save(ctx, lease, *pos, handled); err != nil {
		return true, false, err
	}
	return true, more, nil
}

// read reads the batch after pos: of the feed (filtered and partitioned in
// SQL) or of the stream. next is the position past it; decErr holds the
// decode failures of a complete page.
func (sub *Subscription) read(ctx context.Context, pos subPosition) (events []Recorded, next subPosition, more bool, decErr, err error) {
	if sub.opts.StreamID == "" {
		page, err := sub.store.readFeed(ctx, pos.cp, FeedOptions{
			Limit:     sub.opts.BatchSize,
			Filter:    sub.opts.Filter,
			Partition: sub.opts.Partition,
			ScanLimit: sub.opts.ScanLimit,
		})
		if err != nil && !isDecodeError(err) {
			return nil, pos, false, nil, err
		}
		return page.Events, subPosition{cp: page.Next}, page.More, err, nil
	}
	recs, err := sub.store.readPage(ctx, sub.opts.StreamID, pos.version+1, sub.opts.BatchSize, true)
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
	return recs, next, len(recs) == sub.opts.BatchSize, err, nil
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
