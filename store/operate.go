package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5/pgtype"
)

// ErrSubscriptionActive reports an operation on a persistent subscription
// (ResetSubscription) refused because a consumer holds its lease: stop the
// consumer, or wait until its lease expires, and try again (SQLSTATE ES030).
var ErrSubscriptionActive = errors.New("subscription in use")

const codeSubscriptionActive = "ES030"

func init() {
	codeKinds[codeSubscriptionActive] = ErrSubscriptionActive
}

// OpResetSubscription names ResetSubscription in Observation.Op.
const OpResetSubscription = "reset_subscription"

// ResetSubscription moves every member of the persistent subscription name
// to a new checkpoint, so that its next consumer starts there: to is
// resolved as a subscription without a checkpoint would resolve its Start
// (FromOrigin, FromEnd, FromTime, AfterCheckpoint for a feed subscription,
// AfterVersion for a stream subscription). Moving back redelivers events;
// moving forward skips them. It returns the members as stored.
//
// The reset is refused with ErrSubscriptionActive while a consumer holds a
// member's lease: a running consumer would go on from its own position and
// save over the reset. Stop the consumers first (a consumer that stopped
// releases its lease at once; one that died is replaced after its lease
// expires). The reset also fences the lease, so a consumer that stalled
// past its lease can no longer save its old position over the new one.
//
// When the context carries a guild, only that guild's subscription is
// found; without one, only an administrator may reset.
//
// Errors: ErrSubscriptionNotFound, ErrSubscriptionActive,
// ErrInvalidArgument (a start of the wrong kind for the subscription's
// source), ErrGuildRequired, ErrConnection.
func (s *Store) ResetSubscription(ctx context.Context, name string, to SubscriptionStart) ([]SubscriptionInfo, error) {
	var out []SubscriptionInfo
	err := s.do(ctx, opSpec{op: OpResetSubscription}, func(ctx context.Context) (int, error) {
		var err error
		out, err = s.resetSubscription(ctx, name, to)
		return 0, err
	})
	return out, opError("reset subscription", name, err)
}

func (s *Store) resetSubscription(ctx context.Context, name string, to SubscriptionStart) ([]SubscriptionInfo, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty subscription name", ErrInvalidArgument)
	}
	if err := validateSubscriptionName(name); err != nil {
		return nil, err
	}
	members, err := s.SubscriptionInfo(ctx, name)
	if err != nil {
		return nil, unwrapOp(err)
	}
	streamID := members[0].StreamID
	pos, err := s.resolveStart(ctx, streamID, to)
	if err != nil {
		return nil, err
	}
	var stream pgtype.Text
	if streamID != "" {
		stream = pgtype.Text{String: streamID, Valid: true}
	}
	q, _ := s.queries(ctx)
	rows, err := q.SubscriptionReset(ctx, db.SubscriptionResetParams{
		Name:                    name,
		StreamID:                stream,
		CheckpointTransactionID: pos.cp.TransactionID,
		CheckpointPosition:      pos.cp.Position,
		CheckpointVersion:       pos.version,
	})
	if err != nil {
		return nil, mapError(err)
	}
	out := make([]SubscriptionInfo, len(rows))
	for i, row := range rows {
		out[i] = subscriptionInfoFromRow(row)
	}
	return out, nil
}

// resolveStart computes the position a start option names for a
// subscription to streamID ("" for the global feed): the checkpoint (or
// version) after which delivery begins.
func (s *Store) resolveStart(ctx context.Context, streamID string, st SubscriptionStart) (subPosition, error) {
	switch {
	case streamID == "" && st.kind == startVersion:
		return subPosition{}, fmt.Errorf("%w: a feed subscription starts at a checkpoint, not a stream version", ErrInvalidArgument)
	case streamID != "" && st.kind == startCheckpoint:
		return subPosition{}, fmt.Errorf("%w: a stream subscription starts at a version, not a feed checkpoint", ErrInvalidArgument)
	case st.kind == startTime:
		return s.resolveTimeStart(ctx, streamID, st)
	case st.kind == startVersion && st.version < 0:
		return subPosition{}, fmt.Errorf("%w: start version %d", ErrInvalidStartVersion, st.version)
	}
	switch st.kind {
	case startCheckpoint:
		return subPosition{cp: st.checkpoint}, nil
	case startVersion:
		return subPosition{version: st.version}, nil
	case startEnd:
		if streamID == "" {
			cp, err := s.FeedEnd(ctx)
			return subPosition{cp: cp}, unwrapOp(err)
		}
		info, err := s.StreamInfo(ctx, streamID)
		if errors.Is(err, ErrStreamNotFound) {
			return subPosition{}, nil
		}
		return subPosition{version: info.Version}, unwrapOp(err)
	}
	return subPosition{}, nil
}

// unwrapOp drops the operation prefix opError added, so an error of an
// inner call is wrapped once, by the outer operation.
func unwrapOp(err error) error {
	if err == nil {
		return nil
	}
	if u := errors.Unwrap(err); u != nil && strings.HasSuffix(err.Error(), ": "+u.Error()) {
		return u
	}
	return err
}
