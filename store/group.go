package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5/pgtype"
)

// Consumer group limits and defaults.
const (
	// DefaultGroupPartitions is the default number of partitions of a
	// consumer group.
	DefaultGroupPartitions = 16
	// MaxGroupPartitions is the largest number of partitions of a group.
	MaxGroupPartitions = 1024
)

// GroupOptions configures a member of a consumer group (see
// SubscribeGroup). The embedded SubscriptionOptions apply to every
// partition the member holds: Name (required) names the group; StreamID
// and Partition must be zero; LeaseDuration is the member's lease, which
// bounds how long its partitions stay with it after it died.
type GroupOptions struct {
	SubscriptionOptions
	// Partitions is the group's number of partitions: the feed is split by
	// stream id hash (hashtext(stream_id) mod Partitions, as
	// FeedPartition), so each stream's events stay in one partition, in
	// order. It is stored with the group; a member joining with another
	// number is refused (ErrInvalidArgument). 1..MaxGroupPartitions,
	// default DefaultGroupPartitions.
	Partitions int
}

// GroupMember is this process's member of a consumer group. It heartbeats
// every third of its lease; each heartbeat renews its membership and the
// leases of its partitions, claims free partitions up to its fair share
// (ceil(partitions / live members)) and names those beyond it, which the
// member hands back (checkpoint saved, lease released) for a member that
// joined. It runs one consumer per partition it holds: the handler is
// called concurrently for different partitions, one event at a time and in
// feed order within a partition (so per stream).
//
// Delivery is at-least-once per partition, as for a persistent
// subscription: a partition's checkpoint is saved after its handler
// succeeded, and whoever holds the partition next resumes right after it.
type GroupMember struct {
	store    *Store
	tmpl     *Subscription // the validated options, guild, handler and log every partition consumer copies
	id       string
	q        *db.Queries
	guild    pgtype.Text
	parts    int
	cancel   context.CancelFunc
	done     chan struct{}
	ended    chan struct{} // a partition consumer ended by itself
	err      error         // set before done is closed
	stopOnce sync.Once

	mu       sync.Mutex
	running  map[int]*groupPart
	share    int
	live     int
	handled  int64 // by partition consumers that have ended
	finished SubscriptionState
}

