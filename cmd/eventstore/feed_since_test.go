package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFeedSince(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 2)
	var mid time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT clock_timestamp()`).Scan(&mid))
	b.numbered(t, "guild-2", "game-2", 2)
	b.waitFeed(t)
	all := jsonLines[eventJSON](t, b.cli(t, "feed", "--json").stdout)
	require.Len(t, all, 4)

	r := b.cli(t, "feed", "--json", "--since", mid.Format(time.RFC3339Nano))
	requireOK(t, r)
	require.Equal(t, all[2:], jsonLines[eventJSON](t, r.stdout))

	r = b.cli(t, "feed", "--json", "--since", "2000-01-01")
	requireOK(t, r)
	require.Equal(t, all, jsonLines[eventJSON](t, r.stdout))

	r = b.cli(t, "feed", "--since", mid.Add(time.Hour).Format(time.RFC3339))
	requireOK(t, r)
	require.Empty(t, r.stdout, "nothing created since")

	r = b.cli(t, "feed", "--json", "--since", mid.Format(time.RFC3339Nano), "--count", "1")
	requireOK(t, r)
	require.Equal(t, all[2:3], jsonLines[eventJSON](t, r.stdout))

	requireFail(t, b.cli(t, "feed", "--since", "yesterday"), `--since: "yesterday" is not a time`, "see eventstore feed --help")
	requireFail(t, b.cli(t, "feed", "--since", "2026-01-01", "--from", all[1].Checkpoint), "--from and --since exclude each other")
}
