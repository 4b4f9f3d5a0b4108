package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Broadcaster defaults applied to zero BroadcasterConfig fields.
const (
	// DefaultBroadcastQueue is the default queue length of each receiver.
	DefaultBroadcastQueue = 256
	// DefaultBroadcastOverflowWait is how long Handle waits, by default,
	// for room in full receiver queues before disconnecting them.
	DefaultBroadcastOverflowWait = time.Second
)

// BroadcasterConfig configures a Broadcaster. The zero value is valid.
type BroadcasterConfig struct {
	// QueueSize is the number of events a receiver may have waiting.
	// Default DefaultBroadcastQueue.
	QueueSize int
	// OverflowWait is the longest one Handle call waits for room in full
	// receiver queues (one deadline for all of them). A receiver whose
	// queue is still full then is disconnected with ErrBroadcastOverflow.
	// Default DefaultBroadcastOverflowWait; negative: disconnect at once.
	OverflowWait time.Duration
	// Logger receives the broadcaster's logs. Default: discard.
	Logger *slog.Logger
}

// Broadcaster fans events out to in-process receivers, each with its own
// goroutine and bounded queue. Feed it from a subscription by passing its
// Handle method as the handler:
//
//	b := store.NewBroadcaster(store.BroadcasterConfig{})
//	defer b.Close()
//	b.Register(ctx, "discord", postUpdate)
//	sub, err := s.Subscribe(ctx, store.SubscriptionOptions{Start: store.FromEnd()}, b.Handle)
//
// Guarantees: each receiver gets the events in the order Handle was called
// (feed order, hence per-stream order), one at a time. A receiver either
// gets every event from its registration on, or is disconnected and told
// why (Err): it is never silently skipped past an event.
//
// Overflow policy: a slow receiver never blocks the others for long. When
// its queue is full, Handle waits up to OverflowWait for room; a receiver
// still full then is disconnected with ErrBroadcastOverflow (its queued
// events are dropped) and the others go on. A receiver that needs every
// event should re-register and catch up from the store, starting after the
// last event it handled.
//
// Delivery to receivers is in memory: Handle returns once the event is
// queued, so a persistent subscription feeding a broadcaster checkpoints
// events receivers may not have handled yet. Use a broadcaster for live
// fan-out (typically from a subscription started FromEnd), and a persistent
// subscription of its own for work that must survive a restart.
type Broadcaster struct {
	cfg       BroadcasterConfig
	mu        sync.Mutex
	receivers map[*Receiver]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// NewBroadcaster returns a broadcaster with no receivers.
func NewBroadcaster(cfg BroadcasterConfig) *Broadcaster {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultBroadcastQueue
	}
	if cfg.OverflowWait == 0 {
		cfg.OverflowWait = DefaultBroadcastOverflowWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Broadcaster{cfg: cfg, receivers: map[*Receiver]struct{}{}}
}

// Receiver is a handler registered with a Broadcaster.
type Receiver struct {
	name  string
	b     *Broadcaster
	queue chan Recorded
	stop  chan struct{}
	done  chan struct{}
	// cancel ends the context of the handler call in progress.
	cancel context.CancelFunc

	once sync.Once
	err  error // why it stopped; written once, before stop is closed
}

// Register adds a receiver that hands each broadcast event to fn on its own
// goroutine, until ctx is done, Unregister is called, fn returns an error,
// its queue overflows or the broadcaster is closed. name identifies it in
// errors and logs. Errors: ErrBroadcasterClosed, ErrInvalidArgument (nil fn).
func (b *Broadcaster) Register(ctx context.Context, name string, fn HandlerFunc) (*Receiver, error) {
	if fn == nil {
		return nil, fmt.Errorf("register receiver %q: %w: nil handler", name, ErrInvalidArgument)
	}
	r := &Receiver{
		name:  name,
		b:     b,
		queue: make(chan Recorded, b.cfg.QueueSize),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("register receiver %q: %w", name, ErrBroadcasterClosed)
	}
	ctx, r.cancel = context.WithCancel(ctx)
	b.receivers[r] = struct{}{}
	b.wg.Add(1)
	go r.run(ctx, fn)
	return r, nil
}

func (r *Receiver) run(ctx context.Context, fn HandlerFunc) {
	defer r.b.wg.Done()
	defer close(r.done)
	defer r.cancel()
	for {
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			r.halt(ctx.Err())
			return
		case ev := <-r.queue:
			select {
			case <-r.stop:
				return
			default:
			}
			if err := callHandler(ctx, fn, ev); err != nil {
				if ctx.Err() != nil {
					r.halt(ctx.Err())
					return
				}
				r.b.cfg.Logger.Warn("eventstore: broadcast receiver failed and was disconnected",
					"receiver", r.name, "stream_id", ev.StreamID, "version", ev.Version, "error", err)
				r.halt(fmt.Errorf("receiver %q: handle event at %q version %d: %w", r.name, ev.StreamID, ev.Version, err))
				return
			}
		}
	}
}

