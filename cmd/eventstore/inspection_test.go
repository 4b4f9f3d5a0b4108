package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

// fixture appends a small, known set of GameBot-like streams:
//
//	guild-a  game-1  race       game_started, round_started, guess_processed, game_completed
//	guild-a  game-2  knockout   game_started, round_started
//	guild-b  game-3  two_player game_started
//	guild-b  game-4  two_player game_started, then soft-deleted
//	guild-b  notes   -          note v2 (no mode)
//	guild-c  lobby   -          created empty
func fixture(t *testing.T, b *bundle) {
	t.Helper()
	ev := func(typ, mode string) fixtureEvent {
		return fixtureEvent{typ: typ, data: fmt.Sprintf(`{"mode": %q}`, mode)}
	}
	b.appendEvents(t, "guild-a", "game-1", ev("game_started", "race"), ev("round_started", "race"),
		ev("guess_processed", "race"), ev("game_completed", "race"))
	b.appendEvents(t, "guild-a", "game-2", ev("game_started", "knockout"), ev("round_started", "knockout"))
	b.appendEvents(t, "guild-b", "game-3", ev("game_started", "two_player"))
	b.appendEvents(t, "guild-b", "game-4", ev("game_started", "two_player"))
	_, err := b.store.DeleteStream(t.Context(), "game-4", store.Exact(1))
	require.NoError(t, err)
	_, err = b.store.Append(store.WithGuild(t.Context(), "guild-b"), "notes", store.NoStream,
		store.Event{Data: serde.Raw{Type: "note", Version: 2, Data: json.RawMessage(`{"text": "hi"}`)}})
	require.NoError(t, err)
	require.NoError(t, b.store.CreateStream(store.WithGuild(t.Context(), "guild-c"), "lobby"))
}

// queryRows runs sql and returns every row as a slice of values.
func queryRows(t *testing.T, b *bundle, sql string, args ...any) [][]any {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	require.NoError(t, err)
	return out
}