// groupPart is one partition consumer of a member.
type groupPart struct {
	sub    *Subscription
	token  int64
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// SubscribeGroup joins this process to the consumer group opts.Name (it is
// created when it does not exist, its partitions at opts.Start) and
// returns its member, which runs in the background until ctx is cancelled
// or Stop is called. Any number of processes may join; the group's
// partitions are spread over the live members automatically.
//
// Rebalancing bounds (T = LeaseDuration, default DefaultLeaseDuration):
// when a member stops (Stop or ctx), its partitions are handed back at
// once and taken over at the others' next heartbeat, within T/3; when a
// member dies without stopping, within T + T/3 (its lease runs out); when
// a member joins, the others hand back what exceeds their new share at
// their next heartbeat (T/3) and the new member claims it at its next one
// (it looks every LockRetryInterval while it holds less than its share).
//
// A group belongs to the guild in ctx (or to the admin, store-wide, without
// one): another guild can neither join it (ErrSubscriptionNameTaken) nor
// see it. Errors as Subscribe, and ErrInvalidArgument for a stored
// subscription of that name that is no group of opts.Partitions
// partitions.
func (s *Store) SubscribeGroup(ctx context.Context, opts GroupOptions, handler HandlerFunc) (*GroupMember, error) {
	switch {
	case opts.Name == "":
		return nil, opError("join group", "", fmt.Errorf("%w: a consumer group needs a name", ErrInvalidArgument))
	case opts.StreamID != "" || opts.Partition != (FeedPartition{}):
		return nil, opError("join group", opts.Name, fmt.Errorf("%w: a consumer group reads the global feed and partitions it itself", ErrInvalidArgument))
	case opts.Partitions == 0:
		opts.Partitions = DefaultGroupPartitions
	}
	if opts.Partitions < 1 || opts.Partitions > MaxGroupPartitions {
		return nil, opError("join group", opts.Name, fmt.Errorf("%w: %d partitions (want 1 to %d)", ErrInvalidArgument, opts.Partitions, MaxGroupPartitions))
	}
	tmpl, err := s.newSubscription(ctx, opts.SubscriptionOptions, handler)
	if err != nil {
		return nil, opError("join group", opts.Name, err)
	}
	m := &GroupMember{
		store:   s,
		tmpl:    tmpl,
		id:      newHolderID(),
		q:       s.q,
		parts:   opts.Partitions,
		done:    make(chan struct{}),
		ended:   make(chan struct{}, 1),
		running: map[int]*groupPart{},
	}
	if tmpl.guild != "" {
		m.guild = pgtype.Text{String: tmpl.guild, Valid: true}
		m.q = db.New(guildDB{b: s.pool, guild: tmpl.guild})
	}
	tmpl.log = tmpl.log.With("member", m.id)
	filter, err := json.Marshal(subscriptionFilter(tmpl.opts.Filter))
	if err != nil {
		return nil, opError("join group", opts.Name, err)
	}
	err = tmpl.retryTransient(ctx, "join", func() error {
		start, err := tmpl.startPosition(ctx)
		if err != nil {
			return err
		}
		return mapError(m.q.SubscriptionGroupJoin(ctx, db.SubscriptionGroupJoinParams{
			Name: opts.Name, GuildID: m.guild, Partitions: int32(opts.Partitions),
			CheckpointTransactionID: start.cp.TransactionID, CheckpointPosition: start.cp.Position, Filter: string(filter),
		}))
	})
	if err != nil {
		return nil, opError("join group", opts.Name, err)
	}
	ctx, m.cancel = context.WithCancel(ctx)
	go m.run(ctx)
	return m, nil
}

// ID names the member: the holder of its partitions in
// eventstore.subscriptions and its row in subscription_group_members.
func (m *GroupMember) ID() string { return m.id }

// Stop leaves the group and waits until the member has stopped: every
// partition consumer has saved its checkpoint and handed its partition
// back. It returns what Wait returns.
func (m *GroupMember) Stop() error {
	m.cancel()
	return m.Wait()
}

// Wait blocks until the member stops and returns why: nil when it was
// stopped (Stop or its context), otherwise the error that stopped it (a
// partition's *HandlerError, ErrSubscriptionNotFound when the group was
// deleted, …).
func (m *GroupMember) Wait() error {
	<-m.done
	return m.err
}

// Done is closed when the member has stopped.
func (m *GroupMember) Done() <-chan struct{} { return m.done }

// Partitions returns the partitions the member consumes now, in order.
func (m *GroupMember) Partitions() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int, 0, len(m.running))
	for p := range m.running {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Share returns the member's fair share at its last heartbeat and the
// number of live members then.
func (m *GroupMember) Share() (share, liveMembers int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.share, m.live
}

// State reports the member's state: standby while it holds no partition,
// live when every partition it holds is live, catching up otherwise;
// stopped or failed once it has stopped.
func (m *GroupMember) State() SubscriptionState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finished != 0 {
		return m.finished
	}
	if len(m.running) == 0 {
		return StateStandby
	}
	for _, part := range m.running {
		if part.sub.State() != StateLive {
			return StateCatchingUp
		}
	}
	return StateLive
}

// Handled returns the number of events the member has handled (or
// dead-lettered) since it joined.
func (m *GroupMember) Handled() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.handled
	for _, part := range m.running {
		n += part.sub.Handled()
	}
	return n
}

// run heartbeats until ctx is done or the member fails, then stops its
// partition consumers and leaves the group.
func (m *GroupMember) run(ctx context.Context) {
	defer close(m.done)
	err := m.heartbeats(ctx)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil
	}
	m.stopAll()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	_ = m.q.SubscriptionGroupLeave(lctx, db.SubscriptionGroupLeaveParams{Name: m.tmpl.opts.Name, GuildID: m.guild, MemberID: m.id})
	cancel()
	m.mu.Lock()
	m.finished = StateStopped
	if err != nil {
		m.finished = StateFailed
		m.tmpl.log.Error("eventstore: consumer group member stopped", "error", err)
		err = opError("consumer group", m.tmpl.opts.Name, err)
	}
	m.mu.Unlock()
	m.err = err
}

