package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// schemaExists reports whether the eventstore schema exists.
func (b *bundle) schemaExists(t *testing.T) bool {
	t.Helper()
	var ok bool
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eventstore')`).Scan(&ok))
	return ok
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	embedded, err := store.MigrateStatus(t.Context(), b.pool)
	require.NoError(t, err)
	require.NotEmpty(t, embedded)
	newest := embedded[len(embedded)-1].Version

	// status: every embedded migration, applied.
	r := b.cli(t, "migrate", "status")
	requireOK(t, r)
	out := lines(r.stdout)
	require.Len(t, out, len(embedded))
	for i, m := range embedded {
		require.Equal(t, fmt.Sprintf("%05d  applied  %s", m.Version, m.Name), out[i])
	}

	// up on an up-to-date schema applies nothing.
	r = b.cli(t, "migrate", "up")
	requireOK(t, r)
	require.Equal(t, "nothing applied: the schema is up to date\n", r.stdout)

	// down rolls back the newest migration only.
	r = b.cli(t, "migrate", "down", "--json")
	requireOK(t, r)
	require.JSONEq(t, fmt.Sprintf(`{"rolled back": [%d]}`, newest), r.stdout)
	st := decodeJSON[[]store.MigrationStatus](t, b.cli(t, "--json", "migrate", "status").stdout)
	require.False(t, st[len(st)-1].Applied)
	require.True(t, st[0].Applied)

	// up applies it again.
	r = b.cli(t, "migrate", "up")
	requireOK(t, r)
	require.Equal(t, fmt.Sprintf("applied %05d\n", newest), r.stdout)

	// down --to 0 removes the schema; up brings it back.
	r = b.cli(t, "migrate", "down", "--to", "0", "--json")
	requireOK(t, r)
	rolled := decodeJSON[map[string][]int64](t, r.stdout)["rolled back"]
	require.Len(t, rolled, len(embedded))
	require.False(t, b.schemaExists(t))

	r = b.cli(t, "migrate", "up", "--json")
	requireOK(t, r)
	require.Len(t, decodeJSON[map[string][]int64](t, r.stdout)["applied"], len(embedded))
	require.True(t, b.schemaExists(t))
}

// TestMigrateDownNegativeTo refuses a negative --to as a usage error before
// connecting: it used to roll back one migration, like no --to at all.
func TestMigrateDownNegativeTo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, to := range []string{"-1", "-5", "-9223372036854775808"} {
		t.Run(to, func(t *testing.T) {
			// No database configured: the usage error comes first.
			r := runCLI(t, "migrate", "down", "--to", to)
			requireFail(t, r, "eventstore migrate: --to must be a version >= 0", "see eventstore migrate --help")

			r = b.cli(t, "migrate", "down", "--to="+to)
			requireFail(t, r, "eventstore migrate: --to must be a version >= 0")
			st := decodeJSON[[]store.MigrationStatus](t, b.cli(t, "--json", "migrate", "status").stdout)
			for _, m := range st {
				require.True(t, m.Applied, "nothing rolled back: %s", m.Name)
			}
		})
	}
}

func TestMigrateReset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	remote := func(string) bool { return false }
	withURL := func(args ...string) []string { return append([]string{"--database-url", b.url}, args...) }

	// A database that is not local needs --yes: nothing is touched without it.
	r := runWith(t.Context(), runOpts{devDatabase: remote}, withURL("migrate", "reset")...)
	requireFail(t, r, "eventstore migrate: reset drops every event: pass --yes to confirm (the database is not local)")
	require.Equal(t, 3, b.countEvents(t))

	r = runWith(t.Context(), runOpts{devDatabase: remote}, withURL("migrate", "reset", "--yes", "--json")...)
	requireOK(t, r)
	res := decodeJSON[map[string][]int64](t, r.stdout)
	require.Equal(t, len(res["rolled_back"]), len(res["applied"]))
	require.NotEmpty(t, res["applied"])
	require.Zero(t, b.countEvents(t), "reset drops every event")

	// A local database (the test server is on 127.0.0.1) needs no --yes.
	b.numbered(t, "guild-1", "game-2", 1)
	r = b.cli(t, "migrate", "reset")
	requireOK(t, r)
	require.True(t, strings.HasPrefix(r.stdout, "reset: rolled back "), r.stdout)
	require.Zero(t, b.countEvents(t))

	// EVENTSTORE_DEV=1 marks any database as a dev one.
	r = runWith(t.Context(), runOpts{env: map[string]string{"EVENTSTORE_DEV": "1"}}, withURL("migrate", "reset")...)
	requireOK(t, r)
}

func TestIsDevDatabaseDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		env  map[string]string
		want bool
	}{
		{"postgres://u@127.0.0.1:5432/db", nil, true},
		{"postgres://u@localhost/db", nil, true},
		{"postgres://u@[::1]:5432/db", nil, true},
		{"postgres:///db?host=/tmp/socket", nil, true},
		{"postgres://u@db.example.com/db", nil, false},
		{"postgres://u@10.0.0.7/db", nil, false},
		{"postgres://u@db.example.com/db", map[string]string{"EVENTSTORE_DEV": "1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			c := &cmdContext{env: env{Getenv: func(k string) string { return tt.env[k] }}}
			pool, err := pgxpool.New(t.Context(), tt.url) // connects lazily: nothing is dialled
			require.NoError(t, err)
			defer pool.Close()
			require.Equal(t, tt.want, c.isDevDatabase(pool))
		})
	}
}
