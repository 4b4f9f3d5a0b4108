package store

import (
	"context"
	"errors"
	"fmt"
)

// SubscriptionStart is where a subscription starts when it has no stored
// checkpoint. The zero value is FromOrigin.
type SubscriptionStart struct {
	kind       startKind
	checkpoint Checkpoint
	version    int64
}

type startKind uint8

const (
	startOrigin startKind = iota
	startEnd
	startCheckpoint
	startVersion
)

// FromOrigin starts with the first event (of the feed or the stream).
func FromOrigin() SubscriptionStart { return SubscriptionStart{kind: startOrigin} }

// FromEnd starts after the last event deliverable when the subscription
// starts: it sees only events delivered from then on (for the global feed,
// that includes events a running transaction still holds back; see FeedEnd).
func FromEnd() SubscriptionStart { return SubscriptionStart{kind: startEnd} }

// AfterCheckpoint starts with the first feed event after cp (global feed
// subscriptions only).
func AfterCheckpoint(cp Checkpoint) SubscriptionStart {
	return SubscriptionStart{kind: startCheckpoint, checkpoint: cp}
}

// AfterVersion starts with the stream's event at version v+1 (stream
// subscriptions only); AfterVersion(0) is FromOrigin.
func AfterVersion(v int64) SubscriptionStart {
	return SubscriptionStart{kind: startVersion, version: v}
}

// validate checks that the start fits the source (a stream or the feed).
func (st SubscriptionStart) validate(stream bool) error {
	switch {
	case stream && st.kind == startCheckpoint:
		return fmt.Errorf("%w: a stream subscription starts at a version, not a feed checkpoint", ErrInvalidArgument)
	case !stream && st.kind == startVersion:
		return fmt.Errorf("%w: a feed subscription starts at a checkpoint, not a stream version", ErrInvalidArgument)
	case st.kind == startVersion && st.version < 0:
		return fmt.Errorf("%w: start version %d", ErrInvalidStartVersion, st.version)
	}
	return nil
}

// startPosition resolves where a subscription (or consumer group) without
// a stored checkpoint starts. It is the one place that turns a
// SubscriptionStart into a position.
func (sub *Subscription) startPosition(ctx context.Context) (subPosition, error) {
	st := sub.opts.Start
	switch st.kind {
	case startTime:
		return sub.store.resolveTimeStart(ctx, sub.opts.StreamID, st) // since.go
	case startCheckpoint:
		return subPosition{cp: st.checkpoint}, nil
	case startVersion:
		return subPosition{version: st.version}, nil
	case startEnd:
		if sub.opts.StreamID == "" {
			cp, err := sub.store.FeedEnd(ctx)
			return subPosition{cp: cp}, err
		}
		info, err := sub.store.StreamInfo(ctx, sub.opts.StreamID)
		if errors.Is(err, ErrStreamNotFound) {
			return subPosition{}, nil
		}
		return subPosition{version: info.Version}, err
	}
	return subPosition{}, nil
}