func TestInspectionViews(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fixture(t, b)

	t.Run("recent_events", func(t *testing.T) {
		t.Parallel()
		got := queryRows(t, b, `SELECT stream_id, version, type, type_version, guild_id, data::text
		                          FROM eventstore.recent_events LIMIT 3`)
		require.Equal(t, [][]any{
			{"notes", int64(1), "note", int32(2), "guild-b", `{"text": "hi"}`},
			{"game-4", int64(1), "game_started", int32(1), "guild-b", `{"mode": "two_player"}`},
			{"game-3", int64(1), "game_started", int32(1), "guild-b", `{"mode": "two_player"}`},
		}, got)

		got = queryRows(t, b, `SELECT version, type FROM eventstore.recent_events WHERE stream_id = 'game-1' LIMIT 2`)
		require.Equal(t, [][]any{{int64(4), "game_completed"}, {int64(3), "guess_processed"}}, got)

		var positions []int64
		for _, r := range queryRows(t, b, `SELECT global_position FROM eventstore.recent_events`) {
			positions = append(positions, r[0].(int64))
		}
		require.Len(t, positions, 9)
		require.IsDecreasing(t, positions)
	})
	t.Run("stream_summary", func(t *testing.T) {
		t.Parallel()
		got := queryRows(t, b, `SELECT stream_id, guild_id, version, status, last_event_type,
		                               first_event_at IS NOT NULL, last_event_at >= first_event_at
		                          FROM eventstore.stream_summary ORDER BY stream_id`)
		require.Equal(t, [][]any{
			{"game-1", "guild-a", int64(4), "active", "game_completed", true, true},
			{"game-2", "guild-a", int64(2), "active", "round_started", true, true},
			{"game-3", "guild-b", int64(1), "active", "game_started", true, true},
			{"game-4", "guild-b", int64(1), "deleted", "game_started", true, true},
			{"lobby", "guild-c", int64(0), "active", nil, false, nil},
			{"notes", "guild-b", int64(1), "active", "note", true, true},
		}, got)

		// First and last event times are the stored events' times.
		recs, err := b.store.ReadForward(t.Context(), "game-1", 1, 10)
		require.NoError(t, err)
		var first, last time.Time
		require.NoError(t, b.pool.QueryRow(t.Context(),
			`SELECT first_event_at, last_event_at FROM eventstore.stream_summary WHERE stream_id = 'game-1'`).Scan(&first, &last))
		require.True(t, recs[0].CreatedAt.Equal(first))
		require.True(t, recs[3].CreatedAt.Equal(last))
	})
	t.Run("guild_stats", func(t *testing.T) {
		t.Parallel()
		got := queryRows(t, b, `SELECT guild_id, streams, active_streams, archived_streams, deleted_streams, events
		                          FROM eventstore.guild_stats`)
		require.Equal(t, [][]any{
			{"guild-a", int64(2), int64(2), int64(0), int64(0), int64(6)},
			{"guild-b", int64(3), int64(2), int64(0), int64(1), int64(3)},
			{"guild-c", int64(1), int64(1), int64(0), int64(0), int64(0)},
		}, got)
	})
	t.Run("type_stats", func(t *testing.T) {
		t.Parallel()
		got := queryRows(t, b, `SELECT type, type_version, events, avg_data_bytes > 0 FROM eventstore.type_stats`)
		require.Equal(t, [][]any{
			{"game_started", int32(1), int64(4), true},
			{"round_started", int32(1), int64(2), true},
			{"game_completed", int32(1), int64(1), true},
			{"guess_processed", int32(1), int64(1), true},
			{"note", int32(2), int64(1), true},
		}, got)
	})
	t.Run("mode_stats", func(t *testing.T) {
		t.Parallel()
		got := queryRows(t, b, `SELECT mode, games_started, games_completed, events FROM eventstore.mode_stats`)
		require.Equal(t, [][]any{
			{"race", int64(1), int64(1), int64(4)},
			{"knockout", int64(1), int64(0), int64(2)},
			{"two_player", int64(2), int64(0), int64(2)},
		}, got)
	})
	t.Run("table_sizes", func(t *testing.T) {
		t.Parallel()
		sizes := map[string]int64{}
		for _, r := range queryRows(t, b, `SELECT table_name, total_bytes FROM eventstore.table_sizes`) {
			sizes[r[0].(string)] = r[1].(int64)
		}
		require.Positive(t, sizes["events"])
		require.Positive(t, sizes["streams"])

		_, err := b.pool.Exec(t.Context(), `ANALYZE eventstore.events`)
		require.NoError(t, err)
		var rows *int64
		require.NoError(t, b.pool.QueryRow(t.Context(),
			`SELECT estimated_rows FROM eventstore.table_sizes WHERE table_name = 'events'`).Scan(&rows))
		require.NotNil(t, rows)
		require.Equal(t, int64(9), *rows, "after ANALYZE the estimate of a small table is exact")
	})
}

