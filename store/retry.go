package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Retry policy defaults applied by New to zero RetryPolicy fields.
const (
	// DefaultRetryAttempts is the default number of attempts (the first
	// included) of an operation or transaction.
	DefaultRetryAttempts = 5
	// DefaultRetryBaseDelay is the default backoff ceiling after the first
	// failed attempt.
	DefaultRetryBaseDelay = 10 * time.Millisecond
	// DefaultRetryMaxDelay is the default cap of the backoff ceiling.
	DefaultRetryMaxDelay = time.Second
)

// RetryPolicy says how often and how patiently the store retries after a
// recoverable error: a serialization failure (SQLSTATE 40001), a deadlock
// (40P01), a lost connection or a server that is shutting down or full
// (class 08, 57P01, 57P02, 57P03, 53300; all match ErrConnection). Other
// errors (a wrong expected version, validation and domain errors, guild
// errors) are returned after the first attempt.
//
// Whole transactions (InTx) are retried, fn included. An operation outside
// a transaction is retried on its own; appends and reads are re-sent after
// any recoverable error, since an append re-sends the same event ids and is
// therefore idempotent, while CreateStream and DeleteStream are re-sent
// after a lost connection only when the request had not reached the server.
// Operations inside a caller's transaction (WithTx) are never retried.
//
// Between attempts the store sleeps for a random duration in [0, ceiling)
// ("full jitter"), where the ceiling is BaseDelay·2^(attempt-1) capped at
// MaxDelay. Cancelling the context ends the sleep at once with the
// context's error.
type RetryPolicy struct {
	// MaxAttempts is the largest number of attempts, the first included.
	// Default DefaultRetryAttempts; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the backoff ceiling after the first failed attempt.
	// Default DefaultRetryBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling. Default DefaultRetryMaxDelay.
	MaxDelay time.Duration
}

// withDefaults fills zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultRetryBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultRetryMaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	return p
}

func (p RetryPolicy) attempts() int { return p.withDefaults().MaxAttempts }

// Ceiling returns the backoff ceiling after failed attempt number attempt
// (1-based): BaseDelay·2^(attempt-1), capped at MaxDelay.
func (p RetryPolicy) Ceiling(attempt int) time.Duration {
	p = p.withDefaults()
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// Backoff returns how long to wait after failed attempt number attempt
// (1-based): a random duration in [0, Ceiling(attempt)).
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	c := p.Ceiling(attempt)
	if c <= 0 {
		return 0
	}
	return rand.N(c)
}

// Wait sleeps Backoff(attempt) after failed attempt number attempt, for a
// retry loop of the caller's own; it returns the context's error at once
// when ctx is done first.
func (p RetryPolicy) Wait(ctx context.Context, attempt int) error {
	return sleepCtx(ctx, p.Backoff(attempt))
}

// backoff paces one retry loop by a RetryPolicy: every loop of the package
// that waits after a failure (operations, transactions, subscriptions,
// listener reconnects, lease claims, handler retries) waits through it.
// The zero failures count means nothing failed yet.
type backoff struct {
	policy   RetryPolicy
	failures int
}

// fail counts a failed attempt and returns how long to wait before the
// next one.
func (b *backoff) fail() time.Duration {
	b.failures++
	return b.policy.Backoff(b.failures)
}

// wait counts a failed attempt and sleeps its backoff, returning ctx's
// error at once when ctx is done first.
func (b *backoff) wait(ctx context.Context) error { return sleepCtx(ctx, b.fail()) }

// exhausted reports whether the policy's attempts are used up.
func (b *backoff) exhausted() bool { return b.failures >= b.policy.attempts() }

// reset starts the count again after a success.
func (b *backoff) reset() { b.failures = 0 }

// reconnectPolicy paces the store's background work (subscriptions, their
// listener, lease claims) after transient failures. Its MaxAttempts does
// not apply: background work retries until its context is done.
func reconnectPolicy() RetryPolicy {
	return RetryPolicy{BaseDelay: 50 * time.Millisecond, MaxDelay: 5 * time.Second}
}

// retryable reports whether err is worth another attempt. replayable says
// that re-sending the operation is safe even when the failed attempt may
// have reached the server (an append with fixed event ids, a read, a whole
// transaction whose COMMIT was not sent).
func retryable(err error, replayable bool) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	err = mapError(err)
	switch {
	case errors.Is(err, ErrTransactionConflict):
		return true
	case errors.Is(err, errConcurrentDuplicate):
		return replayable
	case errors.Is(err, ErrConnection):
		return replayable || pgconn.SafeToRetry(err)
	}
	return false
}

