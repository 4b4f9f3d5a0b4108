package store

import "sync"

// localWaker wakes the subscriptions of this Store right after one of its
// appends commits, without the NOTIFY round trip through the server.
// Subscriptions in other processes (or on other Stores) are woken by the
// notifier's NOTIFY and by polling, as before.
type localWaker struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// add registers a wake channel (buffered, capacity 1) and returns the
// function that removes it.
func (w *localWaker) add(ch chan struct{}) (remove func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs == nil {
		w.subs = map[chan struct{}]struct{}{}
	}
	w.subs[ch] = struct{}{}
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.subs, ch)
	}
}

// wake signals every registered channel without blocking; wake-ups
// coalesce in the channel's buffer.
func (w *localWaker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// committed is called after events this Store appended have committed: it
// wakes local subscriptions at once and asks the notifier to tell other
// processes.
func (s *Store) committed() {
	s.local.wake()
	if s.notifier != nil {
		s.notifier.wake()
	}
}
