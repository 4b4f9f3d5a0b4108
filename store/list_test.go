package store_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

// listAll pages through ListStreams and returns every stream and the total
// reported by each page.
func listAll(t *testing.T, b *bundle, opts store.ListOptions) ([]store.StreamInfo, []int64) {
	t.Helper()
	var (
		all    []store.StreamInfo
		totals []int64
	)
	for {
		page, err := b.store.ListStreams(b.admin, opts)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Streams), max(opts.Limit, 1))
		all = append(all, page.Streams...)
		totals = append(totals, page.Total)
		if page.Next == "" {
			return all, totals
		}
		require.NotEmpty(t, page.Streams)
		opts.Cursor = page.Next
	}
}

func streamIDs(infos []store.StreamInfo) []string {
	out := make([]string, len(infos))
	for i, s := range infos {
		out[i] = s.StreamID
	}
	return out
}

func TestListStreamsPaginationStableUnderInserts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Sixty streams created in one transaction share created_at, so the
	// stream id has to break the tie; ninety more come one by one.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	for i := range 60 {
		require.NoError(t, b.store.CreateStream(store.WithTx(b.ctx, tx), fmt.Sprintf("tied-%03d", i)))
	}
	require.NoError(t, tx.Commit(b.ctx))
	for i := range 90 {
		_, err := b.store.Append(b.ctx, fmt.Sprintf("game-%03d", i), store.NoStream, rawEvent("test_event", i))
		require.NoError(t, err)
	}
	original, err := b.store.ListStreams(b.admin, store.ListOptions{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, original.Streams, 150)
	require.Equal(t, int64(150), original.Total)

	for _, newest := range []bool{false, true} {
		t.Run(fmt.Sprintf("newest=%v", newest), func(t *testing.T) {
			// Writers create streams while the listing pages through.
			var (
				stop    atomic.Bool
				wg      sync.WaitGroup
				created atomic.Int64
			)
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50 && !stop.Load(); i++ {
						if err := b.store.CreateStream(b.ctx, fmt.Sprintf("new-%v-%d-%04d", newest, w, i)); err != nil {
							t.Errorf("create: %v", err)
							return
						}
						created.Add(1)
					}
				}()
			}
			var (
				listed []store.StreamInfo
				opts   = store.ListOptions{Limit: 7, Newest: newest}
			)
			for {
				page, err := b.store.ListStreams(b.admin, opts)
				require.NoError(t, err)
				listed = append(listed, page.Streams...)
				if page.Next == "" {
					break
				}
				opts.Cursor = page.Next
				time.Sleep(time.Millisecond) // give the writers room between pages
			}
			stop.Store(true)
			wg.Wait()
			require.Positive(t, created.Load())

			// Every stream that existed before is listed exactly once, and the
			// order never goes back.
			seen := map[string]int{}
			for i, s := range listed {
				seen[s.StreamID]++
				if i > 0 {
					prev := listed[i-1]
					c := prev.CreatedAt.Compare(s.CreatedAt)
					if c == 0 {
						c = strings.Compare(prev.StreamID, s.StreamID)
					}
					if newest {
						c = -c
					}
					require.Negative(t, c, "%s listed after %s", s.StreamID, prev.StreamID)
				}
			}
			for id, n := range seen {
				require.Equal(t, 1, n, "%s listed %d times", id, n)
			}
			for _, s := range original.Streams {
				require.Contains(t, seen, s.StreamID)
			}
		})
	}
}

// listFixture is a stream of the filter test with its intended attributes.
type listFixture struct {
	id      string
	guild   string
	status  store.StreamStatus
	created time.Time
}

