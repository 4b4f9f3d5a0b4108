package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// HandlerFunc handles one event delivered by a subscription. An error makes
// the subscription retry the event with backoff (see
// SubscriptionOptions.MaxAttempts); a panic counts as an error. ctx is
// cancelled when the subscription stops; a handler should then return.
type HandlerFunc func(ctx context.Context, ev Recorded) error

// DeadLetterFunc receives an event whose handler failed every attempt (or
// that could not be decoded), with the *HandlerError. Returning nil counts
// the event as dealt with: the subscription moves past it. Returning an
// error stops the subscription with it.
type DeadLetterFunc func(ctx context.Context, ev Recorded, cause error) error

// Subscription defaults applied to zero SubscriptionOptions fields.
const (
	// DefaultSubscriptionBatch is the default number of events read per query.
	DefaultSubscriptionBatch = 100
	// DefaultPollInterval is the default safety-net poll interval: no
	// event waits longer than this for delivery once it can be delivered,
	// even when every notification is lost.
	DefaultPollInterval = time.Second
	// DefaultLockRetryInterval is how often a standby consumer tries to
	// take over a persistent subscription by default.
	DefaultLockRetryInterval = time.Second
	// DefaultLeaseDuration is how long a persistent subscription's lease
	// lasts unless renewed (it is renewed every third of it, and with
	// every checkpoint): a consumer that dies without releasing it is
	// replaced within this time.
	DefaultLeaseDuration = 10 * time.Second
	// DefaultMaxAttempts is how often a failing event is tried by default.
	DefaultMaxAttempts = 5
	// DefaultRetryBackoff is the default wait before the first retry; it
	// doubles per retry up to DefaultMaxRetryBackoff.
	DefaultRetryBackoff = 100 * time.Millisecond
	// DefaultMaxRetryBackoff is the default longest wait between retries.
	DefaultMaxRetryBackoff = 5 * time.Second
	// DefaultCoalesceWindow is how long a live subscription lets new
	// events gather before its next read when more were committed while it
	// read and handled the last batch.
	DefaultCoalesceWindow = 2 * time.Millisecond
)

// MaxSubscriptionNameLength is the longest persistent subscription name.
const MaxSubscriptionNameLength = 200

// chaseStart is the re-read delay after a wake-up: what woke the
// subscription may not have been deliverable yet (an older transaction
// still held the feed's horizon). It stays at chaseStart while re-reads
// find events and doubles while they do not, up to the poll interval.
const chaseStart = 10 * time.Millisecond

// saveTimeout bounds a checkpoint save made while the subscription stops.
const saveTimeout = 5 * time.Second

// SubscriptionStart is where a subscription starts when it has no stored
// checkpoint. The zero value is FromOrigin.
type SubscriptionStart struct {
	kind       startKind
	checkpoint Checkpoint
	version    int64
}

type startKind uint8

const (
	startOrigin startKind = iota
	startEnd
	startCheckpoint
	startVersion
)

// FromOrigin starts with the first event (of the feed or the stream).
func FromOrigin() SubscriptionStart { return SubscriptionStart{kind: startOrigin} }

// FromEnd starts after the last event deliverable when the subscription
// starts: it sees only events delivered from then on (for the global feed,
// that includes events a running transaction still holds back; see FeedEnd).
func FromEnd() SubscriptionStart { return SubscriptionStart{kind: startEnd} }

// AfterCheckpoint starts with the first feed event after cp (global feed
// subscriptions only).
func AfterCheckpoint(cp Checkpoint) SubscriptionStart {
	return SubscriptionStart{kind: startCheckpoint, checkpoint: cp}
}

// AfterVersion starts with the stream's event at version v+1 (stream
// subscriptions only); AfterVersion(0) is FromOrigin.
func AfterVersion(v int64) SubscriptionStart {
	return SubscriptionStart{kind: startVersion, version: v}
}

