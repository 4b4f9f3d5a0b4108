package game_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
)

// testGuild is the guild the recovery tests' games run in.
const testGuild = "guild-1"

// env is what the recovery tests need: a store that decodes GameBot events
// on a fresh database, the database owner's pool (the admin path that
// corrupts streams the way an operator would find them) and a context
// carrying testGuild.
type env struct {
	store *store.Store
	pool  *pgxpool.Pool
	ctx   context.Context
}

// newEnv returns an env; cfg's Serializer is set to the GameBot registry.
func newEnv(t *testing.T, cfg store.Config) *env {
	t.Helper()
	return newEnvOn(t, testdb.New(t), cfg)
}

// newEnvOn is newEnv on a pool of the caller's.
func newEnvOn(t *testing.T, pool *pgxpool.Pool, cfg store.Config) *env {
	t.Helper()
	cfg.Serializer = serde.NewJSON(events.NewRegistry())
	s := store.New(pool, cfg)
	t.Cleanup(s.Close)
	return &env{store: s, pool: pool, ctx: store.WithGuild(t.Context(), testGuild)}
}

// storeGame simulates a game, stores it with AppendGame in batches of
// batch and returns its events.
func (e *env) storeGame(t *testing.T, cfg game.SimConfig, batch int) []events.GameEvent {
	t.Helper()
	if cfg.GuildID == "" {
		cfg.GuildID = testGuild
	}
	evs := game.Simulate(cfg)
	_, err := game.AppendGame(e.ctx, e.store, evs, batch)
	require.NoError(t, err)
	return evs
}

// admin runs sql in one transaction of the owner's pool with the
// immutability guard lifted, as an operator repairing (or damaging) a
// stream by hand would.
func (e *env) admin(t *testing.T, sql string, args ...any) {
	t.Helper()
	tx, err := e.pool.Begin(e.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(e.ctx)) }()
	_, err = tx.Exec(e.ctx, "SET LOCAL eventstore.allow_event_mutation = on")
	require.NoError(t, err)
	// The events table refuses data that is not a JSON object; a store
	// restored from elsewhere may still hold some, which recovery must
	// report. Lift the check to plant such corruption.
	_, err = tx.Exec(e.ctx, "ALTER TABLE eventstore.events DROP CONSTRAINT IF EXISTS events_data_check")
	require.NoError(t, err)
	_, err = tx.Exec(e.ctx, sql, args...)
	require.NoError(t, err, "admin SQL: %s", sql)
	require.NoError(t, tx.Commit(e.ctx))
}

// copyEvent inserts a copy of the event at version from as the stream's
// next event, with a new event id and the columns named in set replaced by
// SQL expressions over the original row, and bumps the stream's version.
func (e *env) copyEvent(t *testing.T, streamID string, from int64, set map[string]string) {
	t.Helper()
	cols := []string{"event_type", "event_version", "guild_id", "data", "metadata", "causation_id", "correlation_id"}
	sel := ""
	for _, c := range cols {
		expr := c
		if v, ok := set[c]; ok {
			expr = v
		}
		sel += ", " + expr
	}
	e.admin(t, fmt.Sprintf(`
		WITH next AS (SELECT version + 1 AS v FROM eventstore.streams WHERE stream_id = $1),
		ins AS (
			INSERT INTO eventstore.events (stream_id, stream_version, event_id, event_type, event_version, guild_id,
				data, metadata, causation_id, correlation_id)
			SELECT stream_id, (SELECT v FROM next), gen_random_uuid()%s
			FROM eventstore.events WHERE stream_id = $1 AND stream_version = $2
			RETURNING stream_version)
		UPDATE eventstore.streams SET version = (SELECT stream_version FROM ins) WHERE stream_id = $1`, sel),
		streamID, from)
}

// replay returns the in-memory state of evs.
func replay(t *testing.T, evs []events.GameEvent) game.State {
	t.Helper()
	st, err := game.Replay(evs)
	require.NoError(t, err)
	return st
}

// modes lists the three game modes.
func modes() []events.Mode {
	return []events.Mode{events.ModeTwoPlayer, events.ModeKnockout, events.ModeRace}
}

// eventID returns the id of the event stored at version of streamID.
func (e *env) eventID(t *testing.T, streamID string, version int64) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, e.pool.QueryRow(e.ctx,
		`SELECT event_id FROM eventstore.events WHERE stream_id = $1 AND stream_version = $2`,
		streamID, version).Scan(&id))
	return id
}