func TestInspectionReadFunctions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fixture(t, b)
	b.waitFeed(t)

	versionsAndTypes := func(t *testing.T, sql string, args ...any) [][]any {
		t.Helper()
		return queryRows(t, b, `SELECT version, type FROM `+sql, args...)
	}
	t.Run("read_stream", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, [][]any{{int64(2), "round_started"}, {int64(3), "guess_processed"}},
			versionsAndTypes(t, `eventstore.read_stream('game-1', 2, 2)`))
		require.Len(t, versionsAndTypes(t, `eventstore.read_stream('game-1')`), 4, "defaults: from 1, 100 events")
		require.Empty(t, versionsAndTypes(t, `eventstore.read_stream('game-1', 5, 10)`), "past the end")
		require.Empty(t, versionsAndTypes(t, `eventstore.read_stream('lobby')`), "empty stream")

		// Every column matches what the store reads.
		recs, err := b.store.ReadForward(t.Context(), "game-1", 1, 10)
		require.NoError(t, err)
		rows := queryRows(t, b, `SELECT version, type, type_version, guild_id, created_at, data::text, metadata::text,
		                                event_id, global_position FROM eventstore.read_stream('game-1', 1, 10)`)
		require.Len(t, rows, len(recs))
		for i, r := range recs {
			require.Equal(t, r.Version, rows[i][0])
			require.Equal(t, r.Type, rows[i][1])
			require.Equal(t, int32(r.StoredVersion), rows[i][2])
			require.Equal(t, r.GuildID, rows[i][3])
			require.True(t, r.CreatedAt.Equal(rows[i][4].(time.Time)))
			require.JSONEq(t, string(r.Data), rows[i][5].(string))
			require.Equal(t, "{}", rows[i][6])
			require.Equal(t, [16]byte(r.ID), rows[i][7].([16]byte))
			require.Equal(t, r.GlobalPosition, rows[i][8])
		}
	})
	t.Run("read_stream_backward", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, [][]any{{int64(4), "game_completed"}, {int64(3), "guess_processed"}, {int64(2), "round_started"}, {int64(1), "game_started"}},
			versionsAndTypes(t, `eventstore.read_stream_backward('game-1')`))
		require.Equal(t, [][]any{{int64(2), "round_started"}, {int64(1), "game_started"}},
			versionsAndTypes(t, `eventstore.read_stream_backward('game-1', 2, 10)`))
		require.Equal(t, [][]any{{int64(4), "game_completed"}},
			versionsAndTypes(t, `eventstore.read_stream_backward('game-1', NULL, 1)`))
	})
	t.Run("read_feed", func(t *testing.T) {
		t.Parallel()
		page, err := b.store.ReadFeed(t.Context(), store.Checkpoint{}, store.FeedOptions{Limit: 100})
		require.NoError(t, err)
		require.Len(t, page.Events, 9)
		rows := queryRows(t, b, `SELECT checkpoint, stream_id, version, global_position FROM eventstore.read_feed()`)
		require.Len(t, rows, len(page.Events))
		for i, r := range page.Events {
			require.Equal(t, []any{r.Checkpoint().String(), r.StreamID, r.Version, r.GlobalPosition}, rows[i])
		}
		// Continue after the third event's checkpoint, two at a time.
		third := page.Events[2]
		rows = queryRows(t, b, `SELECT checkpoint FROM eventstore.read_feed($1::xid8, $2, 2)`,
			fmt.Sprint(third.TransactionID), third.GlobalPosition)
		require.Equal(t, [][]any{{page.Events[3].Checkpoint().String()}, {page.Events[4].Checkpoint().String()}}, rows)
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			sql  string
			want error
		}{
			{"missing stream", `eventstore.read_stream('nope')`, store.ErrStreamNotFound},
			{"missing stream backward", `eventstore.read_stream_backward('nope')`, store.ErrStreamNotFound},
			{"deleted stream", `eventstore.read_stream('game-4')`, store.ErrStreamDeleted},
			{"deleted stream backward", `eventstore.read_stream_backward('game-4')`, store.ErrStreamDeleted},
			{"invalid stream id", `eventstore.read_stream('')`, store.ErrInvalidStreamID},
			{"count zero", `eventstore.read_stream('game-1', 1, 0)`, store.ErrInvalidArgument},
			{"count too big", `eventstore.read_stream('game-1', 1, 10001)`, store.ErrInvalidArgument},
			{"negative start", `eventstore.read_stream('game-1', -1, 10)`, store.ErrInvalidArgument},
			{"feed count zero", `eventstore.read_feed('0', 0, 0)`, store.ErrInvalidArgument},
			{"feed null checkpoint", `eventstore.read_feed(NULL, 0, 10)`, store.ErrInvalidArgument},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := b.pool.Exec(t.Context(), `SELECT * FROM `+tt.sql)
				require.Error(t, err)
				require.True(t, errors.Is(store.MapError(err), tt.want), "%v", err)
			})
		}
	})
}

