package store

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// deliver hands ev to the handler, retrying per SubscriptionOptions.Retry;
// after the last attempt it gives up on the event (giveUp). evErr is a
// decode failure, which no retry can fix: it gives up at once.
func (sub *Subscription) deliver(ctx context.Context, ev Recorded, evErr error) error {
	attempts := 0
	if evErr == nil {
		b := backoff{policy: sub.opts.Retry}
		for {
			attempts++
			if evErr = callHandler(ctx, sub.handler, ev); evErr == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := b.fail()
			if b.exhausted() {
				break
			}
			sub.log.Warn("eventstore: handler failed, retrying", "stream_id", ev.StreamID, "version", ev.Version,
				"position", ev.GlobalPosition, "attempt", attempts, "retry_in", wait, "error", evErr)
			if sleepCtx(ctx, wait) != nil {
				return ctx.Err()
			}
		}
	}
	return sub.giveUp(ctx, ev, &HandlerError{Subscription: sub.label(), Event: ev, Attempts: attempts, Err: evErr})
}

// giveUp is the one place where a subscription gives up on an event: it
// goes to the DeadLetterFunc (nil: the subscription moves past it), or,
// without one, herr stops the subscription with the checkpoint right
// before the event.
func (sub *Subscription) giveUp(ctx context.Context, ev Recorded, herr *HandlerError) error {
	if err := sub.recordDeadLetter(ctx, herr); err != nil { // stored dead letters (deadletter.go)
		return errors.Join(err, herr)
	}
	if sub.opts.DeadLetterFunc == nil {
		return herr
	}
	dlErr := callHandler(ctx, func(ctx context.Context, ev Recorded) error {
		return sub.opts.DeadLetterFunc(ctx, ev, herr)
	}, ev)
	if dlErr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("dead-letter: %w (after %w)", dlErr, herr)
	}
	sub.log.Warn("eventstore: event dead-lettered", "stream_id", ev.StreamID, "version", ev.Version,
		"position", ev.GlobalPosition, "error", herr)
	return nil
}

// callHandler calls fn, turning a panic into an error.
func callHandler(ctx context.Context, fn HandlerFunc, ev Recorded) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, ev)
}