// retryableInBackground reports whether background work — a subscription's
// reads, checkpoint saves and lease claims, a consumer group's heartbeats —
// tries again after err. It retries what an operation retries (as
// replayable: it reads again, and its saves carry their lease token), and
// also a statement the server cancelled (ErrStatementCanceled:
// statement_timeout, lock_timeout, pg_cancel_backend). An operation returns
// that error to its caller, who decides; background work has no caller to
// decide, so it backs off (reconnectPolicy) and tries again until its
// context ends, logging every failure. Everything else (a deleted stream or
// subscription, a guild error, a permission error, …) stops it. It is the
// one place, with retryable, that decides retries from the error kinds
// mapError gives.
func retryableInBackground(err error) bool {
	return retryable(err, true) || errors.Is(mapError(err), ErrStatementCanceled)
}

// sleepCtx waits for d, or returns the context's error as soon as ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// opSpec describes an operation for do.
type opSpec struct {
	// op names the operation in observations (OpAppend, …).
	op string
	// stream is the stream operated on ("" for the feed).
	stream string
	// replayable: safe to re-send after an ambiguous failure (see retryable).
	replayable bool
	// coalesced, when set, is where fn leaves how the coalescer sent the
	// append (Observation.Coalesced, Observation.HandedOff).
	coalesced *flushUse
}

// do runs one store operation: every operation of the store goes through
// it. fn runs the operation's SQL through s.queries(ctx), which scopes it
// to the context's guild, and returns how many events it wrote or read.
// Outside a transaction do retries fn per the RetryPolicy; inside one it
// checks that the operation's guild is the transaction's and runs fn once.
// Every attempt is reported to the Observer and counted in Stats. fn must
// not repeat work that has to happen once per call (such as assigning event
// ids): do that before calling do.
func (s *Store) do(ctx context.Context, spec opSpec, fn func(ctx context.Context) (int, error)) error {
	guild, _ := GuildFromContext(ctx)
	if tv := txValueFrom(ctx); tv != nil {
		actx := s.startAttempt(ctx, Observation{Op: spec.op, StreamID: spec.stream, GuildID: guild, Attempt: 1, InTx: true})
		start := time.Now()
		n, err := 0, tv.bindGuild(guild)
		if err == nil {
			n, err = fn(actx)
			s.noteTxWrite(tv, spec)
		}
		if guild == "" {
			guild = tv.guildID()
		}
		s.observe(actx, Observation{
			Op: spec.op, StreamID: spec.stream, GuildID: guild, Duration: time.Since(start),
			Events: n, Err: err, Attempt: 1, InTx: true,
		})
		return err
	}
	maxAttempts := s.cfg.Retry.attempts()
	for attempt := 1; ; attempt++ {
		actx := s.startAttempt(ctx, Observation{Op: spec.op, StreamID: spec.stream, GuildID: guild, Attempt: attempt})
		start := time.Now()
		n, err := fn(actx)
		s.noteWrite(spec, err)
		retry := err != nil && attempt < maxAttempts && ctx.Err() == nil && retryable(err, spec.replayable)
		o := Observation{
			Op: spec.op, StreamID: spec.stream, GuildID: guild, Duration: time.Since(start),
			Events: n, Err: err, Attempt: attempt, Retrying: retry,
		}
		if spec.coalesced != nil {
			o.Coalesced, o.HandedOff = spec.coalesced.calls, spec.coalesced.handedOff
		}
		s.observe(actx, o)
		if !retry {
			return err
		}
		delay := s.cfg.Retry.Backoff(attempt)
		s.log.LogAttrs(ctx, slog.LevelInfo, "eventstore retry",
			slog.String("op", spec.op), slog.String("stream_id", spec.stream), slog.String("guild_id", guild),
			slog.Int("attempt", attempt), slog.Duration("delay", delay),
			slog.String("error_class", string(Classify(err))), slog.String("error", err.Error()))
		if cerr := sleepCtx(ctx, delay); cerr != nil {
			return fmt.Errorf("%w (stopped retrying after attempt %d failed: %v)", cerr, attempt, err)
		}
	}
}