func TestFeedLagView(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "before", 2)
	b.waitFeed(t)

	type lag struct {
		newestPosition *int64
		feedPosition   *int64
		feedCheckpoint *string
		held           int64
		heldFor        time.Duration
		pid            *int32
		database       *string
		state          *string
		age            *time.Duration
		prepared       *bool
	}
	read := func(t *testing.T) lag {
		t.Helper()
		var l lag
		var heldFor pgtype.Interval
		var age pgtype.Interval
		require.NoError(t, b.pool.QueryRow(t.Context(), `
			SELECT newest_position, feed_position, feed_checkpoint, held_events, held_for,
			       oldest_xact_pid, oldest_xact_database, oldest_xact_state, oldest_xact_age, oldest_xact_prepared
			  FROM eventstore.feed_lag`).Scan(&l.newestPosition, &l.feedPosition, &l.feedCheckpoint,
			&l.held, &heldFor, &l.pid, &l.database, &l.state, &age, &l.prepared))
		l.heldFor = time.Duration(heldFor.Microseconds) * time.Microsecond
		if age.Valid {
			d := time.Duration(age.Microseconds) * time.Microsecond
			l.age = &d
		}
		return l
	}

	before := read(t)
	require.Zero(t, before.held)
	require.Zero(t, before.heldFor)
	require.Equal(t, int64(2), *before.newestPosition)
	require.Equal(t, int64(2), *before.feedPosition)
	recs, err := b.store.ReadForward(t.Context(), "before", 2, 1)
	require.NoError(t, err)
	require.Equal(t, recs[0].Checkpoint().String(), *before.feedCheckpoint)

	// A transaction that appended and stays open holds back everything that
	// commits after it.
	held, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer held.Rollback(context.Background()) //nolint:errcheck // after Commit it is a no-op
	_, err = b.store.Append(store.WithTx(store.WithGuild(t.Context(), "guild-1"), held), "held", store.NoStream,
		store.Event{Data: serde.Raw{Type: "test_event", Version: 1, Data: json.RawMessage(`{}`)}})
	require.NoError(t, err)
	var heldPID int32
	var dbName string
	require.NoError(t, held.QueryRow(t.Context(), `SELECT pg_backend_pid(), current_database()`).Scan(&heldPID, &dbName))

	b.numbered(t, "guild-1", "after", 3)
	time.Sleep(50 * time.Millisecond)

	during := read(t)
	require.GreaterOrEqual(t, during.held, int64(3), "the three committed events wait behind the open transaction")
	require.GreaterOrEqual(t, during.heldFor, 50*time.Millisecond)
	require.Equal(t, int64(2), *during.feedPosition, "the feed stops before the open transaction")
	require.Greater(t, *during.newestPosition, int64(2))
	// Other tests' transactions run on the same server; ours becomes the
	// oldest as soon as those that started before it have finished.
	require.Eventually(t, func() bool {
		l := read(t)
		return l.pid != nil && *l.pid == heldPID
	}, 10*time.Second, 20*time.Millisecond, "the open transaction is reported as the oldest")
	l := read(t)
	require.Equal(t, dbName, *l.database)
	require.Equal(t, "idle in transaction", *l.state)
	require.False(t, *l.prepared)
	require.GreaterOrEqual(t, *l.age, 50*time.Millisecond)

	require.NoError(t, held.Commit(t.Context()))
	b.waitFeed(t)
	after := read(t)
	require.Zero(t, after.held)
	require.Zero(t, after.heldFor)
	require.Equal(t, *after.newestPosition, *after.feedPosition, "the feed reaches the newest event")
}

