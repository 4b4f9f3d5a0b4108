package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// groupLog records what the members of a consumer group handled.
type groupLog struct {
	mu      sync.Mutex
	handled []groupHandled
}

type groupHandled struct {
	member  int
	stream  string
	version int64
}

func (l *groupLog) handler(member int) store.HandlerFunc {
	return func(_ context.Context, ev store.Recorded) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.handled = append(l.handled, groupHandled{member: member, stream: ev.StreamID, version: ev.Version})
		return nil
	}
}

// groupProc is one process of the group test: its own pool (named
// member-N in pg_stat_activity), Store and member. crash makes its pool
// unable to connect, terminates its sessions and cancels its context, as
// when its process dies: it cannot release anything, so its leases run out.
type groupProc struct {
	id     int
	app    string
	dead   atomic.Bool
	pool   *pgxpool.Pool
	store  *store.Store
	member *store.GroupMember
	cancel context.CancelFunc
}

func startGroupProc(t *testing.T, b *bundle, id int, opts store.GroupOptions, log *groupLog) *groupProc {
	t.Helper()
	p := &groupProc{id: id, app: fmt.Sprintf("member-%d", id)}
	cfg := b.pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["application_name"] = p.app
	cfg.BeforeConnect = func(context.Context, *pgx.ConnConfig) error {
		if p.dead.Load() {
			return errors.New("process is dead")
		}
		return nil
	}
	var err error
	p.pool, err = pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(p.pool.Close)
	p.store = store.New(p.pool, store.Config{})
	t.Cleanup(p.store.Close)
	ctx, cancel := context.WithCancel(b.ctx)
	p.cancel = cancel
	p.member, err = p.store.SubscribeGroup(ctx, opts, log.handler(id))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.member.Stop() })
	return p
}

func (p *groupProc) crash(t *testing.T, b *bundle) {
	p.dead.Store(true)
	require.Positive(t, terminate(t, b, p.app))
	p.cancel()
	<-p.member.Done()
}

// spread reports whether the live procs hold every partition of n exactly
// once, each holding want partitions (0: any number).
func spread(procs []*groupProc, n, want int) bool {
	seen := map[int]bool{}
	for _, p := range procs {
		parts := p.member.Partitions()
		if want > 0 && len(parts) != want {
			return false
		}
		for _, q := range parts {
			if seen[q] {
				return false
			}
			seen[q] = true
		}
	}
	return len(seen) == n
}