// heartbeats is the member's loop: heartbeat, start and stop partition
// consumers to match, wait.
func (m *GroupMember) heartbeats(ctx context.Context) error {
	ttl := m.tmpl.opts.LeaseDuration
	failures := backoff{policy: reconnectPolicy()}
	lastOK := time.Now()
	for {
		rows, err := m.q.SubscriptionGroupHeartbeat(ctx, db.SubscriptionGroupHeartbeatParams{
			Name: m.tmpl.opts.Name, GuildID: m.guild, MemberID: m.id, LeaseSeconds: ttl.Seconds(),
		})
		err = mapError(err)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !retryableInBackground(err):
			return err
		case err != nil:
			if time.Since(lastOK) > ttl {
				// Its leases have run out: others may hold its partitions.
				m.stopAll()
			}
			wait := failures.fail()
			m.tmpl.log.Warn("eventstore: consumer group heartbeat failed, retrying", "error", err, "retry_in", wait)
			if sleepCtx(ctx, wait) != nil {
				return ctx.Err()
			}
			continue
		}
		failures.reset()
		lastOK = time.Now()
		if err := m.apply(ctx, rows); err != nil {
			return err
		}
		wait := ttl / 3
		if share, _ := m.Share(); len(m.Partitions()) < share {
			wait = min(wait, m.tmpl.opts.LockRetryInterval) // hungry: look for free partitions sooner
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-m.ended:
		case <-t.C:
		}
		t.Stop()
		if err := m.reap(); err != nil {
			return err
		}
	}
}

// apply makes the running partition consumers match a heartbeat's rows:
// it stops those of partitions lost to another member, hands back those
// beyond the share and starts consumers for newly held ones.
func (m *GroupMember) apply(ctx context.Context, rows []*db.SubscriptionGroupHeartbeatRow) error {
	if err := m.reap(); err != nil {
		return err
	}
	held := map[int]*db.SubscriptionGroupHeartbeatRow{}
	for _, r := range rows {
		held[int(r.PartitionMember)] = r
	}
	m.mu.Lock()
	if len(rows) > 0 {
		m.share, m.live = int(rows[0].Share), int(rows[0].LiveMembers)
	} else {
		m.share = 1 // at least: it looks for partitions at its retry interval
	}
	running := maps.Clone(m.running)
	m.mu.Unlock()
	for p, part := range running {
		r, ok := held[p]
		switch {
		case !ok || r.LeaseToken != part.token:
			m.stopPart(p, part, false) // another member took it
		case !r.Keep:
			m.stopPart(p, part, true) // beyond the share: hand it back
		}
	}
	for _, r := range rows {
		p := int(r.PartitionMember)
		m.mu.Lock()
		_, ok := m.running[p]
		m.mu.Unlock()
		switch {
		case ok:
		case r.Keep:
			m.startPart(ctx, p, r)
		default: // held but beyond the share and not running: release it
			l := m.tmpl.newLease(p, m.id)
			l.token = r.LeaseToken
			l.release(ctx)
		}
	}
	return nil
}

