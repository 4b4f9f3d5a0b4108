package store

// SubscriptionState is where a subscription (or one partition of a
// consumer group member) is in its life:
//
//	         Subscribe
//	             │
//	             ▼           lease held by another consumer
//	┌────► catching up ◄──────────────────┐
//	│       │       ▲                     │
//	│ read  │       │ a full page         │
//	│ up to │       │ (fell behind)   standby ◄── lease lost / expired
//	│ the   ▼       │                     ▲        (persistent only)
//	│ horizon  live ┘                     │
//	│            └────────────────────────┘
//	│
//	└── any state ──► stopped (Stop, ctx cancelled)
//	              └─► failed  (handler gave up with no dead letter,
//	                           stream deleted, row deleted, …)
//
// A persistent subscription starts in standby until it holds its lease; an
// in-memory one starts catching up.
type SubscriptionState int32

// The states of a subscription.
const (
	// StateCatchingUp: reading pages back to back, behind the feed's head.
	StateCatchingUp SubscriptionState = iota
	// StateLive: caught up with the feed's safe horizon (or the stream's
	// end) with the Store's listener attached; waiting for wake-ups and
	// polling.
	StateLive
	// StateStandby: a persistent subscription waiting for the lease that
	// another consumer holds (or claiming it again after losing it), or a
	// consumer group member that holds no partition.
	StateStandby
	// StateStopped: stopped by Stop or its context; Wait returns nil.
	StateStopped
	// StateFailed: stopped by an error; Wait returns it.
	StateFailed
)

// String returns the state's name as reports show it.
func (st SubscriptionState) String() string {
	switch st {
	case StateCatchingUp:
		return "catching_up"
	case StateLive:
		return "live"
	case StateStandby:
		return "standby"
	case StateStopped:
		return "stopped"
	case StateFailed:
		return "failed"
	}
	return "unknown"
}

// active reports whether a consumer in this state delivers events.
func (st SubscriptionState) active() bool { return st == StateCatchingUp || st == StateLive }

// State returns the subscription's current state.
func (sub *Subscription) State() SubscriptionState {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.state
}

// setState records a state change (and logs it).
func (sub *Subscription) setState(st SubscriptionState) {
	sub.mu.Lock()
	prev := sub.state
	sub.state = st
	sub.mu.Unlock()
	if prev != st {
		sub.log.Debug("eventstore: subscription state", "from", prev.String(), "to", st.String())
	}
	if st == StateLive {
		sub.liveOnce.Do(func() { close(sub.live) })
	}
}