// SubscriptionOptions configures a subscription. Only the handler is
// required; the zero value subscribes to the whole global feed from its
// origin, in memory (not persistent).
type SubscriptionOptions struct {
	// Name makes the subscription persistent: its checkpoint is stored in
	// eventstore.subscriptions after the handler succeeds, a restart
	// resumes right after it, and only one consumer per name (and
	// partition member) is active at a time across processes. Empty: the
	// subscription keeps its position in memory only.
	Name string
	// StreamID subscribes to one stream instead of the global feed; its
	// checkpoint is then the stream version. A stream that does not exist
	// yet is waited for; a deleted stream stops the subscription with
	// ErrStreamDeleted.
	StreamID string
	// Start is where a subscription without a stored checkpoint starts.
	// A persistent subscription that has one resumes after it instead.
	Start SubscriptionStart
	// Filter keeps matching events only (applied in SQL for the global
	// feed); the checkpoint still moves past the others. For a stream
	// subscription only EventTypes may be set.
	Filter FeedFilter
	// Partition makes this consumer one member of a partitioned
	// subscription (global feed only): it handles the streams whose id
	// hashes to Partition.Member, in per-stream order. Each member has its
	// own checkpoint and lease; run one consumer per member.
	Partition FeedPartition
	// BatchSize is the number of events read per query, 1..MaxReadBatch.
	// Default DefaultSubscriptionBatch.
	BatchSize int
	// ScanLimit bounds the rows one filtered feed read examines (see
	// FeedOptions.ScanLimit). Default 10 × BatchSize.
	ScanLimit int
	// CheckpointEvery, when positive, also saves the checkpoint after every
	// CheckpointEvery handled events within a batch. The checkpoint is
	// always saved after a batch has been handled. It only ever names an
	// event whose handler has returned (or an event the filter passed).
	CheckpointEvery int
	// PollInterval is the safety-net poll: without any notification, new
	// events are still found within this interval. Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// CoalesceWindow applies while events keep coming: when more were
	// committed while the last live batch was read and handled, the
	// subscription waits this long before reading again, so that one read
	// picks up many commits instead of one each (fewer reads and wake-ups
	// competing with the writers). An event committed while the
	// subscription is idle is read at once. Default DefaultCoalesceWindow;
	// negative: read again at once.
	CoalesceWindow time.Duration
	// LockRetryInterval is how often a standby consumer of a persistent
	// subscription tries to claim its lease. Default
	// DefaultLockRetryInterval.
	LockRetryInterval time.Duration
	// LeaseDuration is how long a persistent subscription's lease lasts
	// unless renewed; a consumer that dies without releasing it is
	// replaced within LeaseDuration + LockRetryInterval. Default
	// DefaultLeaseDuration.
	LeaseDuration time.Duration
	// MaxAttempts is how often an event is handed to the handler before
	// the subscription gives up on it (1 = no retry). Default
	// DefaultMaxAttempts.
	MaxAttempts int
	// RetryBackoff is the wait before the first retry; it doubles up to
	// MaxRetryBackoff. Defaults DefaultRetryBackoff, DefaultMaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// DeadLetterFunc, when set, receives each event whose handler failed
	// every attempt (or that could not be decoded) and the subscription
	// goes on; when nil the subscription stops with a *HandlerError.
	DeadLetterFunc DeadLetterFunc
	// Logger receives the subscription's logs. Default: the store's.
	Logger *slog.Logger
}

// Subscription delivers events to a handler in feed order (or stream order),
// first catching up from its start, then live: woken by the store's
// notifications and polling as a safety net. Delivery is at-least-once: a
// persistent subscription saves its checkpoint only after the handler
// succeeded, so after a crash the events after the last saved checkpoint
// are delivered again. An event is never skipped: a failing event is
// retried, then dead-lettered or the subscription stops.
type Subscription struct {
	store   *Store
	opts    SubscriptionOptions
	handler HandlerFunc
	log     *slog.Logger
	guild   string             // the guild it belongs to ("" for store-wide)
	lease   *subscriptionLease // persistent subscriptions only
	cancel  context.CancelFunc
	done    chan struct{}
	live    chan struct{}

	liveOnce sync.Once
	err      error // set before done is closed

	mu      sync.Mutex
	pos     subPosition
	active  bool
	handled int64

	deadLetterCheck time.Time // the consume goroutine's last look for dead letters to retry (deadletter.go)
}

// subPosition is a subscription's checkpoint: a feed checkpoint for the
// global feed, a version for a stream.
type subPosition struct {
	cp      Checkpoint
	version int64
}

