package main

import (
	"context"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// persistentSub runs a persistent subscription until it has handled n
// events, then stops it (releasing its lease).
func persistentSub(t *testing.T, b *bundle, ctx context.Context, opts store.SubscriptionOptions, n int64) {
	t.Helper()
	opts.PollInterval = 50 * time.Millisecond
	sub, err := b.store.Subscribe(ctx, opts, func(context.Context, store.Recorded) error { return nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sub.Handled() >= n }, 30*time.Second, 5*time.Millisecond)
	require.NoError(t, sub.Stop())
}

func TestSubscriptionsCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.numbered(t, "guild-2", "game-2", 2)
	b.waitFeed(t)
	g1 := store.WithGuild(t.Context(), "guild-1")
	persistentSub(t, b, g1, store.SubscriptionOptions{Name: "g1-projector"}, 3)
	persistentSub(t, b, g1, store.SubscriptionOptions{Name: "g1-watch", StreamID: "game-1"}, 3)
	persistentSub(t, b, t.Context(), store.SubscriptionOptions{Name: "all"}, 5)
	feed := jsonLines[eventJSON](t, b.cli(t, "feed", "--json").stdout)
	require.Len(t, feed, 5)

	t.Run("list", func(t *testing.T) {
		r := b.cli(t, "subscriptions", "list", "--json")
		requireOK(t, r)
		got := decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions
		require.Len(t, got, 3)
		require.Equal(t, "all", got[0].Name)
		require.Equal(t, "$all", got[0].Source)
		require.Equal(t, feed[4].Checkpoint, got[0].Checkpoint, "the checkpoint as feed prints it")
		require.Equal(t, int64(5), got[0].Handled)
		require.False(t, got[0].ConsumerActive)
		require.NotNil(t, got[0].EventsBehind)
		require.Equal(t, int64(0), *got[0].EventsBehind)
		require.Equal(t, "g1-watch", got[2].Name)
		require.Equal(t, "game-1", got[2].Source)
		require.Equal(t, "3", got[2].Checkpoint)
		require.Equal(t, "guild-1", got[2].GuildID)

		r = b.cli(t, "subscriptions", "list", "--guild", "guild-1", "--json")
		requireOK(t, r)
		require.Len(t, decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions, 2)
		r = b.cli(t, "subscriptions", "list", "--guild", "guild-2", "--json")
		requireOK(t, r)
		require.Empty(t, decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions)

		r = b.cli(t, "subscriptions", "list")
		requireOK(t, r)
		require.Regexp(t, `(?m)^NAME\s+MEMBER\s+SOURCE\s+CHECKPOINT\s+HANDLED\s+BEHIND\s+CONSUMER\s+GUILD$`, r.stdout)
		require.Regexp(t, `(?m)^g1-watch\s+0/1\s+game-1\s+3\s+3\s+0\s+none\s+guild-1$`, r.stdout)
		require.Contains(t, r.stdout, "3 subscription member(s)\n")
	})
	t.Run("show", func(t *testing.T) {
		r := b.cli(t, "subscriptions", "show", "g1-projector", "--guild", "guild-1", "--json")
		requireOK(t, r)
		got := decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions
		require.Len(t, got, 1)
		require.Equal(t, feed[2].Checkpoint, got[0].Checkpoint, "guild-1's feed ends at its third event")
		requireFail(t, b.cli(t, "subscriptions", "show", "g1-projector", "--guild", "guild-2"), "subscription not found")
		requireFail(t, b.cli(t, "subscriptions", "show", "nope"), `eventstore subscriptions: subscription info "nope": subscription not found`)
		requireFail(t, b.cli(t, "subscriptions", "show"), "wants exactly one subscription name")
	})
	t.Run("reset", func(t *testing.T) {
		r := b.cli(t, "subscriptions", "reset", "all", "--to", feed[1].Checkpoint, "--json")
		requireOK(t, r)
		got := decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions
		require.Equal(t, feed[1].Checkpoint, got[0].Checkpoint)
		require.Equal(t, int64(3), *got[0].EventsBehind)

		r = b.cli(t, "subscriptions", "reset", "all", "--to", "start")
		requireOK(t, r)
		require.Contains(t, r.stdout, "reset subscription all: its next consumer starts after 0/0\n")
		r = b.cli(t, "subscriptions", "reset", "all", "--to", "end", "--json")
		requireOK(t, r)
		require.Equal(t, feed[4].Checkpoint, decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions[0].Checkpoint)

		// To a time: just before the first event created at or after it
		// (game-2's first, written by the second transaction).
		r = b.cli(t, "subscriptions", "reset", "all", "--to", feed[3].CreatedAt.Format(time.RFC3339Nano), "--json")
		requireOK(t, r)
		got = decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions
		require.Equal(t, int64(2), *got[0].EventsBehind, "game-2's two events are ahead")

		r = b.cli(t, "subscriptions", "reset", "g1-watch", "--to", "1", "--guild", "guild-1", "--json")
		requireOK(t, r)
		require.Equal(t, "1", decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions[0].Checkpoint)

		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"subscriptions", "reset", "all"}, []string{"needs --to"}},
			{[]string{"subscriptions", "show", "all", "--to", "start"}, []string{"--to goes with subscriptions reset only"}},
			{[]string{"subscriptions", "reset", "all", "--to", "soon"}, []string{`--to "soon": want start, end, TRANSACTION_ID/POSITION or a time`}},
			{[]string{"subscriptions", "reset", "g1-watch", "--to", "2026-01-01"}, []string{`--to "2026-01-01": want start, end or a version`}},
			{[]string{"subscriptions", "reset", "all", "--to", "12/x"}, []string{"--to:", "want TRANSACTION_ID/POSITION"}},
			{[]string{"subscriptions", "reset", "all", "--to", "7"}, []string{"a feed subscription's checkpoint is TRANSACTION_ID/POSITION"}},
			{[]string{"subscriptions", "reset", "g1-watch", "--to", "1/2"}, []string{"a stream subscription's checkpoint is a version"}},
			{[]string{"subscriptions", "reset", "g1-watch", "--to", "-1"}, []string{"must not be negative"}},
			{[]string{"subscriptions", "reset", "nope", "--to", "start"}, []string{"subscription not found"}},
			{[]string{"subscriptions", "reset", "all", "--to", "start", "--guild", "guild-1"}, []string{"subscription not found"}},
		} {
			requireFail(t, b.cli(t, tc.args...), tc.want...)
		}
	})
	t.Run("reset refused while a consumer runs", func(t *testing.T) {
		sub, err := b.store.Subscribe(g1, store.SubscriptionOptions{Name: "g1-projector", PollInterval: 50 * time.Millisecond},
			func(context.Context, store.Recorded) error { return nil })
		require.NoError(t, err)
		require.Eventually(t, sub.Active, 30*time.Second, 5*time.Millisecond)
		r := b.cli(t, "subscriptions", "list", "--json", "--guild", "guild-1")
		requireOK(t, r)
		require.True(t, decodeJSON[subscriptionListJSON](t, r.stdout).Subscriptions[0].ConsumerActive)
		requireFail(t, b.cli(t, "subscriptions", "reset", "g1-projector", "--to", "start"),
			`reset subscription "g1-projector": subscription 'g1-projector' is in use`, "stop the consumer")
		require.NoError(t, sub.Stop())
		requireOK(t, b.cli(t, "subscriptions", "reset", "g1-projector", "--to", "start"))
	})
	t.Run("delete", func(t *testing.T) {
		requireFail(t, b.cli(t, "subscriptions", "delete", "g1-watch", "--guild", "guild-2"), "subscription not found")
		r := b.cli(t, "subscriptions", "delete", "g1-watch", "--guild", "guild-1", "--json")
		requireOK(t, r)
		require.Equal(t, subscriptionDeleteJSON{Name: "g1-watch", Deleted: true}, decodeJSON[subscriptionDeleteJSON](t, r.stdout))
		requireFail(t, b.cli(t, "subscriptions", "delete", "g1-watch"), `delete subscription "g1-watch": subscription not found`)
	})
	t.Run("usage", func(t *testing.T) {
		requireFail(t, b.cli(t, "subscriptions"), "want list, show, reset, delete or dead-letters")
		requireFail(t, b.cli(t, "subscriptions", "pause", "all"), `unknown subcommand "pause"`)
		requireFail(t, b.cli(t, "subscriptions", "list", "extra"), `unexpected argument "extra"`)
		requireFail(t, b.cli(t, "subscriptions", "show", "all", "--retry", "1"), "--retry and --drop go with subscriptions dead-letters only")
	})
}
