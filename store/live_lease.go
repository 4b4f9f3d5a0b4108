package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// errLeaseLost reports that a persistent subscription's consumer no longer
// holds its lease (another consumer claimed it after it expired): the
// consumer stops delivering and claims the lease again before going on.
var errLeaseLost = errors.New("subscription lease lost")

// subscriptionLease is the lease of one persistent subscription member, kept
// in its row of eventstore.subscriptions: claimed, renewed, carried by every
// checkpoint save and released through the guild-checked functions of
// 00004_subscriptions.sql. Each is one short statement on the store's pool:
// no connection, lock or transaction is held between them.
type subscriptionLease struct {
	q      *db.Queries
	name   string
	member int
	guild  pgtype.Text
	holder string
	ttl    time.Duration

	mu    sync.Mutex
	token int64
}

// subscriptionFilter is the stored form of a FeedFilter.
type subscriptionFilter struct {
	EventTypes   []string `json:"event_types,omitempty"`
	StreamPrefix string   `json:"stream_prefix,omitempty"`
	GuildID      string   `json:"guild_id,omitempty"`
}

// newLease returns the (not yet claimed) lease of partition member of
// sub's subscription for holder. A guild's subscription is written with the
// guild set, as the functions require.
func (sub *Subscription) newLease(member int, holder string) *subscriptionLease {
	l := &subscriptionLease{q: sub.store.q, name: sub.opts.Name, member: member, holder: holder, ttl: sub.opts.LeaseDuration}
	if g := sub.guild; g != "" {
		l.guild = pgtype.Text{String: g, Valid: true}
		l.q = db.New(guildDB{b: sub.store.pool, guild: g})
	}
	return l
}

// newHolderID names a consumer (or consumer group member) in the lease
// rows: host, process and a random part.
func newHolderID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d consumer %s", host, os.Getpid(), uuid.NewString()[:8])
}

// holdLease runs a persistent subscription as the holder of its lease:
// standby until it is granted, then consume with the lease kept alive,
// release it when consume returns, and claim it again after losing it (or
// after a transient failure).
func (sub *Subscription) holdLease(ctx context.Context) error {
	for {
		pos, err := sub.claim(ctx)
		if err != nil {
			return err
		}
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
		sub.lease.release(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A lost lease, or a transient failure whatever step it hit: claim
		// the lease again (this consumer's own lease is granted back at
		// once unless another consumer took it meanwhile).
		if !errors.Is(err, errLeaseLost) && !retryableInBackground(err) {
			return err
		}
		sub.setState(StateStandby)
		sub.log.Warn("eventstore: subscription interrupted; claiming its lease again", "error", err)
	}
}

// claim waits until this consumer holds the lease, as a standby while
// another consumer holds it, and returns the checkpoint to resume from.
func (sub *Subscription) claim(ctx context.Context) (subPosition, error) {
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
		if sub.State() != StateStandby {
			sub.setState(StateStandby)
			sub.log.Info("eventstore: subscription on standby: another consumer holds its lease")
		}
		if err := sleepCtx(ctx, sub.opts.LockRetryInterval); err != nil {
			return subPosition{}, err
		}
	}
}

// register stores the member at its start position when it is new and
// checks that the stored subscription has the same source and
// partitioning. It fails at once when the name belongs to another guild
// (ErrSubscriptionNameTaken).
func (sub *Subscription) register(ctx context.Context, l *subscriptionLease, start subPosition) error {
	o := sub.opts
	filter, err := json.Marshal(subscriptionFilter(o.Filter))
	if err != nil {
		return err
	}
	var stream pgtype.Text
	if o.StreamID != "" {
		stream = pgtype.Text{String: o.StreamID, Valid: true}
	}
	row, err := l.q.SubscriptionRegister(ctx, db.SubscriptionRegisterParams{
		Name:                    o.Name,
		PartitionMember:         int32(o.Partition.Member),
		PartitionCount:          int32(o.Partition.Count),
		StreamID:                stream,
		CheckpointTransactionID: start.cp.TransactionID,
		CheckpointPosition:      start.cp.Position,
		CheckpointVersion:       start.version,
		Filter:                  string(filter),
		GuildID:                 l.guild,
	})
	if err != nil {
		return mapError(err)
	}
	info := subscriptionInfoFromRow(row)
	switch {
	case info.Group:
		return fmt.Errorf("%w: subscription %q is a consumer group: join it with SubscribeGroup", ErrInvalidArgument, o.Name)
	case info.StreamID != o.StreamID:
		return fmt.Errorf("%w: subscription %q is stored for %s, not %s",
			ErrInvalidArgument, o.Name, describeSource(info.StreamID), describeSource(o.StreamID))
	case info.Members != o.Partition.Count:
		return fmt.Errorf("%w: subscription %q is stored with %d partition members, not %d "+
			"(delete it to change the partitioning)", ErrInvalidArgument, o.Name, info.Members, o.Partition.Count)
	}
	return nil
}

