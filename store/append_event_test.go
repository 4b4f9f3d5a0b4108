package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

// appendOneCase is one call of TestAppendEventAgreesWithAppendEvents: an
// append of one event to stream (prefixed), as psql or the store would
// send it.
type appendOneCase struct {
	name     string
	stream   string // the suffix of the stream id; each function has its own streams
	guild    string // p_guild_id; the transaction's guild is always testGuild
	expected *int64
	id       string // "new", "stored" (in the hot table), "archived", "null"
	typ      string
	version  int32
	data     *string
	max      *int64
}

// TestAppendEventAgreesWithAppendEvents: append_event, the store's single
// append outside a caller's transaction, decides every case exactly as
// append_events does (without the stored-id probe, as the store sends both):
// the same version on success, the same SQLSTATE on failure, and the same
// rows left behind. Each function gets its own streams, set up alike, and
// the cases run in the same order on both.
func TestAppendEventAgreesWithAppendEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := store.WithGuild(t.Context(), "guild-other")
	stored := map[string]map[string]uuid.UUID{} // prefix -> kind -> id
	for _, p := range []string{"one", "many"} {
		mustAppend := func(ctx context.Context, stream string, n int) {
			_, err := b.store.Append(ctx, p+"-"+stream, store.Any, rawEvents(n, 1)...)
			require.NoError(t, err)
		}
		mustAppend(b.ctx, "live", 2)
		mustAppend(b.ctx, "deleted", 1)
		_, err := b.store.DeleteStream(b.ctx, p+"-deleted", store.Any)
		require.NoError(t, err)
		mustAppend(b.ctx, "archived", 1)
		_, err = b.store.ArchiveStream(b.ctx, p+"-archived", store.Any)
		require.NoError(t, err)
		mustAppend(b.ctx, "full", 2)
		require.NoError(t, b.store.SetStreamLimit(b.ctx, p+"-full", 2))
		mustAppend(b.ctx, "old", 3)
		_, err = b.store.SaveSnapshot(b.ctx, store.Snapshot{StreamID: p + "-old", Version: 2, Type: "t", SchemaVersion: 1, Data: []byte(`{}`)})
		require.NoError(t, err)
		_, err = b.store.ArchiveBefore(b.ctx, p+"-old", 3)
		require.NoError(t, err)
		mustAppend(other, "others", 1)
		require.NoError(t, b.store.CreateStream(b.ctx, p+"-empty"))

		var hot, archived uuid.UUID
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT event_id FROM eventstore.events
			WHERE stream_id = $1 AND stream_version = 1`, p+"-live").Scan(&hot))
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT event_id FROM eventstore.events_archive
			WHERE stream_id = $1 AND stream_version = 1`, p+"-old").Scan(&archived))
		stored[p] = map[string]uuid.UUID{"stored": hot, "archived": archived}
	}

	i64 := func(v int64) *int64 { return &v }
	str := func(v string) *string { return &v }
	obj := str(`{"n": 1}`)
	cases := []appendOneCase{
		{name: "exact, right", stream: "live", expected: i64(2)},
		{name: "exact, wrong", stream: "live", expected: i64(7)},
		{name: "any", stream: "live", expected: i64(-1)},
		{name: "stream_exists", stream: "live", expected: i64(-3)},
		{name: "no_stream on a stream with events", stream: "live", expected: i64(-2)},
		{name: "no_stream on an empty stream", stream: "empty", expected: i64(-2)},
		{name: "stream_exists on a missing stream", stream: "missing", expected: i64(-3)},
		{name: "exact 0 on a missing stream: a new stream", stream: "new-exact", expected: i64(0)},
		{name: "any on a missing stream: a new stream", stream: "new-any", expected: i64(-1)},
		{name: "exact 1 on a missing stream", stream: "missing", expected: i64(1)},
		{name: "invalid new stream id", stream: "bad\u200b", expected: i64(-1)},
		{name: "deleted stream", stream: "deleted", expected: i64(-1)},
		{name: "archived stream", stream: "archived", expected: i64(-1)},
		{name: "full stream", stream: "full", expected: i64(-1)},
		{name: "full stream, store limit", stream: "live", expected: i64(-1), max: i64(4)},
		{name: "another guild's stream", stream: "others", expected: i64(-1)},
		{name: "p_guild_id not the transaction's", stream: "live", guild: "guild-other", expected: i64(-1)},
		{name: "stored id", stream: "live", expected: i64(-1), id: "stored"},
		{name: "stored id, exact", stream: "live", expected: i64(1), id: "stored"},
		{name: "archived id", stream: "old", expected: i64(-1), id: "archived"},
		{name: "null id", stream: "live", expected: i64(-1), id: "null"},
		{name: "expected -4", stream: "live", expected: i64(-4)},
		{name: "null expected", stream: "live"},
		{name: "limit 0", stream: "live", expected: i64(-1), max: i64(0)},
		{name: "data an array", stream: "live", expected: i64(-1), data: str(`[1]`)},
		{name: "null data", stream: "live", expected: i64(-1), data: nil, id: "new-nodata"},
		{name: "empty type", stream: "live", expected: i64(-1), typ: "-"},
		{name: "version 0", stream: "live", expected: i64(-1), version: -1},
		{name: "after them all", stream: "live", expected: i64(-1)},
	}
	run := func(p, sql string, c appendOneCase) (int64, string) {
		t.Helper()
		var id pgtype.UUID
		switch c.id {
		case "", "new", "new-nodata":
			id = pgtype.UUID{Bytes: uuid.New(), Valid: true}
		case "null":
		default:
			id = pgtype.UUID{Bytes: stored[p][c.id], Valid: true}
		}
		data := c.data
		if data == nil && c.id != "new-nodata" {
			data = obj
		}
		typ, version, guild := c.typ, c.version, c.guild
		if typ == "" {
			typ = "test_event"
		} else if typ == "-" {
			typ = ""
		}
		if version == 0 {
			version = 1
		} else if version < 0 {
			version = 0
		}
		if guild == "" {
			guild = testGuild
		}
		max := c.max
		if max == nil {
			max = i64(10000)
		}
		var v int64
		err := b.pool.QueryRow(b.ctx, sql, testGuild, p+"-"+c.stream, guild, c.expected, id, typ, version, data, max).Scan(&v)
		if err == nil {
			return v, ""
		}
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s: %v", c.name, err)
		return 0, pgErr.Code
	}
	const (
		one = `SELECT r.new_version FROM (SELECT set_config('eventstore.guild_id', $1, true) AS g) AS g
		 CROSS JOIN LATERAL eventstore.append_event($2, $3, $4, $5, $6, $7, $8::jsonb, NULL, NULL, NULL, $9) AS r`
		many = `SELECT r.new_version FROM (SELECT set_config('eventstore.guild_id', $1, true) AS g) AS g
		 CROSS JOIN LATERAL eventstore.append_events($2, $3, $4, ARRAY[$5::uuid], ARRAY[$6::text], ARRAY[$7::int],
		        ARRAY[$8::jsonb], NULL, NULL, NULL, $9, false) AS r`
	)
	codes := map[string]bool{}
	for _, c := range cases {
		wantV, wantCode := run("many", many, c)
		gotV, gotCode := run("one", one, c)
		require.Equal(t, wantCode, gotCode, "%s: SQLSTATE", c.name)
		require.Equal(t, wantV, gotV, "%s: new version", c.name)
		codes[wantCode] = true
	}
	// The cases reach every refusal the two functions have.
	for _, code := range []string{"", "ES001", "ES002", "ES003", "ES004", "ES005", "ES006", "ES008", "ES009", "23505", "23502", "23514"} {
		require.True(t, codes[code], "no case ended in %q", code)
	}

	// What each function left behind: the same rows, stream by stream.
	rows := func(p string) []string {
		t.Helper()
		r, err := b.pool.Query(b.ctx, `SELECT substr(s.stream_id, length($1) + 2) || ' v' || s.version || ' events ' ||
			       (SELECT count(*) FROM eventstore.events e WHERE e.stream_id = s.stream_id) || ' ' ||
			       coalesce((SELECT string_agg(e.stream_version || ':' || e.event_type || ':' || e.data::text, ',' ORDER BY e.stream_version)
			                   FROM eventstore.events e WHERE e.stream_id = s.stream_id), '')
			  FROM eventstore.streams s WHERE s.stream_id LIKE $1 || '-%' ORDER BY s.stream_id`, p)
		require.NoError(t, err)
		defer r.Close()
		var out []string
		for r.Next() {
			var s string
			require.NoError(t, r.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, r.Err())
		return out
	}
	require.Equal(t, rows("many"), rows("one"))
}

// TestAppendEventLeanPath: append_event stores an event on an existing
// stream by itself, and passes everything else to append_events.
func TestAppendEventLeanPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "lean-1", store.NoStream, rawEvents(1, 1)...)
	require.NoError(t, err)
	tx := trackedFunctionsTx(t, b)
	_, err = tx.Exec(b.ctx, `SELECT set_config('eventstore.guild_id', $1, true)`, testGuild)
	require.NoError(t, err)
	appendOne := func(stream string, expected int64) int64 {
		t.Helper()
		var v int64
		require.NoError(t, tx.QueryRow(b.ctx, `SELECT new_version FROM eventstore.append_event($1, $2, $3, gen_random_uuid(),
			'test_event', 1, '{"n": 2}')`, stream, testGuild, expected).Scan(&v))
		return v
	}
	require.Equal(t, int64(2), appendOne("lean-1", 1))
	require.Equal(t, int64(3), appendOne("lean-1", -1))
	require.Zero(t, functionCalls(t, tx, "append_events"), "an existing stream at the expected version")
	require.Equal(t, int64(1), appendOne("lean-2", -2))
	require.Equal(t, int64(1), functionCalls(t, tx, "append_events"), "a new stream is append_events'")
}
