package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

const testGuild = "guild-1"

// bundle is what most tests need: a store on a fresh database and a context
// carrying a guild.
type bundle struct {
	store *store.Store
	pool  *pgxpool.Pool
	ctx   context.Context
	// admin carries no guild: reads with it see the whole store (with a
	// guild in the context every read is scoped to that guild).
	admin context.Context
}

func setup(t *testing.T, cfgs ...store.Config) *bundle {
	t.Helper()
	pool := testdb.New(t)
	var cfg store.Config
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	s := store.New(pool, cfg)
	t.Cleanup(s.Close)
	return &bundle{store: s, pool: pool, ctx: store.WithGuild(t.Context(), testGuild), admin: t.Context()}
}

// rawEvent is a small JSON event for tests.
func rawEvent(typ string, n int) store.Event {
	return store.Event{Data: serde.Raw{Type: typ, Version: 1, Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, n))}}
}

func rawEvents(count, offset int) []store.Event {
	evs := make([]store.Event, count)
	for i := range evs {
		evs[i] = rawEvent("test_event", offset+i)
	}
	return evs
}

// countRows counts rows of eventstore.events for a stream, directly in SQL.
func countRows(t *testing.T, b *bundle, streamID string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM eventstore.events WHERE stream_id = $1`, streamID).Scan(&n))
	return n
}

// eventN decodes the "n" field of a raw test event.
func eventN(t *testing.T, r store.Recorded) int {
	t.Helper()
	var v struct{ N int }
	require.NoError(t, json.Unmarshal(r.Data, &v))
	return v.N
}

func rawData(typ, data string) serde.Raw {
	return serde.Raw{Type: typ, Version: 1, Data: json.RawMessage(data)}
}

func randomSuffix() string {
	return strings.ReplaceAll(uuid.NewString()[:13], "-", "")
}

// connString returns the admin pool's connection string pointed at database name.
func connString(admin *pgxpool.Pool, name string) string {
	c := admin.Config().ConnConfig
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", c.User, c.Password, c.Host, c.Port, name)
}

// offlineStore is a store whose pool cannot reach a server (nothing listens
// on port 1 of the loopback address): an operation that fails on it with a
// validation error sent no SQL.
func offlineStore(t *testing.T) *store.Store {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{DisableNotify: true, Retry: store.RetryPolicy{MaxAttempts: 1}})
	t.Cleanup(s.Close)
	return s
}

// idTexts is ids as text, for tests' own SQL ($1::text[]::uuid[]): pgx
// encodes []uuid.UUID only when the server has described the parameter,
// which it does not under QueryExecModeExec or QueryExecModeSimpleProtocol
// (TEST_QUERY_EXEC_MODE).
func idTexts(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
