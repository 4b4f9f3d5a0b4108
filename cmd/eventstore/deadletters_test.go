package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestDeadLettersCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.waitFeed(t)
	g1 := store.WithGuild(t.Context(), "guild-1")

	// A projector whose handler fails on event 2 until it is fixed.
	var (
		broken atomic.Bool
		mu     sync.Mutex
		seen   []int
	)
	broken.Store(true)
	sub, err := b.store.Subscribe(g1, store.SubscriptionOptions{
		Name: "g1-projector", Retry: store.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}, PollInterval: 50 * time.Millisecond,
		DeadLetterFunc: store.ContinueAfterDeadLetter,
	}, func(_ context.Context, ev store.Recorded) error {
		var v struct{ N int }
		_ = json.Unmarshal(ev.Data, &v)
		if v.N == 2 && broken.Load() {
			return errors.New("score table is missing")
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, v.N)
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Stop() })
	handled := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), seen...)
	}
	require.Eventually(t, func() bool { return len(handled()) == 2 }, 30*time.Second, 5*time.Millisecond)

	list := func(args ...string) []deadLetterJSON {
		t.Helper()
		r := b.cli(t, append([]string{"subscriptions", "dead-letters", "g1-projector", "--json"}, args...)...)
		requireOK(t, r)
		return decodeJSON[deadLetterListJSON](t, r.stdout).DeadLetters
	}
	dls := list()
	require.Len(t, dls, 1)
	d := dls[0]
	require.Equal(t, "game-1", d.StreamID)
	require.Equal(t, int64(2), d.Version)
	require.Equal(t, "guild-1", d.GuildID)
	require.Equal(t, 2, d.Attempts)
	require.Contains(t, d.Error, "score table is missing")
	feed := jsonLines[eventJSON](t, b.cli(t, "feed", "--json").stdout)
	require.Equal(t, feed[1].Checkpoint, d.Checkpoint, "the checkpoint as feed prints it")
	require.Equal(t, feed[1].ID, d.EventID)
	require.Len(t, list("--guild", "guild-1"), 1)

	r := b.cli(t, "subscriptions", "dead-letters", "g1-projector")
	requireOK(t, r)
	require.Regexp(t, `(?m)^ID\s+MEMBER\s+EVENT\s+CHECKPOINT\s+TYPE\s+ATTEMPTS\s+LAST FAILED\s+RETRY\s+ERROR$`, r.stdout)
	require.Regexp(t, `(?m)^`+strconv.FormatInt(d.ID, 10)+`\s+0\s+game-1@2\s+\S+\s+test_event\s+2\s+\S+Z\s+-\s+score table is missing$`, r.stdout)
	require.Contains(t, r.stdout, "1 dead letter(s)\n")

	id := strconv.FormatInt(d.ID, 10)
	t.Run("bad input", func(t *testing.T) {
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "nope"), `dead letters of subscription "nope": subscription not found`)
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--guild", "guild-2"), "subscription not found")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", id, "--guild", "guild-2"), "subscription not found")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", "999999"),
			"retry dead letter 999999: dead letter not found (subscription g1-projector has no dead letter 999999)")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--drop", "999999"), "dead letter not found")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", id, "--drop", id), "exclude each other")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", "-3"), "a dead letter id is a positive number")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", "x"), "-retry")
		requireFail(t, b.cli(t, "subscriptions", "dead-letters"), "wants exactly one subscription name")
	})
	t.Run("application role sees its guild only", func(t *testing.T) {
		url := appRoleURL(t, b)
		r := runWith(t.Context(), runOpts{}, "--database-url", url, "subscriptions", "dead-letters", "g1-projector", "--guild", "guild-1", "--json")
		requireOK(t, r)
		require.Len(t, decodeJSON[deadLetterListJSON](t, r.stdout).DeadLetters, 1)
		r = runWith(t.Context(), runOpts{}, "--database-url", url, "subscriptions", "dead-letters", "g1-projector", "--guild", "guild-2")
		requireFail(t, r, "subscription not found")
		// In psql, row-level security shows a guild its own rows only.
		conn, err := pgx.Connect(t.Context(), url)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		count := func(guild string) (n int) {
			tx, err := conn.Begin(t.Context())
			require.NoError(t, err)
			defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
			_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, guild)
			require.NoError(t, err)
			require.NoError(t, tx.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.dead_letters`).Scan(&n))
			return n
		}
		require.Equal(t, 1, count("guild-1"))
		require.Equal(t, 0, count("guild-2"))
		_, err = conn.Exec(t.Context(), `DELETE FROM eventstore.dead_letters`)
		require.Error(t, err, "the application role only reads the table")
	})
	t.Run("retry redelivers to the running subscription", func(t *testing.T) {
		// Still broken: the retry fails and is recorded.
		r := b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", id, "--json")
		requireOK(t, r)
		got := decodeJSON[deadLetterActionJSON](t, r.stdout)
		require.Equal(t, "retry", got.Action)
		require.NotNil(t, got.DeadLetter.RetryRequestedAt)
		require.Eventually(t, func() bool {
			dls := list()
			return len(dls) == 1 && dls[0].Failures == 2 && dls[0].RetryRequestedAt == nil
		}, 30*time.Second, 10*time.Millisecond)
		// Fixed: the retry hands event 2 to the handler and the dead letter goes.
		broken.Store(false)
		r = b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--retry", id, "--guild", "guild-1")
		requireOK(t, r)
		require.Contains(t, r.stdout, "will be redelivered by the running consumer of g1-projector")
		require.Eventually(t, func() bool { return len(list()) == 0 }, 30*time.Second, 10*time.Millisecond)
		require.Equal(t, []int{1, 3, 2}, handled())
	})
	t.Run("drop", func(t *testing.T) {
		broken.Store(true)
		b.appendEvents(t, "guild-1", "game-1", fixtureEvent{"test_event", `{"n": 2}`})
		var dls []deadLetterJSON
		require.Eventually(t, func() bool { dls = list(); return len(dls) == 1 }, 30*time.Second, 10*time.Millisecond)
		r := b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--drop", strconv.FormatInt(dls[0].ID, 10))
		requireOK(t, r)
		require.Equal(t, "dropped dead letter "+strconv.FormatInt(dls[0].ID, 10)+" (game-1@4); the event stays in the store\n", r.stdout)
		require.Empty(t, list())
		requireFail(t, b.cli(t, "subscriptions", "dead-letters", "g1-projector", "--drop", strconv.FormatInt(dls[0].ID, 10)), "dead letter not found")
	})
}