// Subscribe starts a subscription that hands events to handler until ctx
// is cancelled, Stop is called, or it fails. It returns at once; the
// subscription runs in the background (see Wait, Live).
//
// Its start position is fixed before it returns: every event appended after
// Subscribe returns is delivered (FromEnd included). A persistent
// subscription is registered before it returns (or found, resuming after
// its stored checkpoint); its consumer then claims the lease in the
// background, waiting as a standby while another consumer holds it.
//
// Errors (nothing started): ErrInvalidArgument (also: a stored
// subscription of that name has another source or partitioning),
// ErrInvalidStreamID, ErrInvalidBatchSize, ErrInvalidGuildID,
// ErrSubscriptionNameTaken (the name belongs to another guild),
// ErrGuildMismatch, ErrGuildRequired, or ctx's error while the database
// could not be reached.
func (s *Store) Subscribe(ctx context.Context, opts SubscriptionOptions, handler HandlerFunc) (*Subscription, error) {
	opts, err := s.subscriptionDefaults(opts, handler)
	// A guild in the context scopes the subscription: it reads (and, when
	// persistent, belongs to) that guild. Its reads are scoped by the
	// context like every read.
	guild := opts.Filter.GuildID
	if err == nil && opts.StreamID == "" {
		guild, err = s.scopeTo(ctx, opts.Filter.GuildID)
	}
	if err != nil {
		return nil, opError("subscribe", opts.Name, err)
	}
	log := opts.Logger.With("subscription", opts.Name)
	if opts.Partition.Count > 1 {
		log = log.With("member", opts.Partition.Member, "members", opts.Partition.Count)
	}
	sub := &Subscription{
		store:   s,
		opts:    opts,
		guild:   guild,
		handler: handler,
		log:     log,
		done:    make(chan struct{}),
		live:    make(chan struct{}),
	}
	// The start position is fixed before Subscribe returns: everything
	// appended afterwards is delivered. A persistent subscription is
	// registered (or found) now, so a name of another guild or a stored
	// subscription of another shape fails here.
	// Transient failures (a lost connection, a cancelled statement) are
	// retried with backoff until ctx is done.
	if opts.StreamID != "" {
		sub.guild = s.scopeGuild(ctx)
	}
	if opts.Name != "" {
		sub.lease = sub.newLease()
	}
	var start subPosition
	err = sub.retryTransient(ctx, "start", func() error {
		var err error
		if start, err = sub.startPosition(ctx); err != nil || sub.lease == nil {
			return err
		}
		return sub.register(ctx, sub.lease, start)
	})
	if err != nil {
		return nil, opError("subscribe", sub.label(), err)
	}
	sub.setPosition(start)
	ctx, sub.cancel = context.WithCancel(ctx)
	go sub.run(ctx, start)
	return sub, nil
}

