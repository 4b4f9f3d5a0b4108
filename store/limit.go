package store

import (
	"context"
	"fmt"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5/pgtype"
)

// OpSetStreamLimit names SetStreamLimit and ClearStreamLimit in
// Observation.Op.
const OpSetStreamLimit = "set_stream_limit"

// SetStreamLimit gives streamID its own event limit, which takes precedence
// over Config.MaxStreamEvents in both directions (higher or lower). A limit
// at or below the stream's version is allowed: every further append is then
// refused with a *StreamFullError. When the context carries a guild, the
// stream must belong to it.
//
// Errors: ErrInvalidStreamID, ErrInvalidArgument (limit below 1),
// ErrStreamNotFound, ErrStreamDeleted, ErrGuildMismatch, ErrConnection.
func (s *Store) SetStreamLimit(ctx context.Context, streamID string, limit int64) error {
	if limit < 1 {
		return opError("set limit of stream", streamID, fmt.Errorf("%w: stream limit %d must be at least 1 (ClearStreamLimit removes it)", ErrInvalidArgument, limit))
	}
	return opError("set limit of stream", streamID, s.setStreamLimit(ctx, streamID, pgtype.Int8{Int64: limit, Valid: true}))
}

// ClearStreamLimit removes streamID's own event limit, so the store's
// Config.MaxStreamEvents applies to it again. Errors as SetStreamLimit.
func (s *Store) ClearStreamLimit(ctx context.Context, streamID string) error {
	return opError("clear limit of stream", streamID, s.setStreamLimit(ctx, streamID, pgtype.Int8{}))
}

func (s *Store) setStreamLimit(ctx context.Context, streamID string, limit pgtype.Int8) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	var guild pgtype.Text
	if g, ok := GuildFromContext(ctx); ok {
		guild = pgtype.Text{String: g, Valid: true}
	}
	return s.do(ctx, opSpec{op: OpSetStreamLimit, stream: streamID, replayable: true}, func(ctx context.Context) (int, error) {
		q, _ := s.queries(ctx)
		_, err := q.StreamSetLimit(ctx, db.StreamSetLimitParams{StreamID: streamID, GuildID: guild, MaxEvents: limit})
		return 0, mapError(err)
	})
}
