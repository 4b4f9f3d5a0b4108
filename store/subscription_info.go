package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gamebot/eventstore/db"
)

// SubscriptionInfo describes one member of a persistent subscription as
// stored in eventstore.subscriptions (an unpartitioned subscription has one
// member, number 0 of 1).
type SubscriptionInfo struct {
	// Name is the subscription name.
	Name string
	// Member is the partition member (0 when unpartitioned).
	Member int
	// Members is the number of partition members (1 when unpartitioned).
	Members int
	// StreamID is the subscribed stream, or "" for the global feed.
	StreamID string
	// Checkpoint is the feed checkpoint of the last event handled (or
	// passed by the filter); zero for stream subscriptions.
	Checkpoint Checkpoint
	// Version is the last handled version of a stream subscription.
	Version int64
	// Filter is the filter the consumer last started with.
	Filter FeedFilter
	// GuildID is the guild the subscription belongs to ("" for all).
	GuildID string
	// Handled counts the events handled (or dead-lettered) since creation.
	Handled int64
	// Holder names the consumer that holds (or last held) the lease.
	Holder string
	// Group says that the row is a partition of a consumer group (see
	// SubscribeGroup); Member is then the partition.
	Group bool
	// CreatedAt and UpdatedAt (last checkpoint or claim) are in UTC.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// subscriptionInfoFromRow converts a stored subscription row.
func subscriptionInfoFromRow(row *db.EventstoreSubscription) SubscriptionInfo {
	var f subscriptionFilter
	_ = json.Unmarshal(row.Filter, &f) // written by this package; a foreign value leaves the filter empty
	return SubscriptionInfo{
		Name:       row.Name,
		Member:     int(row.PartitionMember),
		Members:    int(row.PartitionCount),
		StreamID:   row.StreamID.String,
		Checkpoint: Checkpoint{TransactionID: row.CheckpointTransactionID, Position: row.CheckpointPosition},
		Version:    row.CheckpointVersion,
		Filter:     FeedFilter(f),
		GuildID:    row.GuildID.String,
		Handled:    row.HandledCount,
		Holder:     row.Holder.String,
		Group:      row.ConsumerGroup,
		CreatedAt:  row.CreatedAt.UTC(),
		UpdatedAt:  row.UpdatedAt.UTC(),
	}
}

// Subscriptions lists every persistent subscription member, by name and
// member.
func (s *Store) Subscriptions(ctx context.Context) ([]SubscriptionInfo, error) {
	q, _ := s.queries(ctx)
	rows, err := q.SubscriptionList(ctx, s.scopeGuild(ctx))
	if err != nil {
		return nil, opError("list subscriptions", "", mapError(err))
	}
	out := make([]SubscriptionInfo, len(rows))
	for i, row := range rows {
		out[i] = subscriptionInfoFromRow(row)
	}
	return out, nil
}

// SubscriptionInfo returns the members of the persistent subscription
// name, by member. Errors: ErrSubscriptionNotFound, ErrConnection.
func (s *Store) SubscriptionInfo(ctx context.Context, name string) ([]SubscriptionInfo, error) {
	q, _ := s.queries(ctx)
	rows, err := q.SubscriptionGet(ctx, db.SubscriptionGetParams{Name: name, GuildID: s.scopeGuild(ctx)})
	if err != nil {
		return nil, opError("subscription info", name, mapError(err))
	}
	if len(rows) == 0 {
		return nil, opError("subscription info", name, ErrSubscriptionNotFound)
	}
	out := make([]SubscriptionInfo, len(rows))
	for i, row := range rows {
		out[i] = subscriptionInfoFromRow(row)
	}
	return out, nil
}

// DeleteSubscription deletes every member of the persistent subscription
// name. A consumer still running stops with ErrSubscriptionNotFound at its
// next checkpoint; starting it again creates the subscription anew at its
// start position. Errors: ErrSubscriptionNotFound, ErrConnection.
func (s *Store) DeleteSubscription(ctx context.Context, name string) error {
	q, _ := s.queries(ctx)
	n, err := q.SubscriptionDelete(ctx, name)
	if err != nil {
		return opError("delete subscription", name, mapError(err))
	}
	if n == 0 {
		return opError("delete subscription", name, ErrSubscriptionNotFound)
	}
	return nil
}
