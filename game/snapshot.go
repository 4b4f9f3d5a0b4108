package game

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gamebot/eventstore/store"
)

// The snapshot format of a game: store.Snapshot.Data is the State as JSON
// (its json tags), under this type name and schema version. Bump
// SnapshotSchemaVersion whenever State's JSON changes shape; Recover then
// ignores older snapshots and replays the whole stream.
const (
	// SnapshotType is the store.Snapshot.Type of game snapshots.
	SnapshotType = "game_state"
	// SnapshotSchemaVersion is the current schema version of game
	// snapshots.
	SnapshotSchemaVersion = 1
)

// SaveSnapshot stores st as the snapshot of its game's stream at version,
// the stream version st reflects, and reports whether the store kept it
// (it keeps the more useful of two snapshots; see store.SaveSnapshot).
// version must equal st.EventCount: a state recovered with skipped events
// is not what replaying the stream gives, so it is refused. st must have
// started and pass Check. Without a guild in ctx, the state's guild is used.
//
// Errors: ErrInvalidSnapshot (nothing was sent), and the errors of
// store.SaveSnapshot.
func SaveSnapshot(ctx context.Context, s *store.Store, st State, version int64) (bool, error) {
	switch {
	case !st.Started():
		return false, fmt.Errorf("save snapshot of game %q: %w: the game has not started", st.GameID, ErrInvalidSnapshot)
	case int64(st.EventCount) != version:
		return false, fmt.Errorf("save snapshot of game %q: %w: the state reflects %d events, not stream version %d "+
			"(a state recovered with skipped events cannot be snapshotted)", st.GameID, ErrInvalidSnapshot, st.EventCount, version)
	}
	if err := st.Check(); err != nil {
		return false, fmt.Errorf("save snapshot of game %q: %w: %w", st.GameID, ErrInvalidSnapshot, err)
	}
	data, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("save snapshot of game %q: %w: %w", st.GameID, ErrInvalidSnapshot, err)
	}
	if _, ok := store.GuildFromContext(ctx); !ok {
		ctx = store.WithGuild(ctx, st.GuildID)
	}
	return s.SaveSnapshot(ctx, store.Snapshot{
		StreamID: st.GameID, Version: version, Type: SnapshotType, SchemaVersion: SnapshotSchemaVersion, Data: data,
	})
}

// loadSnapshot reads the game's snapshot. It returns the state and the
// version it reflects (0 without a usable snapshot) and, for a snapshot
// that exists but cannot be used, the reason as ignored. err is a read
// error (such as a lost connection) that ends the attempt.
func loadSnapshot(ctx context.Context, s *store.Store, gameID string, info store.StreamInfo) (st State, version int64, ignored, err error) {
	snap, err := s.ReadSnapshot(ctx, gameID, SnapshotSchemaVersion)
	var schemaErr *store.SnapshotSchemaError
	switch {
	case errors.Is(err, store.ErrSnapshotNotFound):
		return State{}, 0, nil, nil
	case errors.As(err, &schemaErr):
		return State{}, 0, err, nil
	case err != nil:
		return State{}, 0, nil, err
	}
	st, err = decodeSnapshot(snap, gameID, info)
	if err != nil {
		return State{}, 0, fmt.Errorf("snapshot of game %q at version %d: %w", gameID, snap.Version, err), nil
	}
	return st, snap.Version, nil, nil
}

// decodeSnapshot decodes and checks a stored snapshot: a game_state of
// this game and the stream's guild, passing Check, reflecting exactly
// snap.Version events, not beyond the stream's version.
func decodeSnapshot(snap store.Snapshot, gameID string, info store.StreamInfo) (State, error) {
	if snap.Type != SnapshotType {
		return State{}, fmt.Errorf("%w: type %q, want %q", ErrInvalidSnapshot, snap.Type, SnapshotType)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(snap.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrInvalidSnapshot, err)
	}
	if dec.More() {
		return State{}, fmt.Errorf("%w: data after the state", ErrInvalidSnapshot)
	}
	switch {
	case !st.Started():
		return State{}, fmt.Errorf("%w: the state has no events", ErrInvalidSnapshot)
	case st.GameID != gameID:
		return State{}, fmt.Errorf("%w: the state is of game %q", ErrInvalidSnapshot, st.GameID)
	case st.GuildID != info.GuildID:
		return State{}, fmt.Errorf("%w: the state is of guild %q, the stream belongs to guild %q",
			ErrInvalidSnapshot, st.GuildID, info.GuildID)
	case int64(st.EventCount) != snap.Version:
		return State{}, fmt.Errorf("%w: the state reflects %d events, the snapshot claims version %d",
			ErrInvalidSnapshot, st.EventCount, snap.Version)
	case snap.Version > info.Version:
		return State{}, fmt.Errorf("%w: version %d is beyond the stream's version %d", ErrInvalidSnapshot, snap.Version, info.Version)
	}
	if err := st.Check(); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrInvalidSnapshot, err)
	}
	return st, nil
}