// TestConsumerGroupRebalances runs a consumer group of 16 partitions under
// load (a writer appending to 40 streams) through a member whose sessions
// are killed, a member that dies (its lease left to run out), two joins and
// three leaves. Every event is handled at least once, no stream's events are
// skipped or reordered in any member's handling, no partition is held by
// two members at once for longer than the lease, and the partitions move
// within the documented bounds, which the test measures and logs.
func TestConsumerGroupRebalances(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const (
		partitions = 16
		streams    = 40
		lease      = 2 * time.Second
		// slack is what a measured move may take beyond its bound before
		// the test fails: the machines this runs on are shared and can be
		// loaded far beyond their cores.
		slack = 3 * time.Second
	)
	opts := store.GroupOptions{
		SubscriptionOptions: fast(store.SubscriptionOptions{Name: "g", LeaseDuration: lease}),
		Partitions:          partitions,
	}
	var log groupLog

	// The writer appends one event to a stream every 5 ms until stopped.
	writerCtx, stopWriter := context.WithCancel(b.ctx)
	var (
		wg       sync.WaitGroup
		appended atomic.Int64
	)
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-writerCtx.Done():
				return
			case <-tick.C:
			}
			if _, err := b.store.Append(writerCtx, fmt.Sprintf("game-%d", i%streams), store.Any, rawEvent("test_event", i)); err == nil {
				appended.Add(1)
			}
		}
	})

	// Overlap monitor: how long a partition was held by two members at once.
	var (
		monMu      sync.Mutex
		procs      []*groupProc
		maxOverlap time.Duration
	)
	monCtx, stopMon := context.WithCancel(t.Context())
	wg.Go(func() {
		since := map[int]time.Time{}
		// Sample the holders every 5 ms until the test ends.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-monCtx.Done():
				return
			case <-tick.C:
			}
			monMu.Lock()
			holders := map[int]int{}
			for _, p := range procs {
				for _, q := range p.member.Partitions() {
					holders[q]++
				}
			}
			monMu.Unlock()
			now := time.Now()
			for q := range partitions {
				if holders[q] > 1 {
					if _, ok := since[q]; !ok {
						since[q] = now
					}
					maxOverlap = max(maxOverlap, now.Sub(since[q]))
				} else {
					delete(since, q)
				}
			}
		}
	})
	setProcs := func(ps ...*groupProc) {
		monMu.Lock()
		defer monMu.Unlock()
		procs = ps
	}
	measure := func(what string, bound time.Duration, ok func() bool) {
		start := time.Now()
		require.Eventually(t, ok, 30*time.Second, 5*time.Millisecond, what)
		took := time.Since(start)
		t.Logf("rebalance %-45s %v (bound %v)", what+":", took.Round(time.Millisecond), bound)
		require.LessOrEqual(t, took, bound+slack, "%s took longer than its bound (plus %v of slack for a loaded machine)", what, slack)
	}

	p0 := startGroupProc(t, b, 0, opts, &log)
	p1 := startGroupProc(t, b, 1, opts, &log)
	p2 := startGroupProc(t, b, 2, opts, &log)
	setProcs(p0, p1, p2)
	// Members 1 and 2 join one after the other: as the joins below.
	measure("3 members start", 2*(lease/3+opts.LockRetryInterval), func() bool {
		return spread(procs, partitions, 0) && maxHeld(procs) <= 6
	})

	// Member 0's sessions are killed: it reconnects and handles again. Its
	// partitions stay with it, unless reconnecting took longer than its
	// lease (then its leases ran out and the others took over).
	before, handled := p0.member.Partitions(), p0.member.Handled()
	require.Positive(t, terminate(t, b, p0.app))
	measure("member 0's sessions killed (it handles again)", lease, func() bool {
		return spread(procs, partitions, 0) && p0.member.Handled() > handled+10
	})
	t.Logf("member 0 kept its partitions through the kill: %t", slices.Equal(before, p0.member.Partitions()))

	// Member 1 dies: its partitions move once its lease has run out.
	p1.crash(t, b)
	setProcs(p0, p2)
	measure("member 1 dies (lease runs out)", lease+lease/3, func() bool { return spread(procs, partitions, 8) })

	// Two members join: 4 each.
	p3 := startGroupProc(t, b, 3, opts, &log)
	p4 := startGroupProc(t, b, 4, opts, &log)
	setProcs(p0, p2, p3, p4)
	// Each join is seen at the others' next heartbeat (T/3), which hand
	// back what exceeds the new share; the newcomer looks every
	// LockRetryInterval meanwhile. The two joins are seen one after the
	// other at worst.
	measure("members 3 and 4 join", 2*(lease/3+opts.LockRetryInterval), func() bool { return spread(procs, partitions, 4) })

	// Three members leave: the last one takes everything.
	for _, p := range []*groupProc{p0, p2, p3} {
		require.NoError(t, p.member.Stop())
	}
	setProcs(p4)
	measure("members 0, 2 and 3 leave", lease/3, func() bool { return spread(procs, partitions, partitions) })

	stopWriter()
	stopMon()
	wg.Wait()
	require.Greater(t, appended.Load(), int64(100))
	t.Logf("longest time a partition was held by two members at once: %v", maxOverlap)
	require.LessOrEqual(t, maxOverlap, lease, "a partition was held by two members at once for longer than the lease")

	// Every appended event is handled at least once.
	last := map[string]int64{}
	for i := range streams {
		info, err := b.store.StreamInfo(b.ctx, fmt.Sprintf("game-%d", i))
		require.NoError(t, err)
		last[info.StreamID] = info.Version
	}
	require.Eventually(t, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		seen := map[string]map[int64]bool{}
		for _, h := range log.handled {
			if seen[h.stream] == nil {
				seen[h.stream] = map[int64]bool{}
			}
			seen[h.stream][h.version] = true
		}
		for s, v := range last {
			if int64(len(seen[s])) < v {
				return false
			}
		}
		return true
	}, deliveryLimit, 10*time.Millisecond, "events not handled")

	// Per-stream order: a member never skips ahead within a stream. Going
	// forward by more than one is only right when others handled the
	// versions in between (the partition was elsewhere meanwhile); going
	// back is a redelivery after a takeover (at-least-once).
	log.mu.Lock()
	defer log.mu.Unlock()
	handledBy := map[string]map[int64]map[int]bool{}
	for _, h := range log.handled {
		if handledBy[h.stream] == nil {
			handledBy[h.stream] = map[int64]map[int]bool{}
		}
		if handledBy[h.stream][h.version] == nil {
			handledBy[h.stream][h.version] = map[int]bool{}
		}
		handledBy[h.stream][h.version][h.member] = true
	}
	prev := map[[2]any]int64{}
	redelivered := 0
	for _, h := range log.handled {
		key := [2]any{h.member, h.stream}
		p, ok := prev[key]
		prev[key] = h.version
		switch {
		case !ok || h.version == p+1:
		case h.version <= p:
			redelivered++
		default:
			for v := p + 1; v < h.version; v++ {
				others := len(handledBy[h.stream][v])
				if handledBy[h.stream][v][h.member] {
					others--
				}
				require.Positive(t, others, "member %d skipped %s version %d (went from %d to %d)", h.member, h.stream, v, p, h.version)
			}
		}
	}
	t.Logf("%d events appended, %d handlings, %d redelivered after a takeover", appended.Load(), len(log.handled), redelivered)
}

