package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// HandlerFunc handles one event delivered by a subscription. An error makes
// the subscription retry the event with backoff (see
// SubscriptionOptions.Retry); a panic counts as an error. ctx is cancelled
// when the subscription stops; a handler should then return.
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
	// DefaultCoalesceWindow is how long a live subscription lets new
	// events gather before its next read when more were committed while it
	// read and handled a batch of several.
	DefaultCoalesceWindow = 10 * time.Millisecond
)

// The retry policy of a failing handler, applied to zero fields of
// SubscriptionOptions.Retry: 5 attempts, backoff ceilings from 100ms
// doubling to 5s (full jitter, as RetryPolicy describes).
const (
	// DefaultHandlerAttempts is how often a failing event is tried.
	DefaultHandlerAttempts = 5
	// DefaultHandlerRetryBaseDelay is the backoff ceiling after the first
	// failed attempt.
	DefaultHandlerRetryBaseDelay = 100 * time.Millisecond
	// DefaultHandlerRetryMaxDelay caps the backoff ceiling.
	DefaultHandlerRetryMaxDelay = 5 * time.Second
)

// MaxSubscriptionNameLength is the longest persistent subscription name.
const MaxSubscriptionNameLength = 200

// saveTimeout bounds a checkpoint save made while the subscription stops.
const saveTimeout = 5 * time.Second

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
	// own checkpoint and lease; run one consumer per member. (A consumer
	// group, SubscribeGroup, spreads the partitions over its members by
	// itself.)
	Partition FeedPartition
	// BatchSize is the number of events read per query, 1..MaxReadBatch.
	// Default DefaultSubscriptionBatch. A read the server cancels
	// (statement_timeout) is retried with half the page, down to one
	// event, and the page grows back to BatchSize once reads succeed.
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
	// CoalesceWindow applies while events come faster than one a read:
	// when more were committed while a live batch of several events was
	// read and handled, the subscription waits this long before reading
	// again, so that one read picks up many commits instead of a few each
	// (fewer reads and wake-ups competing with the writers). An event
	// committed while the subscription is idle, or while it handled a
	// batch of one, is read at once. Default DefaultCoalesceWindow;
	// negative: read again at once.
	CoalesceWindow time.Duration
	// LockRetryInterval is how often a standby consumer of a persistent
	// subscription tries to claim its lease (and how often a consumer
	// group member holding less than its share looks for free
	// partitions). Default DefaultLockRetryInterval.
	LockRetryInterval time.Duration
	// LeaseDuration is how long a persistent subscription's lease lasts
	// unless renewed; a consumer that dies without releasing it is
	// replaced within LeaseDuration + LockRetryInterval. Default
	// DefaultLeaseDuration.
	LeaseDuration time.Duration
	// Retry is how a failing handler is retried: MaxAttempts attempts in
	// all (1 = no retry), with RetryPolicy's jittered exponential backoff
	// between them. Zero fields take DefaultHandlerAttempts,
	// DefaultHandlerRetryBaseDelay and DefaultHandlerRetryMaxDelay.
	Retry RetryPolicy
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
//
// State reports where it is (see SubscriptionState).
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
	pos     subPosition // the last saved position
	state   SubscriptionState
	handled int64

	unsaved int64     // handled count of a failed save; only the consume loop uses it
	page    pageLimit // the page size of the next read; only the consume loop uses it

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
// subscription runs in the background (see Wait, Live, State).
//
// Its start position is fixed before it returns: every event appended after
// Subscribe returns is delivered (FromEnd included). A persistent
// subscription is registered before it returns (or found, resuming after
// its stored checkpoint); its consumer then claims the lease in the
// background, waiting as a standby while another consumer holds it.
//
// Errors (nothing started): ErrInvalidArgument (also: a stored
// subscription of that name has another source or partitioning, or is a
// consumer group), ErrInvalidStreamID, ErrInvalidBatchSize,
// ErrInvalidGuildID, ErrSubscriptionNameTaken (the name belongs to another
// guild), ErrGuildMismatch, ErrGuildRequired, or ctx's error while the
// database could not be reached.
func (s *Store) Subscribe(ctx context.Context, opts SubscriptionOptions, handler HandlerFunc) (*Subscription, error) {
	sub, err := s.newSubscription(ctx, opts, handler)
	if err != nil {
		return nil, opError("subscribe", opts.Name, err)
	}
	if sub.opts.Name != "" {
		sub.lease = sub.newLease(sub.opts.Partition.Member, newHolderID())
	}
	// The start position is fixed before Subscribe returns: everything
	// appended afterwards is delivered. A persistent subscription is
	// registered (or found) now, so a name of another guild or a stored
	// subscription of another shape fails here. Transient failures (a lost
	// connection) are retried with backoff until ctx is done.
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
	go sub.run(ctx, func(ctx context.Context) error { return sub.loop(ctx, start) })
	return sub, nil
}

