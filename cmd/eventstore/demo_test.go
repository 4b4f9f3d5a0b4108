package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/stretchr/testify/require"
)

// TestDemo runs a small demo in-process and checks its summary: every game
// recovered and verified, and the racing commands produced conflicts that
// were resolved.
func TestDemo(t *testing.T) {
	t.Parallel()
	db := testdb.NewDB(t)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--database-url", db.URL, "--json", "demo", "--games", "24", "--guilds", "3",
		"--workers", "4", "--race-rate", "0.2", "--in-progress", "0.25", "--progress=false"},
		env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	require.Equal(t, 0, code, stderr.String())
	var sum demoSummary
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum))
	require.Equal(t, 24, sum.Games)
	require.Equal(t, 24, sum.Recovered)
	require.Equal(t, 24, sum.Verified)
	require.Equal(t, map[string]int{"two_player": 8, "knockout": 8, "race": 8}, sum.Modes)
	require.Positive(t, sum.ConflictsRetried)
	require.Positive(t, sum.InProgress)
	var stored int64
	require.NoError(t, db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.events`).Scan(&stored))
	require.Equal(t, sum.Events, stored, "every event the demo counted is stored exactly once")
	require.Equal(t, sum.Events, sum.Broadcast, "every stored event was broadcast")
	require.Equal(t, int64(24-sum.InProgress), sum.Announced)
}

func TestDemoBadArguments(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"demo", "--games", "0"}, env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "--games")
}