// maxHeld is the most partitions one member holds.
func maxHeld(procs []*groupProc) int {
	n := 0
	for _, p := range procs {
		n = max(n, len(p.member.Partitions()))
	}
	return n
}

// TestConsumerGroupRefusals: bad options and a name stored as something
// else are refused at SubscribeGroup, with nothing started; a partitioned
// Subscribe on a group's name is refused too.
func TestConsumerGroupRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := func(context.Context, store.Recorded) error { return nil }
	for _, tc := range []struct {
		name string
		opts store.GroupOptions
	}{
		{"no name", store.GroupOptions{}},
		{"stream", store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: "g", StreamID: "s"}}},
		{"partition", store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: "g", Partition: store.FeedPartition{Member: 1, Count: 2}}}},
		{"too many partitions", store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: "g"}, Partitions: store.MaxGroupPartitions + 1}},
		{"negative partitions", store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: "g"}, Partitions: -1}},
	} {
		_, err := b.store.SubscribeGroup(b.ctx, tc.opts, h)
		require.ErrorIs(t, err, store.ErrInvalidArgument, tc.name)
	}
	groups, err := b.store.ConsumerGroups(b.ctx)
	require.NoError(t, err)
	require.Empty(t, groups, "nothing registered")

	// A plain persistent subscription's name is no group, and a group's name
	// is no plain subscription; a group keeps its partition count.
	plain := subscribe(t, b.store, b.ctx, store.SubscriptionOptions{Name: "plain"}, h)
	require.NoError(t, plain.Stop())
	_, err = b.store.SubscribeGroup(b.ctx, store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: "plain"}}, h)
	require.ErrorIs(t, err, store.ErrInvalidArgument)

	m, err := b.store.SubscribeGroup(b.ctx, store.GroupOptions{SubscriptionOptions: fast(store.SubscriptionOptions{Name: "g"}), Partitions: 4}, h)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Stop() })
	_, err = b.store.SubscribeGroup(b.ctx, store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: "g"}, Partitions: 8}, h)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	for _, p := range []store.FeedPartition{{}, {Member: 0, Count: 4}} {
		_, err = b.store.Subscribe(b.ctx, store.SubscriptionOptions{Name: "g", Partition: p}, h)
		require.ErrorIs(t, err, store.ErrInvalidArgument)
	}
	require.NoError(t, m.Stop())
	require.Equal(t, store.StateStopped, m.State())
}

// TestConsumerGroupStops: a handler that gives up (no dead letter) stops
// its member with the *HandlerError, and the partition's checkpoint stays
// right before the event; deleting the group stops its members with
// ErrSubscriptionNotFound.
func TestConsumerGroupStops(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)
	opts := store.GroupOptions{SubscriptionOptions: fast(store.SubscriptionOptions{Name: "failing", Retry: store.RetryPolicy{MaxAttempts: 2}}), Partitions: 2}
	m, err := b.store.SubscribeGroup(b.ctx, opts, func(_ context.Context, ev store.Recorded) error {
		if eventN(t, ev) == 1 {
			return errors.New("boom")
		}
		return nil
	})
	require.NoError(t, err)
	waitClosed(t, m.Done(), "the member stops")
	var herr *store.HandlerError
	require.ErrorAs(t, m.Wait(), &herr)
	require.EqualValues(t, 2, herr.Event.Version)
	require.Equal(t, 2, herr.Attempts)
	require.Equal(t, store.StateFailed, m.State())
	infos, err := b.store.SubscriptionInfo(b.ctx, "failing")
	require.NoError(t, err)
	var handled int64
	for _, info := range infos {
		require.True(t, info.Group)
		handled += info.Handled
	}
	require.EqualValues(t, 1, handled, "the event before the failing one")

	opts.Name = "deleted"
	m, err = b.store.SubscribeGroup(b.ctx, opts, func(context.Context, store.Recorded) error { return nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(m.Partitions()) == 2 }, deliveryLimit, 5*time.Millisecond)
	require.NoError(t, b.store.DeleteSubscription(b.ctx, "deleted"))
	waitClosed(t, m.Done(), "the member stops")
	require.ErrorIs(t, m.Wait(), store.ErrSubscriptionNotFound)
}
