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
		return 0, fmt.Errorf("%w: %s", ErrInvalidExpectedVersion, expected)
	}
	var guild pgtype.Text
	if g, ok := GuildFromContext(ctx); ok {
		guild = pgtype.Text{String: g, Valid: true}
	}
	q, _ := s.queries(ctx)
	v, err := q.StreamDelete(ctx, db.StreamDeleteParams{StreamID: streamID, GuildID: guild, ExpectedVersion: int64(expected)})
	return v, mapError(err)
}

// OpHardDeleteStream names HardDeleteStream in Observation.Op.
const OpHardDeleteStream = "hard_delete_stream"

// HardDeleteConfirmation is the explicit opt-in HardDeleteStream requires:
// pass ConfirmHardDelete.
type HardDeleteConfirmation string

// ConfirmHardDelete confirms that a hard delete may remove events for good.
const ConfirmHardDelete HardDeleteConfirmation = "remove the stream and its events for good"

// HardDeleteResult describes a hard-deleted stream.
type HardDeleteResult struct {
	// Version is the version the stream had.
	Version int64
	// EventsDeleted counts the events removed, hot and archived.
	EventsDeleted int64
}

// HardDeleteStream removes streamID for good, if it is at the expected
// version: its events (hot and archived), its snapshot, the checkpoints of
// persistent subscriptions to that stream, and the stream itself, all in
// one transaction. The stream id can then be used again (NoStream
// passes). It works on live, archived and soft-deleted streams. confirm
// must be ConfirmHardDelete; anything else is refused before any SQL runs.
// When the context carries a guild, the stream must belong to it.
//
// Hard deletion is maintenance: only an administrator may do it (the schema
// owner, a superuser, a BYPASSRLS role or a member of eventstore_admin);
// the application role cannot even execute the function.
//
// Errors: ErrConfirmationRequired, ErrInvalidStreamID,
// ErrInvalidExpectedVersion, ErrAdminRequired, ErrStreamNotFound,
// *VersionConflictError, ErrGuildMismatch, ErrConnection.
func (s *Store) HardDeleteStream(ctx context.Context, streamID string, expected ExpectedVersion, confirm HardDeleteConfirmation) (HardDeleteResult, error) {
	var res HardDeleteResult
	err := s.do(ctx, opSpec{op: OpHardDeleteStream, stream: streamID}, func(ctx context.Context) (int, error) {
		var err error
		res, err = s.hardDeleteStream(ctx, streamID, expected, confirm)
		return int(res.EventsDeleted), err
	})
	return res, opError("hard delete stream", streamID, err)
}

func (s *Store) hardDeleteStream(ctx context.Context, streamID string, expected ExpectedVersion, confirm HardDeleteConfirmation) (HardDeleteResult, error) {
	if confirm != ConfirmHardDelete {
		return HardDeleteResult{}, fmt.Errorf("%w: pass store.ConfirmHardDelete to remove the stream and its events for good", ErrConfirmationRequired)
	}
	if err := ValidateStreamID(streamID); err != nil {
		return HardDeleteResult{}, err
	}
	if !expected.valid() {
		return HardDeleteResult{}, fmt.Errorf("%w: %s", ErrInvalidExpectedVersion, expected)
	}
	var guild pgtype.Text
	if g, ok := GuildFromContext(ctx); ok {
		guild = pgtype.Text{String: g, Valid: true}
	}
	q, _ := s.queries(ctx)
	row, err := q.StreamHardDelete(ctx, db.StreamHardDeleteParams{
		StreamID: streamID, GuildID: guild, ExpectedVersion: int64(expected), Confirm: true,
	})
	if err != nil {
		return HardDeleteResult{}, mapError(err)
	}
	return HardDeleteResult{Version: row.Version, EventsDeleted: row.EventsDeleted}, nil
}

func requireGuild(ctx context.Context) (string, error) {
	guild, ok := GuildFromContext(ctx)
	if !ok {
		return "", fmt.Errorf("%w: put the guild in the context with store.WithGuild", ErrGuildRequired)
	}
	return guild, ValidateGuildID(guild)
}
