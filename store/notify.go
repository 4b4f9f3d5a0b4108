package store

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NotifyChannel is the LISTEN/NOTIFY channel on which the store announces
// that new events have committed. The payload names the sending Store (a
// random id), so that its own listeners, already woken in process, skip it;
// it says nothing about the events: a listener reads the feed to find out
// what is new. Any other payload (an empty one from psql's NOTIFY, say)
// wakes every listener.
const NotifyChannel = "eventstore_events"

// notifier sends at most one wake-up NOTIFY at a time per Store, after the
// appends that asked for it have committed. Appends that commit while one is
// in flight are covered by a single follow-up notification. Sending it
// outside the append transaction keeps writers' commits free of the global
// notification-queue lock (see DESIGN.md §3).
//
// Notifications are spaced at least interval apart: a notification goes out
// at once unless the previous one was sent less than interval ago, and then
// waits for the rest of that interval. A busy writer process thus sends a
// bounded number of NOTIFYs (and wakes its listeners a bounded number of
// times) per second. Subscriptions on the same Store are woken in process
// and never wait for it (see localWaker).
type notifier struct {
	pool     *pgxpool.Pool
	interval time.Duration
	payload  string // the Store's instance id
	mu       sync.Mutex
	running  bool
	dirty    bool
	last     time.Time // when the previous notification was sent; only run touches it
	wg       sync.WaitGroup
}

func newNotifier(pool *pgxpool.Pool, interval time.Duration, payload string) *notifier {
	return &notifier{pool: pool, interval: interval, payload: payload}
}

// wake asks for a notification; it never blocks.
func (n *notifier) wake() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running {
		n.dirty = true
		return
	}
	n.running = true
	n.wg.Add(1)
	go n.run()
}

// run sends notifications until no append asked for another; at most one
// run goroutine exists at a time (running), so last needs no lock.
func (n *notifier) run() {
	defer n.wg.Done()
	for {
		if wait := n.interval - time.Since(n.last); wait > 0 {
			time.Sleep(wait)
		}
		n.last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// A failed notification is covered by subscribers' polling.
		_, _ = n.pool.Exec(ctx, "SELECT pg_notify('"+NotifyChannel+"', $1)", n.payload)
		cancel()
		n.mu.Lock()
		if !n.dirty {
			n.running = false
			n.mu.Unlock()
			return
		}
		n.dirty = false
		n.mu.Unlock()
	}
}

func (n *notifier) close() { n.wg.Wait() }
