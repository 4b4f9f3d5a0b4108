package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
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
	// check: the newest migration's functions are missing.
	requireFail(t, b.cli(t, "migrate", "check"), "database schema outdated: the database lacks eventstore.")

	// up applies it again.
	r = b.cli(t, "migrate", "up")
	requireOK(t, r)
	require.Equal(t, fmt.Sprintf("applied %05d\n", newest), r.stdout)
	r = b.cli(t, "migrate", "check")
	requireOK(t, r)
	require.Equal(t, "the schema has every function this build calls\n", r.stdout)
	r = b.cli(t, "--json", "migrate", "check")
	requireOK(t, r)
	require.JSONEq(t, `{"up_to_date": true}`, r.stdout)

	// down --to 0 removes the schema; up brings it back.
	r = b.cli(t, "migrate", "down", "--to", "0", "--json")
	requireOK(t, r)
	rolled := decodeJSON[map[string][]int64](t, r.stdout)["rolled back"]
	require.Len(t, rolled, len(embedded))
	require.False(t, b.schemaExists(t))
	requireFail(t, b.cli(t, "migrate", "check"), "the database has no eventstore schema")

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
	remote := func(net.Addr) bool { return false }
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

// TestMigrateResetDecidesOnConnectedAddress: whether reset needs --yes is
// decided on the server the connection reached, not on the URL's first
// host (a multi-host URL tries its hosts in order).
func TestMigrateResetDecidesOnConnectedAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg, err := pgxpool.ParseConfig(b.url)
	require.NoError(t, err)
	closed := closedPort(t)
	// multiHost is b.url with first tried before the test server.
	multiHost := func(first string) string {
		u, err := url.Parse(b.url)
		require.NoError(t, err)
		u.Host = first + "," + u.Host
		return u.String()
	}

	t.Run("the URL's first host is not local, the connected one is", func(t *testing.T) {
		// 0.0.0.0 is not a loopback address, but connecting to it reaches this
		// machine; nothing listens on the port, so the connection goes on to
		// the test server on 127.0.0.1.
		b.numbered(t, "guild-1", "game-1", 2)
		r := runCLI(t, "--database-url", multiHost(fmt.Sprintf("0.0.0.0:%d", closed)), "migrate", "reset")
		requireOK(t, r)
		require.Zero(t, b.countEvents(t))
	})

	t.Run("the URL's first host is local, the connected one is not", func(t *testing.T) {
		b.numbered(t, "guild-1", "game-2", 2)
		before := b.countEvents(t)
		var seen []net.Addr
		var mu sync.Mutex
		// Stands in for a server elsewhere: only the unreachable first host
		// counts as local.
		firstOnly := func(addr net.Addr) bool {
			mu.Lock()
			seen = append(seen, addr)
			mu.Unlock()
			tcp, ok := addr.(*net.TCPAddr)
			return ok && tcp.Port == closed
		}
		r := runWith(t.Context(), runOpts{devDatabase: firstOnly},
			"--database-url", multiHost(fmt.Sprintf("127.0.0.1:%d", closed)), "migrate", "reset")
		requireFail(t, r, "eventstore migrate: reset drops every event: pass --yes to confirm (the database is not local)")
		require.Equal(t, before, b.countEvents(t), "nothing dropped")
		require.Len(t, seen, 1)
		tcp, ok := seen[0].(*net.TCPAddr)
		require.True(t, ok, "%T", seen[0])
		require.Equal(t, int(cfg.ConnConfig.Port), tcp.Port, "the check saw the server actually connected to")
		require.True(t, tcp.IP.IsLoopback())
	})
}

// closedPort returns a port of 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestIsLocalAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr net.Addr
		want bool
	}{
		{"IPv4 loopback", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432}, true},
		{"other IPv4 loopback", &net.TCPAddr{IP: net.IPv4(127, 8, 9, 10), Port: 5432}, true},
		{"IPv6 loopback", &net.TCPAddr{IP: net.IPv6loopback, Port: 5432}, true},
		{"IPv4-mapped loopback", &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 5432}, true},
		{"Unix socket", &net.UnixAddr{Name: "/tmp/.s.PGSQL.5432", Net: "unix"}, true},
		{"private network", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 5432}, false},
		{"public address", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5432}, false},
		{"unspecified", &net.TCPAddr{IP: net.IPv4zero, Port: 5432}, false},
		{"no address", nil, false},
		{"another kind", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, isLocalAddr(tt.addr))
		})
	}
}