func describeSource(streamID string) string {
	if streamID == "" {
		return "the global feed"
	}
	return fmt.Sprintf("stream %q", streamID)
}

// claim tries once to take the lease. It reports whether it was granted
// and, if so, the checkpoint to resume from.
func (l *subscriptionLease) claim(ctx context.Context, filter FeedFilter) (bool, subPosition, error) {
	f, err := json.Marshal(subscriptionFilter(filter))
	if err != nil {
		return false, subPosition{}, err
	}
	row, err := l.q.SubscriptionClaim(ctx, db.SubscriptionClaimParams{
		Name: l.name, PartitionMember: int32(l.member), GuildID: l.guild,
		Holder: l.holder, Filter: string(f), LeaseSeconds: l.ttl.Seconds(),
	})
	if err != nil {
		return false, subPosition{}, mapError(err)
	}
	if !row.Granted {
		return false, subPosition{}, nil
	}
	l.mu.Lock()
	l.token = row.LeaseToken
	l.mu.Unlock()
	return true, subPosition{
		cp:      Checkpoint{TransactionID: row.CheckpointTransactionID, Position: row.CheckpointPosition},
		version: row.CheckpointVersion,
	}, nil
}

func (l *subscriptionLease) currentToken() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

// renew extends the lease: errLeaseLost when another consumer holds it now.
func (l *subscriptionLease) renew(ctx context.Context) error {
	ok, err := l.q.SubscriptionRenew(ctx, db.SubscriptionRenewParams{
		Name: l.name, PartitionMember: int32(l.member), GuildID: l.guild,
		LeaseToken: l.currentToken(), LeaseSeconds: l.ttl.Seconds(),
	})
	if err != nil {
		return mapError(err)
	}
	if !ok {
		return l.gone(ctx)
	}
	return nil
}

// save stores the member's checkpoint, adds handled to its count and
// renews the lease.
func (l *subscriptionLease) save(ctx context.Context, pos subPosition, handled int64) error {
	ok, err := l.q.SubscriptionCheckpointSave(ctx, db.SubscriptionCheckpointSaveParams{
		Name: l.name, PartitionMember: int32(l.member), GuildID: l.guild, LeaseToken: l.currentToken(),
		CheckpointTransactionID: pos.cp.TransactionID,
		CheckpointPosition:      pos.cp.Position,
		CheckpointVersion:       pos.version,
		Handled:                 handled,
		LeaseSeconds:            l.ttl.Seconds(),
	})
	if err != nil {
		return mapError(err)
	}
	if !ok {
		return l.gone(ctx)
	}
	return nil
}

// gone tells why a save or renewal changed nothing: the row was deleted
// (ErrSubscriptionNotFound) or another consumer took the lease.
func (l *subscriptionLease) gone(ctx context.Context) error {
	rows, err := l.q.SubscriptionGet(ctx, db.SubscriptionGetParams{Name: l.name, GuildID: l.guild.String})
	if err != nil {
		return fmt.Errorf("%w: %w", errLeaseLost, mapError(err))
	}
	for _, r := range rows {
		if int(r.PartitionMember) == l.member {
			return fmt.Errorf("%w: %q is held by %s now", errLeaseLost, l.name, r.Holder.String)
		}
	}
	return fmt.Errorf("%w: %q was deleted while it ran", ErrSubscriptionNotFound, l.name)
}

// release ends the lease at once (best effort, bounded in time), so that a
// standby consumer takes over without waiting for the expiry.
func (l *subscriptionLease) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	_, _ = l.q.SubscriptionRelease(rctx, db.SubscriptionReleaseParams{
		Name: l.name, PartitionMember: int32(l.member), GuildID: l.guild, LeaseToken: l.currentToken(),
	})
}

// keepAlive renews the lease every third of its duration until ctx is
// done. When the lease is lost, or cannot be renewed before it would
// expire, it cancels the consumer with errLeaseLost as the cause.
func (l *subscriptionLease) keepAlive(ctx context.Context, stop context.CancelCauseFunc) {
	every := l.ttl / 3
	deadline := time.Now().Add(l.ttl)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := l.renew(ctx)
		switch {
		case err == nil:
			deadline = time.Now().Add(l.ttl)
		case ctx.Err() != nil:
			return
		case errors.Is(err, errLeaseLost) || errors.Is(err, ErrSubscriptionNotFound) || !retryableInBackground(err):
			stop(err)
			return
		case time.Now().Add(every).After(deadline):
			stop(fmt.Errorf("%w: not renewed before it expired: %w", errLeaseLost, err))
			return
		}
		t.Reset(every)
	}
}