func TestListStreamsFiltersCombine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	var fixtures []listFixture
	statuses := []store.StreamStatus{store.StatusActive, store.StatusArchived, store.StatusDeleted}
	for i := range 36 {
		prefix := []string{"game-", "lobby-", "game-race-"}[i%3]
		fixtures = append(fixtures, listFixture{
			id:      fmt.Sprintf("%s%02d", prefix, i),
			guild:   []string{testGuild, "guild-2"}[(i/3)%2],
			status:  statuses[(i/6)%3],
			created: base.Add(time.Duration(i%12) * time.Hour), // equal times across prefixes
		})
	}
	for _, f := range fixtures {
		ctx := store.WithGuild(b.ctx, f.guild)
		_, err := b.store.Append(ctx, f.id, store.NoStream, rawEvent("test_event", 1))
		require.NoError(t, err)
		switch f.status {
		case store.StatusArchived:
			_, err = b.store.ArchiveStream(ctx, f.id, store.Exact(1))
		case store.StatusDeleted:
			if f.created.Hour()%2 == 0 { // some deleted streams were archived first
				_, err = b.store.ArchiveStream(ctx, f.id, store.Exact(1))
				require.NoError(t, err)
			}
			_, err = b.store.DeleteStream(ctx, f.id, store.Exact(1))
		}
		require.NoError(t, err)
		_, err = b.pool.Exec(b.ctx, `UPDATE eventstore.streams SET created_at = $2 WHERE stream_id = $1`, f.id, f.created)
		require.NoError(t, err)
	}

	tests := []struct {
		name string
		opts store.ListOptions
	}{
		{name: "everything"},
		{name: "guild", opts: store.ListOptions{GuildID: "guild-2"}},
		{name: "prefix", opts: store.ListOptions{Prefix: "game-"}},
		{name: "longer prefix", opts: store.ListOptions{Prefix: "game-race-"}},
		{name: "status active", opts: store.ListOptions{Status: store.StatusActive}},
		{name: "status archived", opts: store.ListOptions{Status: store.StatusArchived}},
		{name: "status deleted", opts: store.ListOptions{Status: store.StatusDeleted}},
		{name: "created range", opts: store.ListOptions{CreatedFrom: base.Add(2 * time.Hour), CreatedBefore: base.Add(7 * time.Hour)}},
		{name: "created from", opts: store.ListOptions{CreatedFrom: base.Add(10 * time.Hour)}},
		{name: "created before", opts: store.ListOptions{CreatedBefore: base.Add(time.Hour)}},
		{name: "guild and prefix", opts: store.ListOptions{GuildID: testGuild, Prefix: "lobby-"}},
		{name: "guild, prefix and status", opts: store.ListOptions{GuildID: testGuild, Prefix: "game-", Status: store.StatusArchived}},
		{name: "all filters", opts: store.ListOptions{
			GuildID: "guild-2", Prefix: "game", Status: store.StatusDeleted,
			CreatedFrom: base.Add(time.Hour), CreatedBefore: base.Add(11 * time.Hour),
		}},
		{name: "nothing matches", opts: store.ListOptions{GuildID: "guild-3"}},
		{name: "a prefix with LIKE wildcards is literal", opts: store.ListOptions{Prefix: "game_"}},
	}
	for _, tt := range tests {
		for _, newest := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s newest=%v", tt.name, newest), func(t *testing.T) {
				t.Parallel()
				var want []listFixture
				for _, f := range fixtures {
					o := tt.opts
					if (o.GuildID == "" || f.guild == o.GuildID) && strings.HasPrefix(f.id, o.Prefix) &&
						(o.Status == "" || f.status == o.Status) &&
						(o.CreatedFrom.IsZero() || !f.created.Before(o.CreatedFrom)) &&
						(o.CreatedBefore.IsZero() || f.created.Before(o.CreatedBefore)) {
						want = append(want, f)
					}
				}
				slices.SortFunc(want, func(a, b listFixture) int {
					if c := a.created.Compare(b.created); c != 0 {
						return c
					}
					return strings.Compare(a.id, b.id)
				})
				if newest {
					slices.Reverse(want)
				}
				wantIDs := make([]string, len(want))
				for i, f := range want {
					wantIDs[i] = f.id
				}

				opts := tt.opts
				opts.Newest, opts.Limit = newest, 4
				got, totals := listAll(t, b, opts)
				require.Equal(t, wantIDs, streamIDs(got))
				for _, total := range totals {
					require.Equal(t, int64(len(want)), total, "every page reports the same total")
				}
				for i, s := range got {
					require.Equal(t, want[i].status, s.Status(), s.StreamID)
					require.Equal(t, want[i].guild, s.GuildID, s.StreamID)
					require.True(t, want[i].created.Equal(s.CreatedAt), s.StreamID)
				}
			})
		}
	}
}

func TestListStreamsRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	tests := []struct {
		name    string
		opts    store.ListOptions
		wantErr error
	}{
		{name: "unknown status", opts: store.ListOptions{Status: "paused"}, wantErr: store.ErrInvalidArgument},
		{name: "limit too large", opts: store.ListOptions{Limit: store.DefaultMaxReadBatch + 1}, wantErr: store.ErrInvalidBatchSize},
		{name: "negative limit", opts: store.ListOptions{Limit: -1}, wantErr: store.ErrInvalidBatchSize},
		{name: "empty range", opts: store.ListOptions{CreatedFrom: now, CreatedBefore: now}, wantErr: store.ErrInvalidArgument},
		{name: "cursor not base64", opts: store.ListOptions{Cursor: "!!"}, wantErr: store.ErrInvalidArgument},
		{name: "cursor without a stream", opts: store.ListOptions{Cursor: "MTIz"}, wantErr: store.ErrInvalidArgument},
		{name: "invalid guild", opts: store.ListOptions{GuildID: strings.Repeat("g", 101)}, wantErr: store.ErrInvalidGuildID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.store.ListStreams(b.admin, tt.opts)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}

	// The default page size applies when Limit is zero.
	for i := range store.DefaultListLimit + 1 {
		require.NoError(t, b.store.CreateStream(b.ctx, fmt.Sprintf("s-%03d", i)))
	}
	page, err := b.store.ListStreams(b.admin, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Streams, store.DefaultListLimit)
	require.NotEmpty(t, page.Next)
	require.Equal(t, int64(store.DefaultListLimit+1), page.Total)
	last, err := b.store.ListStreams(b.admin, store.ListOptions{Cursor: page.Next})
	require.NoError(t, err)
	require.Equal(t, []string{fmt.Sprintf("s-%03d", store.DefaultListLimit)}, streamIDs(last.Streams))
	require.Empty(t, last.Next)
}
