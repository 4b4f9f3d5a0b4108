package store

import (
	"context"
	"fmt"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5/pgtype"
)

// CreateStream registers an empty stream (version 0) owned by the context's
// guild. Errors: ErrInvalidStreamID, ErrGuildRequired, ErrInvalidGuildID,
// ErrStreamExists (as a *VersionConflictError).
func (s *Store) CreateStream(ctx context.Context, streamID string) error {
	err := s.do(ctx, opSpec{op: OpCreateStream, stream: streamID}, func(ctx context.Context) (int, error) {
		return 0, s.createStream(ctx, streamID)
	})
	return opError("create stream", streamID, err)
}

func (s *Store) createStream(ctx context.Context, streamID string) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	guild, err := requireGuild(ctx)
	if err != nil {
		return err
	}
	q, _ := s.queries(ctx)
	return mapError(q.StreamCreate(ctx, db.StreamCreateParams{StreamID: streamID, GuildID: guild}))
}

// DeleteStream soft-deletes streamID if it is at the expected version: its
// events are kept, but reads and appends now fail with ErrStreamDeleted. It
// returns the stream's version. When the context carries a guild, the
// stream must belong to it.
func (s *Store) DeleteStream(ctx context.Context, streamID string, expected ExpectedVersion) (int64, error) {
	var v int64
	err := s.do(ctx, opSpec{op: OpDeleteStream, stream: streamID}, func(ctx context.Context) (int, error) {
		var err error
		v, err = s.deleteStream(ctx, streamID, expected)
		return 0, err
	})
	return v, opError("delete stream", streamID, err)
}

func (s *Store) deleteStream(ctx context.Context, streamID string, expected ExpectedVersion) (int64, error) {
	if err := ValidateStreamID(streamID); err != nil {
		return 0, err
	}
	if !expected.valid() {
		return 0, fmt.Errorf("%w: %d", ErrInvalidExpectedVersion, int64(expected))
	}
	var guild pgtype.Text
	if g, ok := GuildFromContext(ctx); ok {
		guild = pgtype.Text{String: g, Valid: true}
	}
	q, _ := s.queries(ctx)
	v, err := q.StreamDelete(ctx, db.StreamDeleteParams{StreamID: streamID, GuildID: guild, ExpectedVersion: int64(expected)})
	return v, mapError(err)
}

func requireGuild(ctx context.Context) (string, error) {
	guild, ok := GuildFromContext(ctx)
	if !ok {
		return "", fmt.Errorf("%w: put the guild in the context with store.WithGuild", ErrGuildRequired)
	}
	return guild, ValidateGuildID(guild)
}
