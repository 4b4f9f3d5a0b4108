package store

import (
	"context"
	"sync"
	"sync/atomic"
)

// The live layer runs every subscription and consumer group partition of a
// Store. It is these files, and the rest of the package uses it through a
// small interface:
//
//   - live.go: liveHub, the Store's one listener and in-process waker.
//     join(state) gives a consumer its waiter (wake-up channel c, ready,
//     leave); committed() wakes every consumer after the Store's own
//     commits; stats() reports it (Stats.Live).
//   - live_listener.go: the LISTEN connection, reconnecting with backoff.
//   - live_consume.go: the consume loop, consume(ctx, lease, pos): read a
//     batch, deliver it (subscription_deliver.go), save the checkpoint;
//     catching up or live.
//   - live_lease.go: a persistent subscription's lease: holdLease (standby,
//     claim, keep alive, release).
//
// Subscribe (subscription.go) and SubscribeGroup (group.go) build consumers
// on it; a consumer's SubscriptionState (subscription_state.go) says where
// in it the consumer is.

// liveHub is a Store's live layer: the one listener of the Store (a single
// LISTEN connection, however many subscriptions run) and the in-process
// waker. Consumers join it while they run and wait on their waiter's
// channel; a wake-up is a hint to read the feed, never the source of truth
// (consumers also poll).
//
// The hub wakes every waiter when the listener receives a notification from
// another Store (or psql), after every (re)connect of the listener (a
// notification sent while it was not listening is lost), and when an append
// of its own Store commits (committed). The listener runs while at least one
// waiter has joined: the first join starts it, the last leave stops it and
// waits for it to end.
type liveHub struct {
	s *Store

	mu        sync.Mutex
	waiters   map[*waiter]struct{}
	run       *listenerRun // nil while no waiter has joined
	connects  atomic.Int64 // successful LISTENs
	listening atomic.Bool
}

// listenerRun is one run of the listener, from the first join to the last
// leave.
type listenerRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the listener has ended
	ready  chan struct{} // closed once it has LISTENed
}

// waiter is one consumer's place in the hub.
type waiter struct {
	hub   *liveHub
	run   *listenerRun
	state func() SubscriptionState // the consumer's, for Stats
	// c receives coalesced wake-ups (capacity 1).
	c chan struct{}
}

// join registers a waiter for a consumer whose state state reports,
// starting the listener when none runs.
func (h *liveHub) join(state func() SubscriptionState) *waiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[*waiter]struct{}{}
	}
	if h.run == nil {
		ctx, cancel := context.WithCancel(context.Background())
		r := &listenerRun{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
		l := newListener(h.s, r.ready, h.wakeAll)
		l.connected = func(up bool) {
			h.listening.Store(up)
			if up {
				h.connects.Add(1)
			}
		}
		go func() {
			defer close(r.done)
			l.run(ctx)
		}()
		h.run = r
	}
	w := &waiter{hub: h, run: h.run, state: state, c: make(chan struct{}, 1)}
	h.waiters[w] = struct{}{}
	return w
}

// leave removes the waiter; the last one stops the listener and waits
// until its connection is closed.
func (w *waiter) leave() {
	h := w.hub
	h.mu.Lock()
	delete(h.waiters, w)
	var stopped *listenerRun
	if len(h.waiters) == 0 && h.run != nil {
		stopped, h.run = h.run, nil
	}
	h.mu.Unlock()
	if stopped != nil {
		stopped.cancel()
		<-stopped.done
	}
}

// ready reports whether the listener has listened (since it started for
// this waiter's run): from then on commits of other Stores wake the waiter.
func (w *waiter) ready() bool {
	select {
	case <-w.run.ready:
		return true
	default:
		return false
	}
}

// wakeAll signals every waiter without blocking; wake-ups coalesce in each
// waiter's channel.
func (h *liveHub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.waiters {
		select {
		case w.c <- struct{}{}:
		default:
		}
	}
}

// stats reports the listener and the consumers' states.
func (h *liveHub) stats() LiveStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := LiveStats{Listening: h.listening.Load(), ListenerConnects: h.connects.Load(), Consumers: map[SubscriptionState]int{}}
	for w := range h.waiters {
		st.Consumers[w.state()]++
	}
	return st
}

// committed is called after events this Store appended have committed: it
// wakes the Store's own consumers at once and asks the notifier to tell
// other Stores and processes.
func (s *Store) committed() {
	s.announced.Add(1)
	s.live.wakeAll()
	if s.notifier != nil {
		s.notifier.wake()
	}
}
