package main

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/internal/bench"
	"github.com/gamebot/eventstore/internal/devdb"
	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// TestReplicaCLI runs the read commands with --replica-url pointing at the
// test database on the standby: each prints what it prints from the
// primary, and stats reports the standby and its lag.
func TestReplicaCLI(t *testing.T) {
	t.Parallel()
	rdb := testdb.NewReplicated(t)
	s := store.New(rdb.Pool, store.Config{})
	t.Cleanup(s.Close)
	b := &bundle{url: rdb.URL, pool: rdb.Pool, store: s}
	fixture(t, b)
	typed := store.New(rdb.Pool, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
	t.Cleanup(typed.Close)
	evs := game.Simulate(game.SimConfig{Seed: 3, Mode: events.ModeRace, GameID: "race-game", GuildID: "guild-1"})
	_, err := game.AppendGame(store.WithGuild(t.Context(), "guild-1"), typed, evs, 0)
	require.NoError(t, err)
	b.waitFeed(t)
	testdb.WaitReplayed(t, rdb.Pool, testdb.StandbyServerURL(t))

	for _, args := range [][]string{
		{"read", "race-game", "--count", "5"},
		{"read", "race-game", "--backward"},
		{"info", "race-game"},
		{"streams", "--limit", "3"},
		{"feed", "--count", "7"},
		{"replay", "race-game"},
		{"--json", "replay", "race-game", "--full"},
	} {
		primary := b.cli(t, args...)
		requireOK(t, primary)
		standby := b.cli(t, append(args, "--replica-url", rdb.StandbyURL)...)
		requireOK(t, standby)
		require.Equal(t, primary.stdout, standby.stdout, "%v", args)
	}

	r := b.cli(t, "--json", "stats", "--replica-url", rdb.StandbyURL)
	requireOK(t, r)
	st := decodeJSON[statsJSON](t, r.stdout)
	require.NotNil(t, st.Replication)
	require.NotEmpty(t, st.Replication.Standbys, "the primary streams to the standby")
	require.Len(t, st.Replication.Replicas, 1)
	rp := st.Replication.Replicas[0]
	// Healthy, unless the tests running beside this one put it too far
	// behind for a moment.
	require.True(t, rp.Healthy || strings.Contains(rp.Reason, "replay lag"), "%+v", rp)
	require.NotEqual(t, "0/0", rp.ReplayPosition)

	r = b.cli(t, "stats", "--replica-url", rdb.StandbyURL)
	requireOK(t, r)
	require.Contains(t, r.stdout, "STANDBY (pg_stat_replication)")
	require.Contains(t, r.stdout, "REPLICA (--replica-url)")

	// A standby that cannot be reached is reported, and the primary serves.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "postgres://nobody@127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + "/x?connect_timeout=2"
	require.NoError(t, l.Close())
	r = b.cli(t, "read", "race-game", "--count", "2", "--replica-url", closed)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "not used")
	require.Len(t, lines(r.stdout), 2)
}

// TestReplicaDemo runs a small demo whose recovery and broadcast read from
// the standby, on a primary and standby of its own (the demo waits for the
// standby to catch up before recovery, which the other tests' load on the
// shared standby could delay past its patience).
func TestReplicaDemo(t *testing.T) {
	t.Parallel()
	pair := devdb.StartPair(t)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--database-url", pair.PrimaryURL, "--json", "demo", "--games", "12", "--guilds", "2",
		"--workers", "4", "--progress=false", "--replica"},
		env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
			if k == "STANDBY_DATABASE_URL" {
				return pair.StandbyURL
			}
			return ""
		}})
	require.Equal(t, 0, code, stderr.String())
	var sum demoSummary
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum))
	require.Equal(t, 12, sum.Verified)
	require.Equal(t, sum.Events, sum.Broadcast)
	require.NotEmpty(t, sum.Replica)
	require.Positive(t, sum.RecoveryStandbyReads, "recovery read from the standby")
	require.Positive(t, sum.StandbyReads)
}

// TestReplicaBench runs the replica scenarios, small, against the test
// server's standby.
func TestReplicaBench(t *testing.T) {
	t.Parallel()
	standby := testdb.StandbyServerURL(t)
	r := runCLI(t, "--database-url", testdb.ServerURL(t), "--json", "bench", "--scale", "0.01", "--quiet",
		"--only", "read_stream_replica,feed_catchup_replica,read_your_writes_latency", "--replica-url", standby)
	requireOK(t, r)
	var rep bench.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.NotEmpty(t, rep.Standby)
	require.Empty(t, rep.Skipped)
	var names []string
	for _, s := range rep.Scenarios {
		names = append(names, s.Name)
		require.Positive(t, s.EventsPerSec, s.Name)
		require.Positive(t, s.Ratio, s.Name)
	}
	require.Equal(t, []string{"read_stream_replica", "feed_catchup_replica", "read_your_writes_latency"}, names)
	require.NotNil(t, rep.Scenarios[2].P99Ms)
}