// subscriptionDefaults validates opts and fills in defaults.
func (s *Store) subscriptionDefaults(opts SubscriptionOptions, handler HandlerFunc) (SubscriptionOptions, error) {
	if handler == nil {
		return opts, fmt.Errorf("%w: nil handler", ErrInvalidArgument)
	}
	if err := validateSubscriptionName(opts.Name); err != nil {
		return opts, err
	}
	if opts.StreamID != "" {
		if err := ValidateStreamID(opts.StreamID); err != nil {
			return opts, err
		}
		if opts.Filter.StreamPrefix != "" || opts.Filter.GuildID != "" || opts.Partition.Count > 1 {
			return opts, fmt.Errorf("%w: a stream subscription takes only an event type filter and no partition", ErrInvalidArgument)
		}
		if opts.Start.kind == startCheckpoint {
			return opts, fmt.Errorf("%w: a stream subscription starts at a version, not a feed checkpoint", ErrInvalidArgument)
		}
	} else if opts.Start.kind == startVersion {
		return opts, fmt.Errorf("%w: a feed subscription starts at a checkpoint, not a stream version", ErrInvalidArgument)
	}
	if opts.Start.kind == startVersion && opts.Start.version < 0 {
		return opts, fmt.Errorf("%w: start version %d", ErrInvalidStartVersion, opts.Start.version)
	}
	if err := opts.Filter.validate(); err != nil {
		return opts, err
	}
	if err := opts.Partition.validate(); err != nil {
		return opts, err
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = min(DefaultSubscriptionBatch, s.cfg.MaxReadBatch)
	}
	if opts.BatchSize < 1 || opts.BatchSize > s.cfg.MaxReadBatch {
		return opts, fmt.Errorf("%w: batch size %d (want 1 to %d)", ErrInvalidBatchSize, opts.BatchSize, s.cfg.MaxReadBatch)
	}
	for _, d := range []struct {
		v    *time.Duration
		def  time.Duration
		name string
	}{
		{&opts.PollInterval, DefaultPollInterval, "poll interval"},
		{&opts.LockRetryInterval, DefaultLockRetryInterval, "lock retry interval"},
		{&opts.LeaseDuration, DefaultLeaseDuration, "lease duration"},
		{&opts.RetryBackoff, DefaultRetryBackoff, "retry backoff"},
		{&opts.MaxRetryBackoff, DefaultMaxRetryBackoff, "max retry backoff"},
	} {
		if *d.v < 0 {
			return opts, fmt.Errorf("%w: negative %s", ErrInvalidArgument, d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	switch {
	case opts.CoalesceWindow == 0:
		opts.CoalesceWindow = DefaultCoalesceWindow
	case opts.CoalesceWindow < 0:
		opts.CoalesceWindow = 0
	}
	if opts.MaxAttempts < 0 || opts.CheckpointEvery < 0 || opts.ScanLimit < 0 {
		return opts, fmt.Errorf("%w: negative MaxAttempts, CheckpointEvery or ScanLimit", ErrInvalidArgument)
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Logger == nil {
		opts.Logger = s.log
	}
	opts.Partition = opts.Partition.normalized()
	return opts, nil
}

func validateSubscriptionName(name string) error {
	if name == "" {
		return nil
	}
	if msg := checkName(name, MaxSubscriptionNameLength); msg != "" {
		return fmt.Errorf("%w: subscription name %q: %s", ErrInvalidArgument, truncate(name), msg)
	}
	return nil
}

// Stop stops the subscription and waits until it has stopped: the handler
// has returned, the last checkpoint is saved and every connection is
// closed. It returns what Wait returns.
func (sub *Subscription) Stop() error {
	sub.cancel()
	return sub.Wait()
}

// Wait blocks until the subscription stops and returns why: nil when it was
// stopped (Stop or its context), otherwise the error that stopped it (a
// *HandlerError, ErrStreamDeleted, ErrSubscriptionNotFound when its row was
// deleted, …).
func (sub *Subscription) Wait() error {
	<-sub.done
	return sub.err
}

// Done is closed when the subscription has stopped.
func (sub *Subscription) Done() <-chan struct{} { return sub.done }

// Live is closed once the subscription has caught up (read up to the
// feed's safe horizon or the stream's end) while its listener was
// listening: from then on new events are pushed to it. A persistent
// subscription on standby goes live only after it has taken over.
func (sub *Subscription) Live() <-chan struct{} { return sub.live }

// Active reports whether the subscription is consuming: always for an
// in-memory one while it runs; for a persistent one while it holds its lease
// (a standby is not active).
func (sub *Subscription) Active() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.active
}

// Checkpoint returns the feed checkpoint of the last event handled (or
// passed by the filter). It is the zero Checkpoint for stream subscriptions.
func (sub *Subscription) Checkpoint() Checkpoint {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.pos.cp
}

// Version returns the stream version of the last event handled by a stream
// subscription (0 for feed subscriptions).
func (sub *Subscription) Version() int64 {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.pos.version
}

// Handled returns the number of events this subscription has handled (or
// dead-lettered) since it started.
func (sub *Subscription) Handled() int64 {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.handled
}

func (sub *Subscription) run(ctx context.Context, start subPosition) {
	defer close(sub.done)
	defer sub.cancel()
	err := sub.loop(ctx, start)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil
	}
	if err != nil {
		sub.log.Error("eventstore: subscription stopped", "error", err)
		err = opError("subscription", sub.label(), err)
	}
	sub.err = err
}

// label names the subscription in errors.
func (sub *Subscription) label() string {
	switch {
	case sub.opts.Name != "" && sub.opts.Partition.Count > 1:
		return fmt.Sprintf("%s[%d/%d]", sub.opts.Name, sub.opts.Partition.Member, sub.opts.Partition.Count)
	case sub.opts.Name != "":
		return sub.opts.Name
	case sub.opts.StreamID != "":
		return "stream " + sub.opts.StreamID
	}
	return "$all"
}

// loop runs the subscription: directly when it is in memory, otherwise as
// the holder of its lease, claiming it again after losing it.
func (sub *Subscription) loop(ctx context.Context, start subPosition) error {
	if sub.lease == nil {
		sub.setActive(true)
		defer sub.setActive(false)
		return sub.consume(ctx, nil, start)
	}
	for {
		pos, err := sub.claim(ctx)
		if err != nil {
			return err
		}
		sub.setActive(true)
		sub.log.Info("eventstore: subscription active", "checkpoint", pos.cp, "version", pos.version)
		cctx, stop := context.WithCancelCause(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { sub.lease.keepAlive(cctx, stop) })
		err = sub.consume(cctx, sub.lease, pos)
		if ctx.Err() == nil && cctx.Err() != nil {
			err = context.Cause(cctx)
		}
		stop(nil)
		wg.Wait()
		sub.setActive(false)
		sub.lease.release(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A lost lease, or a transient failure whatever step it hit: claim
		// the lease again (this consumer's own lease is granted back at
		// once unless another consumer took it meanwhile).
		if !errors.Is(err, errLeaseLost) && !isTransient(err) {
			return err
		}
		sub.log.Warn("eventstore: subscription interrupted; claiming its lease again", "error", err)
	}
}

// claim waits until this consumer holds the lease, as a standby while
// another consumer holds it, and returns the checkpoint to resume from.
func (sub *Subscription) claim(ctx context.Context) (subPosition, error) {
	standby := false
	for {
		var (
			granted bool
			pos     subPosition
		)
		err := sub.retryTransient(ctx, "claim", func() error {
			var err error
			granted, pos, err = sub.lease.claim(ctx, sub.opts.Filter)
			return err
		})
		if err != nil {
			return subPosition{}, err
		}
		if granted {
			return pos, nil
		}
		if !standby {
			standby = true
			sub.log.Info("eventstore: subscription on standby: another consumer holds its lease")
		}
		if err := sleepCtx(ctx, sub.opts.LockRetryInterval); err != nil {
			return subPosition{}, err
		}
	}
}

// startPosition computes where a subscription without a stored checkpoint
// starts.
func (sub *Subscription) startPosition(ctx context.Context) (subPosition, error) {
	st := sub.opts.Start
	switch st.kind {
	case startTime:
		return sub.store.resolveTimeStart(ctx, sub.opts.StreamID, st) // since.go
	case startCheckpoint:
		return subPosition{cp: st.checkpoint}, nil
	case startVersion:
		return subPosition{version: st.version}, nil
	case startEnd:
		if sub.opts.StreamID == "" {
			cp, err := sub.store.FeedEnd(ctx)
			return subPosition{cp: cp}, err
		}
		info, err := sub.store.StreamInfo(ctx, sub.opts.StreamID)
		if errors.Is(err, ErrStreamNotFound) {
			return subPosition{}, nil
		}
		return subPosition{version: info.Version}, err
	}
	return subPosition{}, nil
}

// consume catches up from pos, then delivers live, until ctx is done or an
// error stops it. lease is nil for an in-memory subscription.
func (sub *Subscription) consume(ctx context.Context, lease *subscriptionLease, pos subPosition) error {
	sub.setPosition(pos)
	lctx, stopListener := context.WithCancel(ctx)
	l := newListener(sub.store, sub.log)
	// Appends made through this subscription's own Store wake it directly.
	defer sub.store.local.add(l.wake)()
	var wg sync.WaitGroup
	wg.Go(func() { l.run(lctx) })
	defer func() {
		stopListener()
		wg.Wait()
	}()

	var (
		timer    = time.NewTimer(sub.opts.PollInterval)
		chase    time.Duration // re-read delay after a wake-up, 0: not chasing
		woken    bool
		failures int
	)
	defer timer.Stop()
	for {
		progressed, more, err := sub.step(ctx, lease, &pos)
		switch {
		case err == nil:
			failures = 0
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errLeaseLost) || !isTransient(err):
			return err
		default:
			failures++
			wait := min(reconnectMinBackoff<<min(failures, 10), reconnectMaxBackoff)
			sub.log.Warn("eventstore: subscription read failed, retrying", "error", err, "retry_in", wait)
			if sleepCtx(ctx, wait) != nil {
				return ctx.Err()
			}
			continue
		}
		if more {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if l.isReady() {
			sub.liveOnce.Do(func() { close(sub.live) })
		}
		if progressed && sub.opts.CoalesceWindow > 0 {
			select {
			case <-l.wake:
				// Commits arrived while this batch was read and handled:
				// let more gather, then read them together.
				if sleepCtx(ctx, sub.opts.CoalesceWindow) != nil {
					return ctx.Err()
				}
				woken, chase = true, 0
				continue
			default:
			}
		}
		switch {
		case woken || chase > 0:
			// Part of what woke us may still be behind the feed's horizon
			// (a transaction that began earlier was still open): look
			// again soon while looks find events, then back off up to the
			// poll interval.
			if progressed || chase == 0 {
				chase = chaseStart
			} else if chase *= 2; chase >= sub.opts.PollInterval {
				chase = 0
			}
		default:
			chase = 0
		}
		wait := sub.opts.PollInterval
		if chase > 0 {
			wait = chase
		}
		timer.Reset(wait)
		woken = false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.wake:
			woken = true
			chase = 0
		case <-timer.C:
		}
		timer.Stop()
	}
}

// step reads one batch after pos, hands it to the handler and saves the
// checkpoint. It reports whether the position moved and whether more may
// be read at once.
func (sub *Subscription) step(ctx context.Context, lease *subscriptionLease, pos *subPosition) (progressed, more bool, err error) {
	if err := sub.redeliverDeadLetters(ctx, lease); err != nil {
		return false, false, err
	}
	var (
		events []Recorded
		next   subPosition
		decErr error
	)
	if sub.opts.StreamID == "" {
		page, err := sub.store.readFeed(ctx, pos.cp, FeedOptions{
			Limit:     sub.opts.BatchSize,
			Filter:    sub.opts.Filter,
			Partition: sub.opts.Partition,
			ScanLimit: sub.opts.ScanLimit,
		})
		if err != nil && !isDecodeError(err) {
			return false, false, err
		}
		events, decErr, more = page.Events, err, page.More
		next = subPosition{cp: page.Next}
	} else {
		recs, err := sub.store.readPage(ctx, sub.opts.StreamID, pos.version+1, sub.opts.BatchSize, true)
		switch {
		case errors.Is(err, ErrStreamNotFound):
			return false, false, nil
		case err != nil && !isDecodeError(err):
			return false, false, err
		}
		events, decErr, more = recs, err, len(recs) == sub.opts.BatchSize
		next = *pos
		if len(recs) > 0 {
			next.version = recs[len(recs)-1].Version
		}
	}
	if next == *pos {
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
				if saveErr := sub.save(ctx, lease, *pos, handled); saveErr != nil {
					err = errors.Join(err, saveErr)
				}
				return *pos != start, false, err
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

// deliver hands ev to the handler, retrying with backoff; after the last
// attempt the event goes to the dead-letter function, or the error is
// returned. evErr is a decode failure, which no retry can fix.
func (sub *Subscription) deliver(ctx context.Context, ev Recorded, evErr error) error {
	attempts := 0
	if evErr == nil {
		backoff := sub.opts.RetryBackoff
		for {
			attempts++
			evErr = callHandler(ctx, sub.handler, ev)
			if evErr == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if attempts >= sub.opts.MaxAttempts {
				break
			}
			sub.log.Warn("eventstore: handler failed, retrying", "stream_id", ev.StreamID, "version", ev.Version,
				"position", ev.GlobalPosition, "attempt", attempts, "retry_in", backoff, "error", evErr)
			if sleepCtx(ctx, backoff) != nil {
				return ctx.Err()
			}
			backoff = min(2*backoff, sub.opts.MaxRetryBackoff)
		}
	}
	herr := &HandlerError{Subscription: sub.label(), Event: ev, Attempts: attempts, Err: evErr}
	if err := sub.recordDeadLetter(ctx, herr); err != nil {
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

// save records pos after handled more events: in memory, and for a
// persistent subscription in its row, with its lease token. A save made
// while the subscription stops still runs (bounded in time).
func (sub *Subscription) save(ctx context.Context, lease *subscriptionLease, pos subPosition, handled int64) error {
	if lease != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		if err := lease.save(sctx, pos, handled); err != nil {
			return err
		}
	}
	sub.setPosition(pos)
	return nil
}

func (sub *Subscription) setPosition(pos subPosition) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.pos = pos
}

func (sub *Subscription) addHandled(n int64) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.handled += n
}

func (sub *Subscription) setActive(active bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.active = active
}

// retryTransient runs fn until it succeeds, fails permanently or ctx is
// done, backing off after transient failures.
func (sub *Subscription) retryTransient(ctx context.Context, what string, fn func() error) error {
	backoff := reconnectMinBackoff
	for {
		err := fn()
		if err == nil || !isTransient(err) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		sub.log.Warn("eventstore: subscription "+what+" failed, retrying", "error", err, "retry_in", backoff)
		if sleepCtx(ctx, backoff) != nil {
			return ctx.Err()
		}
		backoff = min(2*backoff, reconnectMaxBackoff)
	}
}

// isTransient reports errors a subscription outlives by retrying: lost
// connections, server shutdown or overload, cancelled statements.
func isTransient(err error) bool {
	if errors.Is(err, ErrConnection) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			strings.HasPrefix(pgErr.Code, "57") || strings.HasPrefix(pgErr.Code, "40")
	}
	return isConnectionError(err)
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
