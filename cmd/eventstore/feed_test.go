package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.numbered(t, "guild-2", "game-2", 2)
	b.numbered(t, "guild-1", "game-1", 1) // game-1 version 4
	b.waitFeed(t)

	r := b.cli(t, "feed", "--json")
	requireOK(t, r)
	all := jsonLines[eventJSON](t, r.stdout)
	var got []string
	for _, e := range all {
		got = append(got, fmt.Sprintf("%s@%d", e.StreamID, e.Version))
	}
	require.Equal(t, []string{"game-1@1", "game-1@2", "game-1@3", "game-2@1", "game-2@2", "game-1@4"}, got)

	t.Run("from a checkpoint", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "feed", "--json", "--from", all[2].Checkpoint, "--count", "2")
		requireOK(t, r)
		page := jsonLines[eventJSON](t, r.stdout)
		require.Equal(t, []eventJSON{all[3], all[4]}, page)
	})
	t.Run("from the last checkpoint", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "feed", "--from", all[5].Checkpoint)
		requireOK(t, r)
		require.Empty(t, r.stdout)
	})
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "feed", "--count", "1")
		requireOK(t, r)
		out := lines(r.stdout)
		require.Len(t, out, 1)
		require.Regexp(t, `^`+all[0].Checkpoint+`\s+game-1@1  \S+Z  test_event v1  \{"n":1\}$`, out[0])
	})
}

func TestFeedPagesPastTheBatchLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "long", 1500)
	b.waitFeed(t)

	r := b.cli(t, "feed", "--json", "--count", "1200")
	requireOK(t, r)
	versions, _ := versionsAndN(t, r.stdout)
	require.Equal(t, seq(1, 1200), versions)
}

// syncBuffer is an io.Writer safe to read while the CLI writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFeedFollow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 2)
	b.waitFeed(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		// A long poll interval: new events must arrive through the store's
		// notification, well before the poll would find them.
		done <- run(ctx, []string{"--database-url", b.url, "--json", "feed", "--follow", "--poll", "1m"}, env{
			Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(string) string { return "" },
		})
	}()
	// Another test's transaction may hold the cluster's feed horizon for a
	// while; a woken reader keeps looking (backing off) until it passes,
	// still well before the one-minute poll.
	waitLines := func(n int) []eventJSON {
		t.Helper()
		ok := assert.Eventually(t, func() bool { return len(lines(stdout.String())) >= n }, 50*time.Second, 10*time.Millisecond)
		if !ok {
			// What held it: the cluster's feed horizon, or the wake-up?
			var status string
			_ = b.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(h::text, '; '), 'none') FROM eventstore.feed_horizon_status() h`).Scan(&status)
			t.Fatalf("want %d events, have: %s (stderr %s); feed horizon: %s", n, stdout.String(), stderr.String(), status)
		}
		return jsonLines[eventJSON](t, stdout.String())
	}
	require.Len(t, waitLines(2), 2)

	b.numbered(t, "guild-2", "game-2", 3)
	got := waitLines(5)
	require.Len(t, got, 5)
	require.Equal(t, "game-2", got[4].StreamID)
	require.Equal(t, int64(3), got[4].Version)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, "an interrupted --follow ends normally; stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("feed --follow did not stop when its context was cancelled")
	}
	require.Empty(t, stderr.String())
}

func TestFeedFollowPolls(t *testing.T) {
	t.Parallel()
	b := setup(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout syncBuffer
	done := make(chan result, 1)
	go func() {
		var stderr strings.Builder
		code := run(ctx, []string{"--database-url", b.url, "--json", "feed", "--follow", "--count", "2", "--poll", "50ms"}, env{
			Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(string) string { return "" },
		})
		done <- result{code: code, stderr: stderr.String()}
	}()
	// Written in SQL directly, so no notification is sent: polling finds them.
	_, err := b.pool.Exec(t.Context(), `SELECT eventstore.append_events('quiet', 'guild-1', -1,
		ARRAY[gen_random_uuid(), gen_random_uuid(), gen_random_uuid()], ARRAY['a', 'b', 'c'], ARRAY[1, 1, 1],
		ARRAY['{}'::jsonb, '{}'::jsonb, '{}'::jsonb])`)
	require.NoError(t, err)

	select {
	case r := <-done:
		require.Equal(t, 0, r.code, r.stderr)
	case <-time.After(20 * time.Second):
		t.Fatal("feed --follow --count 2 did not stop after two events")
	}
	got := jsonLines[eventJSON](t, stdout.String())
	require.Len(t, got, 2, "--count stops a follow")
	require.Equal(t, "a", got[0].Type)
	require.Equal(t, "b", got[1].Type)
}