// TestInspectionGuildIsolation queries the views and read functions as a
// member of eventstore_app: row-level security leaves only the guild of
// the transaction.
func TestInspectionGuildIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fixture(t, b)
	b.waitFeed(t)

	admin := testdb.Connect(t, testdb.ServerURL(t))
	role := fmt.Sprintf("es_cli_app_%d", time.Now().UnixNano())
	_, err := admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE eventstore_app`, role, role))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	cfg, err := pgx.ParseConfig(b.url)
	require.NoError(t, err)
	cfg.User, cfg.Password = role, role
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })

	// asGuild runs fn in a transaction of guild (none when empty).
	asGuild := func(guild string, fn func(tx pgx.Tx)) {
		t.Helper()
		tx, err := conn.Begin(t.Context())
		require.NoError(t, err)
		defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
		if guild != "" {
			_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, guild)
			require.NoError(t, err)
		}
		fn(tx)
	}
	column := func(tx pgx.Tx, sql string) []string {
		t.Helper()
		rows, err := tx.Query(t.Context(), sql)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}

	asGuild("guild-a", func(tx pgx.Tx) {
		require.Equal(t, []string{"game-2", "game-2", "game-1", "game-1", "game-1", "game-1"},
			column(tx, `SELECT stream_id FROM eventstore.recent_events LIMIT 100`))
		require.Equal(t, []string{"game-1", "game-2"}, column(tx, `SELECT stream_id FROM eventstore.stream_summary ORDER BY 1`))
		require.Equal(t, []string{"guild-a"}, column(tx, `SELECT guild_id FROM eventstore.guild_stats`))
		require.Equal(t, []string{"race", "knockout"}, column(tx, `SELECT mode FROM eventstore.mode_stats`))
		require.Equal(t, []string{"game_started", "round_started", "game_completed", "guess_processed"},
			column(tx, `SELECT type FROM eventstore.type_stats`))
		require.Len(t, column(tx, `SELECT type FROM eventstore.read_stream('game-1')`), 4)
		require.Len(t, column(tx, `SELECT stream_id FROM eventstore.read_feed()`), 6)
		require.Len(t, column(tx, `SELECT held_events::text FROM eventstore.feed_lag`), 1)
	})
	asGuild("guild-a", func(tx pgx.Tx) {
		// Another guild's stream looks like a stream that does not exist.
		_, err := tx.Exec(t.Context(), `SELECT * FROM eventstore.read_stream('game-3')`)
		require.ErrorIs(t, store.MapError(err), store.ErrStreamNotFound)
	})
	asGuild("", func(tx pgx.Tx) {
		require.Empty(t, column(tx, `SELECT stream_id FROM eventstore.recent_events LIMIT 100`), "no guild, no rows")
		require.Empty(t, column(tx, `SELECT guild_id FROM eventstore.guild_stats`))
	})
}

func TestInspectionArchivedStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.appendEvents(t, "guild-a", "game-1",
		fixtureEvent{"game_started", `{"mode": "race"}`}, fixtureEvent{"guess_processed", `{"mode": "race"}`},
		fixtureEvent{"game_completed", `{"mode": "race"}`})
	want, err := b.store.ReadForward(t.Context(), "game-1", 1, 10)
	require.NoError(t, err)
	_, err = b.store.ArchiveStream(t.Context(), "game-1", store.Exact(3))
	require.NoError(t, err)

	// read_stream and read_stream_backward return the archived events.
	rows := queryRows(t, b, `SELECT version, type, global_position FROM eventstore.read_stream('game-1')`)
	require.Len(t, rows, 3)
	for i, r := range want {
		require.Equal(t, []any{r.Version, r.Type, r.GlobalPosition}, rows[i])
	}
	require.Equal(t, [][]any{{int64(3)}, {int64(2)}},
		queryRows(t, b, `SELECT version FROM eventstore.read_stream_backward('game-1', NULL, 2)`))

	// stream_summary finds its first and last events in the archive.
	var status, lastType string
	var first, last time.Time
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT status, first_event_at, last_event_at, last_event_type
		FROM eventstore.stream_summary WHERE stream_id = 'game-1'`).Scan(&status, &first, &last, &lastType))
	require.Equal(t, "archived", status)
	require.True(t, want[0].CreatedAt.Equal(first))
	require.True(t, want[2].CreatedAt.Equal(last))
	require.Equal(t, "game_completed", lastType)

	// The CLI reads and describes it through the store.
	r := b.cli(t, "read", "game-1", "--json")
	requireOK(t, r)
	versions, _ := versionsAndN(t, r.stdout)
	require.Equal(t, seq(1, 3), versions)
	r = b.cli(t, "info", "game-1", "--json")
	requireOK(t, r)
	info := decodeJSON[streamInfoJSON](t, r.stdout)
	require.Equal(t, "archived", info.Status)
	require.NotNil(t, info.ArchivedAt)
	require.Equal(t, "game_completed", info.LastEvent.Type)
	r = b.cli(t, "streams", "--status", "archived", "--json")
	requireOK(t, r)
	page := decodeJSON[streamPageJSON](t, r.stdout)
	require.Equal(t, []string{"game-1"}, streamIDs(page))
	require.Equal(t, "game_completed", page.Streams[0].LastEventType)
}