// startPart starts the consumer of partition p from the checkpoint in r.
func (m *GroupMember) startPart(ctx context.Context, p int, r *db.SubscriptionGroupHeartbeatRow) {
	opts := m.tmpl.opts
	opts.Partition = FeedPartition{Member: p, Count: m.parts}
	sub := &Subscription{
		store:   m.store,
		opts:    opts,
		handler: m.tmpl.handler,
		log:     m.tmpl.log.With("partition", p),
		guild:   m.tmpl.guild,
		done:    make(chan struct{}),
		live:    make(chan struct{}),
		state:   StateCatchingUp,
	}
	sub.lease = sub.newLease(p, m.id)
	sub.lease.token = r.LeaseToken
	pctx, cancel := context.WithCancel(ctx)
	sub.cancel = cancel
	part := &groupPart{sub: sub, token: r.LeaseToken, cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.running[p] = part
	m.mu.Unlock()
	pos := subPosition{cp: Checkpoint{TransactionID: r.CheckpointTransactionID, Position: r.CheckpointPosition}}
	sub.log.Info("eventstore: consumer group partition taken", "checkpoint", pos.cp)
	go func() {
		defer close(part.done)
		part.err = sub.consume(pctx, sub.lease, pos)
		select {
		case m.ended <- struct{}{}:
		default:
		}
	}()
}

// stopPart stops partition p's consumer and waits for it: what it handled
// is checkpointed; with release its lease is handed back at once.
func (m *GroupMember) stopPart(p int, part *groupPart, release bool) {
	part.cancel()
	<-part.done
	if release {
		part.sub.lease.release(context.Background())
		part.sub.log.Info("eventstore: consumer group partition handed back")
	}
	part.sub.setState(StateStopped)
	m.mu.Lock()
	if m.running[p] == part {
		delete(m.running, p)
	}
	m.handled += part.sub.Handled()
	m.mu.Unlock()
}

// stopAll stops every partition consumer (the member is leaving, or its
// leases ran out).
func (m *GroupMember) stopAll() {
	m.mu.Lock()
	running := maps.Clone(m.running)
	m.mu.Unlock()
	for p, part := range running {
		m.stopPart(p, part, false)
	}
}

// reap forgets partition consumers that ended by themselves: a lost lease
// or a transient failure is taken up by the next heartbeat; any other error
// (a handler that gave up without a dead letter, a deleted group) stops
// the member.
func (m *GroupMember) reap() error {
	m.mu.Lock()
	var ended []int
	for p, part := range m.running {
		select {
		case <-part.done:
			ended = append(ended, p)
		default:
		}
	}
	var err error
	for _, p := range ended {
		part := m.running[p]
		delete(m.running, p)
		m.handled += part.sub.Handled()
		if e := part.err; e != nil && !errors.Is(e, errLeaseLost) && !retryableInBackground(e) && !errors.Is(e, context.Canceled) {
			err = errors.Join(err, e)
		}
	}
	m.mu.Unlock()
	return err
}

// ConsumerGroupInfo describes a consumer group as stored: its partitions,
// live members and who holds what.
type ConsumerGroupInfo struct {
	// Name is the group's name.
	Name string
	// GuildID is the guild it belongs to ("" for store-wide).
	GuildID string
	// Partitions is its number of partitions.
	Partitions int
	// LiveMembers counts the members whose lease has not run out.
	LiveMembers int
	// Held and Unheld count the partitions a member holds now and the
	// others (free, or held by a member that died: their lease ran out).
	Held, Unheld int
	// Handled counts the events handled (or dead-lettered) by all
	// partitions since the group was created.
	Handled int64
	// Members are the group's members with the partitions each holds.
	Members []ConsumerGroupMemberInfo
}

// ConsumerGroupMemberInfo is one member of a consumer group.
type ConsumerGroupMemberInfo struct {
	// ID names the member (GroupMember.ID).
	ID string
	// Alive is false once its lease has run out (it is forgotten at the
	// next heartbeat of another member).
	Alive bool
	// Heartbeat is its last heartbeat, in UTC.
	Heartbeat time.Time
	// Partitions are the partitions it holds now.
	Partitions []int
}

// ConsumerGroups lists the consumer groups (with a guild in the context,
// that guild's only), by name, with their members.
func (s *Store) ConsumerGroups(ctx context.Context) ([]ConsumerGroupInfo, error) {
	q, _ := s.queries(ctx)
	guild := s.scopeGuild(ctx)
	groups, err := q.ConsumerGroupList(ctx, guild)
	if err != nil {
		return nil, opError("list consumer groups", "", mapError(err))
	}
	members, err := q.ConsumerGroupMembers(ctx, guild)
	if err != nil {
		return nil, opError("list consumer groups", "", mapError(err))
	}
	out := make([]ConsumerGroupInfo, len(groups))
	index := map[string]int{}
	for i, g := range groups {
		out[i] = ConsumerGroupInfo{
			Name: g.Name, GuildID: g.GuildID, Partitions: int(g.Partitions), LiveMembers: int(g.LiveMembers),
			Held: int(g.HeldPartitions), Unheld: int(g.UnheldPartitions), Handled: g.Handled,
		}
		index[g.Name] = i
	}
	for _, mr := range members {
		i, ok := index[mr.Name]
		if !ok {
			continue
		}
		parts := make([]int, len(mr.Partitions))
		for j, p := range mr.Partitions {
			parts[j] = int(p)
		}
		out[i].Members = append(out[i].Members, ConsumerGroupMemberInfo{
			ID: mr.MemberID, Alive: mr.Alive, Heartbeat: mr.HeartbeatAt.UTC(), Partitions: parts,
		})
	}
	return out, nil
}
