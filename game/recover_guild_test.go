package game_test

import (
	"context"
	"fmt"
	"strings"
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

// appStore returns a store on e's database that connects as a login
// member of eventstore_app, the least-privilege role the bot uses in
// production, subject to row-level security.
func appStore(t *testing.T, e *env) *store.Store {
	t.Helper()
	admin := testdb.Connect(t, testdb.ServerURL(t))
	role := "es_app_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	_, err := admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE eventstore_app`, role, role))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	cfg := e.pool.Config().Copy()
	cfg.ConnConfig.User, cfg.ConnConfig.Password = role, role
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
	t.Cleanup(s.Close)
	return s
}

// TestRecoverAsApplicationRole: connected as the application role,
// recovery and RecoverAll see the guild's games (snapshots included) when
// the context carries the guild, and nothing without it; an event row of
// another guild inside a game's stream is invisible to the guild's
// transactions, so it shows up as a gap, where the owner sees the foreign
// event itself.
func TestRecoverAsApplicationRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	app := appStore(t, e)
	evs := e.storeGame(t, game.SimConfig{Seed: 20, Mode: events.ModeKnockout, GameID: "game-1", StopAfter: 20}, 0)
	_, err := game.SaveSnapshot(e.ctx, e.store, replay(t, evs[:6]), 6)
	require.NoError(t, err)
	e.storeGame(t, game.SimConfig{Seed: 21, Mode: events.ModeRace, GameID: "game-2", StopAfter: 15}, 0)
	e.admin(t, `UPDATE eventstore.events SET guild_id = 'guild-2', data = jsonb_set(data, '{guild_id}', '"guild-2"')
		WHERE stream_id = 'game-2' AND stream_version = 9`)

	res, err := game.Recover(e.ctx, app, "game-1", game.RecoverOptions{})
	require.NoError(t, err)
	require.Equal(t, replay(t, evs), res.State)
	require.Equal(t, int64(6), res.SnapshotVersion)

	_, err = game.Recover(t.Context(), app, "game-1", game.RecoverOptions{})
	require.ErrorIs(t, err, store.ErrStreamNotFound, "without a guild the stream is invisible")

	_, err = game.Recover(e.ctx, app, "game-2", game.RecoverOptions{})
	var re *game.RecoveryError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, game.ErrSequenceGap)
	require.Equal(t, game.RuleContiguous, re.Rule)
	require.Equal(t, int64(9), re.StreamVersion)

	_, err = game.Recover(e.ctx, e.store, "game-2", game.RecoverOptions{})
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, game.ErrForeignEvent)
	require.Equal(t, game.RuleSameGuild, re.Rule)
	require.Equal(t, int64(9), re.StreamVersion)

	results, err := game.RecoverAll(t.Context(), app, testGuild, game.RecoverOptions{})
	require.ErrorIs(t, err, game.ErrSequenceGap)
	require.Len(t, results, 2)
	require.Equal(t, replay(t, evs), results[0].State)
	require.ErrorIs(t, results[1].Err, game.ErrSequenceGap)
}