func TestSubscriptionLagView(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 5)
	b.waitFeed(t)

	type subLag struct {
		source, checkpoint string
		handled            int64
		behind             *int64
		lag                pgtype.Interval
		active             bool
	}
	query := func(name string) (subLag, error) {
		var l subLag
		err := b.pool.QueryRow(t.Context(), `
			SELECT source, checkpoint, handled_count, events_behind, lag, consumer_active
			  FROM eventstore.subscription_lag WHERE name = $1`, name).Scan(
			&l.source, &l.checkpoint, &l.handled, &l.behind, &l.lag, &l.active)
		return l, err
	}
	read := func(t *testing.T, name string) subLag {
		t.Helper()
		l, err := query(name)
		require.NoError(t, err)
		return l
	}
	handledAll := func(name string, n int64) func() bool {
		return func() bool {
			// The row appears once the consumer has started.
			l, err := query(name)
			return err == nil && l.handled == n && l.behind != nil && *l.behind == 0
		}
	}
	noop := func(context.Context, store.Recorded) error { return nil }

	feedSub, err := b.store.Subscribe(t.Context(), store.SubscriptionOptions{Name: "projector", Start: store.FromOrigin()}, noop)
	require.NoError(t, err)
	streamSub, err := b.store.Subscribe(t.Context(), store.SubscriptionOptions{Name: "watch", StreamID: "game-1", Start: store.FromOrigin()}, noop)
	require.NoError(t, err)
	require.Eventually(t, handledAll("projector", 5), 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, handledAll("watch", 5), 20*time.Second, 20*time.Millisecond)

	last, err := b.store.ReadBackward(t.Context(), "game-1", store.End, 1)
	require.NoError(t, err)
	feed := read(t, "projector")
	require.Equal(t, "$all", feed.source)
	require.Equal(t, last[0].Checkpoint().String(), feed.checkpoint)
	require.True(t, feed.active, "a running consumer holds the subscription")
	require.Zero(t, feed.lag.Microseconds)
	watch := read(t, "watch")
	require.Equal(t, "game-1", watch.source)
	require.Equal(t, "5", watch.checkpoint)
	require.True(t, watch.active)

	// Stopped consumers: new events are behind and wait.
	require.NoError(t, feedSub.Stop())
	require.NoError(t, streamSub.Stop())
	b.numbered(t, "guild-1", "game-1", 3)
	b.waitFeed(t)
	time.Sleep(20 * time.Millisecond)
	for _, name := range []string{"projector", "watch"} {
		l := read(t, name)
		require.False(t, l.active, name)
		require.NotNil(t, l.behind, name)
		require.Equal(t, int64(3), *l.behind, name)
		require.Equal(t, int64(5), l.handled, name)
		require.GreaterOrEqual(t, l.lag.Microseconds, int64(20_000), name)
	}

	// The stats command reports them too.
	r := b.cli(t, "stats", "--json")
	requireOK(t, r)
	st := decodeJSON[statsJSON](t, r.stdout)
	require.Len(t, st.Subscriptions, 2)
	require.Equal(t, "projector", st.Subscriptions[0].Name)
	require.Equal(t, int64(3), *st.Subscriptions[0].EventsBehind)
	require.False(t, st.Subscriptions[0].ConsumerActive)
	r = b.cli(t, "stats")
	requireOK(t, r)
	require.Regexp(t, `(?m)^projector\s+\$all\s+\d+/\d+\s+5\s+3\s+\d+\.\ds\s+none$`, r.stdout)
	require.Regexp(t, `(?m)^watch\s+game-1\s+5\s+5\s+3\s+\d+\.\ds\s+none$`, r.stdout)
}
