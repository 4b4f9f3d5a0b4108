package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// result is what one in-process run of the CLI produced.
type result struct {
	code   int
	stdout string
	stderr string
}

// runOpts tweaks one in-process run.
type runOpts struct {
	stdin       string
	env         map[string]string
	devDatabase func(addr net.Addr) bool
}

// runCLI runs the CLI in-process with an empty environment and no stdin.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t.Context(), runOpts{}, args...)
}

// runWith runs the CLI in-process with the given stdin and environment.
func runWith(ctx context.Context, o runOpts, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, env{
		Stdin:       strings.NewReader(o.stdin),
		Stdout:      &stdout,
		Stderr:      &stderr,
		Getenv:      func(k string) string { return o.env[k] },
		DevDatabase: o.devDatabase,
	})
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// requireOK fails unless the run succeeded with nothing on stderr.
func requireOK(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	require.Empty(t, r.stderr)
}

// requireFail fails unless the run exited 1 with exactly one line on stderr
// that contains every one of want, and nothing on stdout.
func requireFail(t *testing.T, r result, want ...string) {
	t.Helper()
	require.Equal(t, 1, r.code, "stdout: %s", r.stdout)
	require.Empty(t, r.stdout)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
	require.True(t, strings.HasPrefix(r.stderr, "eventstore"), r.stderr)
	for _, w := range want {
		require.Contains(t, r.stderr, w)
	}
}

// bundle is a fresh migrated database, a store on it, and the CLI flag that
// points at it.
type bundle struct {
	url   string
	pool  *pgxpool.Pool
	store *store.Store
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := testdb.NewDB(t)
	s := store.New(db.Pool, store.Config{})
	t.Cleanup(s.Close)
	return &bundle{url: db.URL, pool: db.Pool, store: s}
}

// cli runs the CLI against the bundle's database.
func (b *bundle) cli(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t.Context(), runOpts{}, append([]string{"--database-url", b.url}, args...)...)
}

// cliStdin is cli with stdin.
func (b *bundle) cliStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWith(t.Context(), runOpts{stdin: stdin}, append([]string{"--database-url", b.url}, args...)...)
}

// fixtureEvent is one event of a test fixture.
type fixtureEvent struct {
	typ  string
	data string
}

// appendEvents appends events to a stream of guild through the store.
func (b *bundle) appendEvents(t *testing.T, guild, streamID string, evs ...fixtureEvent) store.AppendResult {
	t.Helper()
	batch := make([]store.Event, len(evs))
	for i, e := range evs {
		batch[i] = store.Event{Data: serde.Raw{Type: e.typ, Version: 1, Data: json.RawMessage(e.data)}}
	}
	res, err := b.store.Append(store.WithGuild(t.Context(), guild), streamID, store.Any, batch...)
	require.NoError(t, err)
	return res
}

// numbered appends n events "test_event" {"n": i} (i from 1) to a stream.
func (b *bundle) numbered(t *testing.T, guild, streamID string, n int) {
	t.Helper()
	evs := make([]fixtureEvent, n)
	for i := range evs {
		evs[i] = fixtureEvent{typ: "test_event", data: fmt.Sprintf(`{"n": %d}`, i+1)}
	}
	b.appendEvents(t, guild, streamID, evs...)
}

// waitFeed waits until the global feed may deliver every committed event
// of the database. The feed's horizon is cluster-wide, so a transaction of a
// test running in parallel (in another database) can hold it back briefly.
func (b *bundle) waitFeed(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var pending int64
		err := b.pool.QueryRow(t.Context(), `SELECT held_events FROM eventstore.feed_lag`).Scan(&pending)
		return err == nil && pending == 0
	}, 2*time.Minute, 5*time.Millisecond, "the feed holds events back")
}

// countEvents counts stored events, directly in SQL (also from a Cleanup).
func (b *bundle) countEvents(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM eventstore.events`).Scan(&n))
	return n
}

// jsonLines decodes one JSON value per line.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var vals []T
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var v T
		require.NoError(t, json.Unmarshal([]byte(line), &v), line)
		vals = append(vals, v)
	}
	return vals
}

// decodeJSON decodes a single JSON document.
func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v
}

// lines splits output into its non-empty lines.
func lines(out string) []string {
	return strings.FieldsFunc(out, func(r rune) bool { return r == '\n' })
}
