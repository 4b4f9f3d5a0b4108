package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func streamIDs(page streamPageJSON) []string {
	ids := make([]string, len(page.Streams))
	for i, s := range page.Streams {
		ids[i] = s.StreamID
	}
	return ids
}

func TestStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// game-00..game-11: even ones in guild-a, odd ones in guild-b; version = i+1.
	for i := range 12 {
		b.numbered(t, fmt.Sprintf("guild-%c", 'a'+i%2), fmt.Sprintf("game-%02d", i), i+1)
	}
	b.numbered(t, "guild-a", "lobby-1", 1)
	_, err := b.store.DeleteStream(t.Context(), "game-03", store.Any)
	require.NoError(t, err)

	tests := []struct {
		name  string
		args  []string
		want  []string
		total int64
		next  string // the last stream of the page when another page follows
	}{
		{"all", nil, []string{"game-00", "game-01", "game-02", "game-03", "game-04", "game-05", "game-06", "game-07",
			"game-08", "game-09", "game-10", "game-11", "lobby-1"}, 13, ""},
		{"first page", []string{"--limit", "5"}, []string{"game-00", "game-01", "game-02", "game-03", "game-04"}, 13, "game-04"},
		{"newest first", []string{"--limit", "3", "--newest"}, []string{"lobby-1", "game-11", "game-10"}, 13, "game-10"},
		{"guild", []string{"--guild", "guild-b"}, []string{"game-01", "game-03", "game-05", "game-07", "game-09", "game-11"}, 6, ""},
		{"prefix", []string{"--prefix", "lobby-"}, []string{"lobby-1"}, 1, ""},
		{"prefix with LIKE characters", []string{"--prefix", "game_"}, []string{}, 0, ""},
		{"deleted", []string{"--status", "deleted"}, []string{"game-03"}, 1, ""},
		{"active in guild", []string{"--status", "active", "--guild", "guild-b", "--limit", "2"}, []string{"game-01", "game-05"}, 5, "game-05"},
		{"one page exactly", []string{"--prefix", "lobby", "--limit", "1"}, []string{"lobby-1"}, 1, ""},
		{"created after now", []string{"--created-after", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, []string{}, 0, ""},
		{"created before tomorrow", []string{"--created-before", time.Now().AddDate(0, 0, 2).UTC().Format("2006-01-02"), "--prefix", "lobby"}, []string{"lobby-1"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.cli(t, append([]string{"streams", "--json"}, tt.args...)...)
			requireOK(t, r)
			page := decodeJSON[streamPageJSON](t, r.stdout)
			require.Equal(t, tt.want, streamIDs(page))
			require.Equal(t, tt.total, page.Total)
			if tt.next == "" {
				require.Empty(t, page.Next)
				return
			}
			require.NotEmpty(t, page.Next)
			// The cursor continues right after the page's last stream.
			r = b.cli(t, append([]string{"streams", "--json", "--cursor", page.Next}, tt.args...)...)
			requireOK(t, r)
			more := decodeJSON[streamPageJSON](t, r.stdout)
			require.NotEmpty(t, more.Streams)
			require.NotContains(t, streamIDs(more), tt.next)
			require.Equal(t, tt.total, more.Total)
		})
	}

	t.Run("row fields", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "streams", "--json", "--prefix", "game-0", "--limit", "4")
		requireOK(t, r)
		page := decodeJSON[streamPageJSON](t, r.stdout)
		require.Len(t, page.Streams, 4)
		for i, s := range page.Streams {
			info, err := b.store.StreamInfo(t.Context(), s.StreamID)
			require.NoError(t, err)
			require.Equal(t, info.GuildID, s.GuildID)
			require.Equal(t, int64(i+1), s.Version)
			require.Equal(t, string(info.Status()), s.Status)
			require.True(t, info.CreatedAt.Equal(s.CreatedAt))
			require.NotNil(t, s.LastEventAt)
			require.Equal(t, "test_event", s.LastEventType)
			last, err := b.store.ReadBackward(t.Context(), s.StreamID, store.End, 1)
			if s.Status == "deleted" {
				require.ErrorIs(t, err, store.ErrStreamDeleted)
				continue
			}
			require.NoError(t, err)
			require.True(t, last[0].CreatedAt.Equal(*s.LastEventAt))
		}
		require.Equal(t, "deleted", page.Streams[3].Status)
	})
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		r := b.cli(t, "streams", "--guild", "guild-a", "--limit", "2")
		requireOK(t, r)
		out := lines(r.stdout)
		require.Len(t, out, 4)
		require.Regexp(t, `^STREAM\s+GUILD\s+VERSION\s+STATUS\s+CREATED\s+LAST EVENT$`, out[0])
		require.Regexp(t, `^game-00\s+guild-a\s+1\s+active\s+\S+Z\s+\S+Z  test_event$`, out[1])
		require.Regexp(t, `^game-02\s+guild-a\s+3\s+active\s+`, out[2])
		require.Regexp(t, `^2 of 7 stream\(s\); next page: --cursor \S+$`, out[3])
	})
	t.Run("pages cover every stream once", func(t *testing.T) {
		t.Parallel()
		var seen []string
		cursor := ""
		for {
			r := b.cli(t, "streams", "--json", "--limit", "4", "--cursor", cursor)
			requireOK(t, r)
			page := decodeJSON[streamPageJSON](t, r.stdout)
			seen = append(seen, streamIDs(page)...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		require.Len(t, seen, 13)
		require.IsIncreasing(t, seen)
	})
}

func TestStreamsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	requireFail(t, b.cli(t, "streams", "--cursor", "not-a-cursor"), "eventstore streams: list streams:", "cursor")
	requireFail(t, b.cli(t, "streams", "--created-after", "2026-02-01", "--created-before", "2026-01-01"),
		"eventstore streams: list streams:", "is empty")
	requireFail(t, b.cli(t, "streams", "--guild", "bad\x01guild"), "invalid guild id")
}

func TestStreamsEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.cli(t, "streams", "--json")
	requireOK(t, r)
	page := decodeJSON[streamPageJSON](t, r.stdout)
	require.NotNil(t, page.Streams)
	require.Empty(t, page.Streams)
	require.Zero(t, page.Total)

	r = b.cli(t, "streams")
	requireOK(t, r)
	require.Contains(t, r.stdout, "0 of 0 stream(s)\n")
}
