package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// errLeaseLost reports that a persistent subscription's lock connection
// failed: the lock may now be held by another consumer, so the consumer
// stops delivering and takes the lock again before going on.
var errLeaseLost = errors.New("subscription lock connection lost")

// subscriptionLease is a held lock of a persistent subscription member: a
// dedicated connection holding a session advisory lock on the member's key.
// Checkpoints are saved on that same connection, so a save succeeds only
// while the lock is held; when the connection dies, PostgreSQL releases the
// lock and another consumer can take over.
type subscriptionLease struct {
	conn   *pgx.Conn
	q      *db.Queries
	name   string
	member int
}

// lockKey is the text hashed (hashtextextended) into the advisory lock key
// of a subscription member.
func lockKey(name string, member int) string {
	return "eventstore.subscription:" + name + ":" + strconv.Itoa(member)
}

// acquire connects and takes the member's lock, waiting as a standby while
// another consumer holds it. It returns when the lock is held, ctx is done,
// or a permanent error occurs.
func (sub *Subscription) acquire(ctx context.Context) (*subscriptionLease, error) {
	cfg := dedicatedConnConfig(sub.store, "eventstore subscription "+sub.label())
	key := lockKey(sub.opts.Name, sub.opts.Partition.Member)
	var conn *pgx.Conn
	backoff := reconnectMinBackoff
	standby := false
	for {
		if conn == nil {
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				if err := sub.acquireFailed(ctx, err, &backoff); err != nil {
					return nil, err
				}
				continue
			}
			conn = c
		}
		locked, err := db.New(conn).SubscriptionLockTry(ctx, key)
		if err != nil {
			closeDedicated(conn)
			conn = nil
			if err := sub.acquireFailed(ctx, err, &backoff); err != nil {
				return nil, err
			}
			continue
		}
		backoff = reconnectMinBackoff
		if locked {
			q := db.New(conn)
			if g := sub.opts.Filter.GuildID; g != "" {
				// A guild's subscription row is guild-owned: checkpoint it
				// with the guild set, as row-level security requires.
				q = db.New(guildDB{b: conn, guild: g})
			}
			return &subscriptionLease{conn: conn, q: q, name: sub.opts.Name, member: sub.opts.Partition.Member}, nil
		}
		if !standby {
			standby = true
			sub.log.Info("eventstore: subscription on standby: another consumer holds its lock")
		}
		if sleepCtx(ctx, sub.opts.LockRetryInterval) != nil {
			closeDedicated(conn)
			return nil, ctx.Err()
		}
	}
}

// acquireFailed handles a failed connect or lock attempt: nil after a
// backoff for a transient error, the error otherwise.
func (sub *Subscription) acquireFailed(ctx context.Context, err error, backoff *time.Duration) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = mapError(err)
	if !isTransient(err) {
		return err
	}
	sub.log.Warn("eventstore: subscription cannot take its lock, retrying", "error", err, "retry_in", *backoff)
	if sleepCtx(ctx, *backoff) != nil {
		return ctx.Err()
	}
	*backoff = min(2**backoff, reconnectMaxBackoff)
	return nil
}

// subscriptionFilter is the stored form of a FeedFilter.
type subscriptionFilter struct {
	EventTypes   []string `json:"event_types,omitempty"`
	StreamPrefix string   `json:"stream_prefix,omitempty"`
	GuildID      string   `json:"guild_id,omitempty"`
}

// claim registers the member at its start position when it is new, records
// this consumer as the holder and returns the checkpoint to resume from.
func (l *subscriptionLease) claim(ctx context.Context, sub *Subscription) (subPosition, error) {
	start, err := sub.startPosition(ctx)
	if err != nil {
		return subPosition{}, l.lost(err)
	}
	o := sub.opts
	filter, err := json.Marshal(subscriptionFilter(o.Filter))
	if err != nil {
		return subPosition{}, err
	}
	var guild pgtype.Text
	if o.Filter.GuildID != "" {
		guild = pgtype.Text{String: o.Filter.GuildID, Valid: true}
	}
	var stream pgtype.Text
	if o.StreamID != "" {
		stream = pgtype.Text{String: o.StreamID, Valid: true}
	}
	err = l.q.SubscriptionCreate(ctx, db.SubscriptionCreateParams{
		Name:                    o.Name,
		PartitionMember:         int32(o.Partition.Member),
		PartitionCount:          int32(o.Partition.Count),
		StreamID:                stream,
		CheckpointTransactionID: start.cp.TransactionID,
		CheckpointPosition:      start.cp.Position,
		CheckpointVersion:       start.version,
		Filter:                  filter,
		GuildID:                 guild,
	})
	if err != nil {
		return subPosition{}, l.lost(err)
	}
	host, _ := os.Hostname()
	row, err := l.q.SubscriptionClaim(ctx, db.SubscriptionClaimParams{
		Holder:          fmt.Sprintf("%s pid %d", host, os.Getpid()),
		Filter:          filter,
		GuildID:         guild,
		Name:            o.Name,
		PartitionMember: int32(o.Partition.Member),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// Deleted between create and claim: start over.
		return subPosition{}, fmt.Errorf("%w: subscription row deleted while claiming", errLeaseLost)
	}
	if err != nil {
		return subPosition{}, l.lost(err)
	}
	info := subscriptionInfoFromRow(row)
	switch {
	case info.StreamID != o.StreamID:
		return subPosition{}, fmt.Errorf("%w: subscription %q is stored for %s, not %s",
			ErrInvalidArgument, o.Name, describeSource(info.StreamID), describeSource(o.StreamID))
	case info.Members != o.Partition.Count:
		return subPosition{}, fmt.Errorf("%w: subscription %q is stored with %d partition members, not %d "+
			"(delete it to change the partitioning)", ErrInvalidArgument, o.Name, info.Members, o.Partition.Count)
	}
	return subPosition{cp: info.Checkpoint, version: info.Version}, nil
}

func describeSource(streamID string) string {
	if streamID == "" {
		return "the global feed"
	}
	return fmt.Sprintf("stream %q", streamID)
}

// save stores the member's checkpoint and adds handled to its count.
func (l *subscriptionLease) save(ctx context.Context, pos subPosition, handled int64) error {
	n, err := l.q.SubscriptionCheckpointSave(ctx, db.SubscriptionCheckpointSaveParams{
		CheckpointTransactionID: pos.cp.TransactionID,
		CheckpointPosition:      pos.cp.Position,
		CheckpointVersion:       pos.version,
		Handled:                 handled,
		Name:                    l.name,
		PartitionMember:         int32(l.member),
	})
	if err != nil {
		return l.lost(err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %q was deleted while it ran", ErrSubscriptionNotFound, l.name)
	}
	return nil
}

// ping checks that the lock connection (and so the lock) is still alive.
func (l *subscriptionLease) ping(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", errLeaseLost, mapError(err))
	}
	return nil
}

// lost classifies an error of the lock connection: a transient failure
// means the lock may be gone.
func (l *subscriptionLease) lost(err error) error {
	err = mapError(err)
	if isTransient(err) || l.conn.IsClosed() {
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	}
	return err
}

// release closes the lock connection, which releases the lock.
func (l *subscriptionLease) release() { closeDedicated(l.conn) }