// halt stops the receiver with err (nil for Unregister) and removes it
// from the broadcaster; only the first call counts.
func (r *Receiver) halt(err error) {
	r.once.Do(func() {
		r.err = err
		close(r.stop)
		r.cancel()
		r.b.mu.Lock()
		delete(r.b.receivers, r)
		r.b.mu.Unlock()
	})
}

// Unregister stops the receiver after the handler call in progress (whose
// context is cancelled) and waits for it; queued events are dropped.
func (r *Receiver) Unregister() {
	r.halt(nil)
	<-r.done
}

// Done is closed when the receiver has stopped.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// Err reports why the receiver stopped: nil while it runs or after
// Unregister; the context's error; ErrBroadcastOverflow; ErrBroadcasterClosed;
// or its handler's error.
func (r *Receiver) Err() error {
	select {
	case <-r.stop:
		return r.err
	default:
		return nil
	}
}

// Handle queues ev for every receiver. It is a HandlerFunc, to be called
// from one goroutine (a subscription does): receivers see events in the
// order of the calls. It waits at most OverflowWait in all for full queues
// and disconnects the receivers still full then. It returns
// ErrBroadcasterClosed after Close, or ctx's error when ctx ends first.
func (b *Broadcaster) Handle(ctx context.Context, ev Recorded) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBroadcasterClosed
	}
	rs := make([]*Receiver, 0, len(b.receivers))
	for r := range b.receivers {
		rs = append(rs, r)
	}
	b.mu.Unlock()

	var (
		timer   *time.Timer
		expired = b.cfg.OverflowWait < 0
	)
	for _, r := range rs {
		select {
		case r.queue <- ev:
			continue
		case <-r.stop:
			continue
		default:
		}
		if !expired {
			if timer == nil {
				timer = time.NewTimer(b.cfg.OverflowWait)
				defer timer.Stop()
			}
			select {
			case r.queue <- ev:
				continue
			case <-r.stop:
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				expired = true
			}
		}
		b.cfg.Logger.Warn("eventstore: broadcast receiver overflowed and was disconnected",
			"receiver", r.name, "queue", cap(r.queue), "stream_id", ev.StreamID, "version", ev.Version)
		r.halt(fmt.Errorf("receiver %q: %w: %d events queued", r.name, ErrBroadcastOverflow, cap(r.queue)))
	}
	return nil
}

// Receivers returns the number of connected receivers.
func (b *Broadcaster) Receivers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.receivers)
}

// Close disconnects every receiver with ErrBroadcasterClosed (after the
// handler call in progress) and waits for their goroutines to end. Handle
// and Register fail afterwards.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	b.closed = true
	rs := make([]*Receiver, 0, len(b.receivers))
	for r := range b.receivers {
		rs = append(rs, r)
	}
	b.mu.Unlock()
	for _, r := range rs {
		r.halt(ErrBroadcasterClosed)
	}
	b.wg.Wait()
}
