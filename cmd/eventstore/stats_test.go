package main

import (
	"context"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fixture(t, b)
	b.waitFeed(t)

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "stats", "--json")
		requireOK(t, r)
		st := decodeJSON[statsJSON](t, r.stdout)
		require.Equal(t, statsTotals{Guilds: 3, Streams: 6, ActiveStreams: 5, DeletedStreams: 1, Events: 9}, st.Totals)

		var guilds []string
		for _, g := range st.Guilds {
			guilds = append(guilds, g.GuildID)
		}
		require.Equal(t, []string{"guild-a", "guild-b", "guild-c"}, guilds)
		require.Equal(t, int64(6), st.Guilds[0].Events)
		require.Equal(t, int64(1), st.Guilds[1].DeletedStreams)

		types := map[string]int64{}
		for _, ty := range st.Types {
			types[ty.Type] = ty.Events
			require.Positive(t, ty.AvgDataBytes)
		}
		require.Equal(t, map[string]int64{"game_started": 4, "round_started": 2, "guess_processed": 1, "game_completed": 1, "note": 1}, types)

		require.Equal(t, []modeStat{
			{Mode: "race", GamesStarted: 1, GamesCompleted: 1, Events: 4},
			{Mode: "knockout", GamesStarted: 1, Events: 2},
			{Mode: "two_player", GamesStarted: 2, Events: 2},
		}, st.Modes)

		tables := map[string]tableSize{}
		for _, tb := range st.Tables {
			tables[tb.Table] = tb
		}
		require.Positive(t, tables["events"].TotalBytes)
		require.Positive(t, tables["streams"].IndexBytes)

		require.Zero(t, st.Feed.HeldEvents)
		require.NotNil(t, st.Feed.NewestPosition)
		require.Equal(t, int64(9), *st.Feed.NewestPosition)
		require.NotNil(t, st.Feed.FeedCheckpoint)
		require.Positive(t, st.Feed.Horizon)
	})
	t.Run("top", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "stats", "--json", "--top", "1")
		requireOK(t, r)
		st := decodeJSON[statsJSON](t, r.stdout)
		require.Len(t, st.Guilds, 1)
		require.Equal(t, "guild-a", st.Guilds[0].GuildID)
		require.Equal(t, int64(3), st.Totals.Guilds, "totals still count every guild")
	})
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "stats", "--top", "2")
		requireOK(t, r)
		require.Contains(t, r.stdout, "guilds 3, streams 6 (active 5, archived 0, deleted 1), events 9\n")
		require.Regexp(t, `(?m)^GUILD \(top 2 of 3\)\s+STREAMS\s+ACTIVE\s+ARCHIVED\s+DELETED\s+EVENTS\s+LAST ACTIVITY$`, r.stdout)
		require.Regexp(t, `(?m)^guild-a\s+2\s+2\s+0\s+0\s+6\s+\S+Z$`, r.stdout)
		require.NotContains(t, r.stdout, "guild-c")
		require.Regexp(t, `(?m)^game_started\s+v1\s+4\s+\d+ B\s+\S+Z$`, r.stdout)
		require.Regexp(t, `(?m)^race\s+1\s+1\s+4$`, r.stdout)
		require.Regexp(t, `(?m)^events\s+(\d+|-)\s+\d+\.\d KiB`, r.stdout)
		require.Regexp(t, `(?m)^feed lag\s+0 committed event\(s\) held back, for 0\.0s$`, r.stdout)
	})
}

func TestStatsEmptyStore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.cli(t, "stats", "--json")
	requireOK(t, r)
	st := decodeJSON[statsJSON](t, r.stdout)
	require.Zero(t, st.Totals)
	require.Empty(t, st.Guilds)
	require.Empty(t, st.Types)
	require.Nil(t, st.Feed.NewestPosition)

	r = b.cli(t, "stats")
	requireOK(t, r)
	require.Contains(t, r.stdout, "guilds 0, streams 0 (active 0, archived 0, deleted 0), events 0\n")
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {2 << 40, "2.0 TiB"}, {2 << 50, "2048.0 TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, formatBytes(tt.n))
		})
	}
}

// TestStatsConsumerGroups: `stats` shows each consumer group with its
// partitions, live members and who holds what, in text, JSON and the
// Prometheus format.
func TestStatsConsumerGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := store.WithGuild(t.Context(), "guild-a")
	m, err := b.store.SubscribeGroup(ctx, store.GroupOptions{
		SubscriptionOptions: store.SubscriptionOptions{Name: "scores", PollInterval: 50 * time.Millisecond},
		Partitions:          4,
	}, func(context.Context, store.Recorded) error { return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Stop() })
	require.Eventually(t, func() bool { return len(m.Partitions()) == 4 }, time.Minute, 10*time.Millisecond)

	r := b.cli(t, "stats", "--json")
	requireOK(t, r)
	st := decodeJSON[statsJSON](t, r.stdout)
	require.Len(t, st.ConsumerGroups, 1)
	g := st.ConsumerGroups[0]
	require.Equal(t, "scores", g.Name)
	require.Equal(t, "guild-a", g.GuildID)
	require.Equal(t, 4, g.Partitions)
	require.Equal(t, 1, g.LiveMembers)
	require.Equal(t, 4, g.HeldPartitions)
	require.Len(t, g.Members, 1)
	require.Equal(t, m.ID(), g.Members[0].ID)
	require.Equal(t, []int{0, 1, 2, 3}, g.Members[0].Partitions)

	r = b.cli(t, "stats")
	requireOK(t, r)
	require.Regexp(t, `(?m)^CONSUMER GROUP\s+GUILD\s+PARTITIONS\s+LIVE MEMBERS\s+HELD\s+UNHELD\s+HANDLED$`, r.stdout)
	require.Regexp(t, `(?m)^scores\s+guild-a\s+4\s+1\s+4\s+0\s+0$`, r.stdout)
	require.Contains(t, r.stdout, "  member "+m.ID()+": partitions 0,1,2,3")

	r = b.cli(t, "stats", "--format", "prometheus")
	requireOK(t, r)
	require.Contains(t, r.stdout, `eventstore_consumer_group_live_members{eventstore_consumer_group="scores"} 1`)
	require.Contains(t, r.stdout, `eventstore_consumer_group_held_partitions{eventstore_consumer_group="scores"} 4`)
	require.Contains(t, r.stdout, `eventstore_consumer_group_partitions{eventstore_consumer_group="scores"} 4`)
}