// newSubscription validates opts, scopes them to ctx's guild and returns
// the subscription, not yet started.
func (s *Store) newSubscription(ctx context.Context, opts SubscriptionOptions, handler HandlerFunc) (*Subscription, error) {
	opts, err := s.subscriptionDefaults(opts, handler)
	// A guild in the context scopes the subscription: it reads (and, when
	// persistent, belongs to) that guild. Its reads are scoped by the
	// context like every read.
	guild := opts.Filter.GuildID
	if err == nil && opts.StreamID == "" {
		guild, err = s.scopeTo(ctx, opts.Filter.GuildID)
	}
	if err != nil {
		return nil, err
	}
	if opts.StreamID != "" {
		guild = s.scopeGuild(ctx)
	}
	log := opts.Logger.With("subscription", opts.Name)
	if opts.Partition.Count > 1 {
		log = log.With("member", opts.Partition.Member, "members", opts.Partition.Count)
	}
	return &Subscription{
		store:   s,
		opts:    opts,
		guild:   guild,
		handler: handler,
		log:     log,
		done:    make(chan struct{}),
		live:    make(chan struct{}),
		state:   initialState(opts),
	}, nil
}

// initialState is a new subscription's state: a persistent one is on
// standby until it holds its lease.
func initialState(opts SubscriptionOptions) SubscriptionState {
	if opts.Name != "" {
		return StateStandby
	}
	return StateCatchingUp
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
	}
	if err := opts.Start.validate(opts.StreamID != ""); err != nil {
		return opts, err
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
		{&opts.Retry.BaseDelay, DefaultHandlerRetryBaseDelay, "retry base delay"},
		{&opts.Retry.MaxDelay, DefaultHandlerRetryMaxDelay, "retry max delay"},
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
	if opts.Retry.MaxAttempts < 0 || opts.CheckpointEvery < 0 || opts.ScanLimit < 0 {
		return opts, fmt.Errorf("%w: negative Retry.MaxAttempts, CheckpointEvery or ScanLimit", ErrInvalidArgument)
	}
	if opts.Retry.MaxAttempts == 0 {
		opts.Retry.MaxAttempts = DefaultHandlerAttempts
	}
	opts.Retry = opts.Retry.withDefaults()
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

// Live is closed once the subscription has first caught up (read up to the
// feed's safe horizon or the stream's end) while the Store's listener was
// listening: from then on new events are pushed to it. A persistent
// subscription on standby goes live only after it has taken over.
func (sub *Subscription) Live() <-chan struct{} { return sub.live }

// Active reports whether the subscription is consuming (catching up or
// live): always for an in-memory one while it runs; for a persistent one
// while it holds its lease (a standby is not active).
func (sub *Subscription) Active() bool { return sub.State().active() }

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

// run runs body until it returns, then records why the subscription
// stopped and closes done.
func (sub *Subscription) run(ctx context.Context, body func(context.Context) error) {
	defer close(sub.done)
	defer sub.cancel()
	err := body(ctx)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil
	}
	if err != nil {
		sub.log.Error("eventstore: subscription stopped", "error", err)
		err = opError("subscription", sub.label(), err)
		sub.setState(StateFailed)
	} else {
		sub.setState(StateStopped)
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
// the holder of its lease (see holdLease).
func (sub *Subscription) loop(ctx context.Context, start subPosition) error {
	if sub.lease == nil {
		return sub.consume(ctx, nil, start)
	}
	return sub.holdLease(ctx)
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

// retryTransient runs fn until it succeeds, fails for good or ctx is done,
// backing off (reconnectPolicy) after failures the store retries.
func (sub *Subscription) retryTransient(ctx context.Context, what string, fn func() error) error {
	b := backoff{policy: reconnectPolicy()}
	for {
		err := fn()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryableInBackground(err) {
			return err
		}
		wait := b.fail()
		sub.log.Warn("eventstore: subscription "+what+" failed, retrying", "error", err, "retry_in", wait)
		if sleepCtx(ctx, wait) != nil {
			return ctx.Err()
		}
	}
}
