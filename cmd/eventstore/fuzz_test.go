package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// cliInjections are SQL injection attempts the CLI fuzz targets start from.
var cliInjections = []string{
	`'; DROP TABLE eventstore.events; --`,
	`x'); DELETE FROM eventstore.streams; --`,
	`' OR '1'='1`,
	`$$; DROP SCHEMA eventstore CASCADE; $$`,
	`' || pg_sleep(10) || '`,
	`%s %L %I`,
	"\u02bc; DROP TABLE eventstore.events; --",
}

// schemaShape counts the schema's relations and functions, so a fuzz
// target can tell that nothing was dropped or created.
func schemaShape(t testing.TB, pool *pgxpool.Pool) (relations, functions int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'eventstore'),
		       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'eventstore')`).
		Scan(&relations, &functions))
	return relations, functions
}

// FuzzCLIAppend runs `eventstore append STREAM --expected E --guild G`
// with fuzzed arguments and a fuzzed JSON document on stdin (injection
// attempts among the seeds). Every run exits 0, printing what it appended,
// or 1 with one line on stderr; it never panics. A failed run stores
// nothing, a successful one stores the whole batch (or nothing, when the
// same event ids were stored already), and no run changes the schema or
// takes the time of an injected pg_sleep.
func FuzzCLIAppend(f *testing.F) {
	valid := `[{"type": "game_started", "data": {"game_id": "g-1"}, "metadata": {"user": "u-1"}}]`
	f.Add("game-1", "any", "guild-1", []byte(valid))
	f.Add("game-1", "no_stream", "guild-1", []byte(valid))
	f.Add("game-1", "0", "guild-1", []byte(valid))
	f.Add("game-1", "-1", "guild-1", []byte(valid))
	f.Add("game-1", "99999999999999999999", "guild-1", []byte(valid))
	f.Add("game-2", "stream_exists", "guild-2", []byte(valid))
	f.Add("game-3", "any", "guild-1", []byte(`[{"id": "0190e6c2-0000-7000-8000-000000000001", "type": "t", "data": {}},
		{"id": "0190e6c2-0000-7000-8000-000000000001", "type": "t", "data": {}}]`))
	f.Add("game-3", "any", "guild-1", []byte(`[{"id": "0190e6c2-0000-7000-8000-000000000002", "type": "t", "data": {}}]`))
	f.Add("game-3", "any", "guild-1", []byte(`[{"id": "0190e6c2-0000-7000-8000-000000000002", "type": "t", "data": {}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {"n": 1}}, {"type": "t", "data": {"bad": "\u0000"}}]`))
	f.Add("game-4", "any", "guild-1", []byte("[{\"type\": \"t\", \"data\": {\"n\": 1}}, {\"type\": \"t\", \"data\": {\"bad\": \"\xff\"}}]"))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {"n": 1e1000000}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {"n": NaN}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "version": 0, "data": {}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "version": 1073741825, "data": {}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "version": 1e3, "data": {}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {}, "metadata": {"k": 1}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {}, "metadata": {"k\u0000": "v"}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {}, "extra": true}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {}, "id": "not-a-uuid"}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "", "data": {}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": []}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[]`))
	f.Add("game-4", "any", "guild-1", []byte(`{}`))
	f.Add("game-4", "any", "guild-1", []byte(`[1, "x", null]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {}}] trailing`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {`))
	f.Add("game-4", "any", "guild-1", []byte(``))
	f.Add("game-4", "any", "guild-1", []byte("\xff\xfe"))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {"s": "`+strings.Repeat("x", 1<<20)+`"}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {"a": `+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}}]`))
	f.Add("game-4", "any", "guild-1", []byte(`[{"type": "t", "data": {"a": `+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}}]`))
	f.Add("", "any", "guild-1", []byte(valid))
	f.Add("$all", "any", "guild-1", []byte(valid))
	f.Add("a\tb", "any", "guild-1", []byte(valid))
	f.Add("game-5", "any", "", []byte(valid))
	f.Add("game-5", "any", "g\x00", []byte(valid))
	f.Add("game-5", "", "guild-1", []byte(valid))
	f.Add("--database-url=postgres://nowhere.invalid/x", "any", "guild-1", []byte(valid))
	for _, p := range cliInjections {
		payload, err := json.Marshal([]map[string]any{{"type": p, "data": map[string]string{p: p}, "metadata": map[string]string{p: p}}})
		require.NoError(f, err)
		f.Add(p, "any", "guild-1", payload)
		f.Add("game-inj", p, p, payload)
	}

	d := testdb.NewDB(f)
	relations, functions := schemaShape(f, d.Pool)

	f.Fuzz(func(t *testing.T, stream, expected, guild string, input []byte) {
		var before int
		require.NoError(t, d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM eventstore.events`).Scan(&before))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		// "--" ends the flags: the stream id is taken as given, even when
		// it looks like a flag.
		r := runWith(ctx, runOpts{stdin: string(input)},
			"--database-url", d.URL, "append", "--expected", expected, "--guild", guild, "--json", "--", stream)
		require.Less(t, time.Since(start), slowLimit, "slow append: did an injected pg_sleep run?")

		var after int
		require.NoError(t, d.Pool.QueryRow(context.Background(), `SELECT count(*) FROM eventstore.events`).Scan(&after))
		rel, fn := schemaShape(t, d.Pool)
		require.Equal(t, relations, rel, "relations of the schema")
		require.Equal(t, functions, fn, "functions of the schema")

		switch r.code {
		case 0:
			require.Empty(t, r.stderr)
			var res appendResultJSON
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
			require.Equal(t, stream, res.StreamID)
			require.Equal(t, guild, res.GuildID)
			require.Positive(t, res.Events)
			require.True(t, after-before == res.Events || after == before,
				"appended %d events but %d are new", res.Events, after-before)
			var version int64
			require.NoError(t, d.Pool.QueryRow(context.Background(),
				`SELECT version FROM eventstore.streams WHERE stream_id = $1`, stream).Scan(&version))
			require.GreaterOrEqual(t, version, res.Version)
		case 1:
			require.Empty(t, r.stdout)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
			require.True(t, strings.HasPrefix(r.stderr, "eventstore append: "), r.stderr)
			require.Equal(t, before, after, "a failed append stored events: %s", r.stderr)
		default:
			t.Fatalf("exit code %d", r.code)
		}
	})
}

// FuzzCLIArgs runs the CLI with fuzzed arguments (one per line of the
// input) and no database configured: argument parsing never panics, exits
// 0 or 1, and a failure says why on stderr (or shows the usage when no
// command was given).
func FuzzCLIArgs(f *testing.F) {
	for _, args := range []string{
		"", "--help", "help\nappend", "append", "append\ngame-1\n--expected\nany\n--guild\ng",
		"read\ngame-1\n--count\n0", "read\ngame-1\n--from\n-5", "read\n--count=9999999999999999999\ngame-1",
		"feed\n--from\n1/2/3", "feed\n--follow\n--poll\n-1s", "streams\n--status\nlost", "streams\n--limit\n5000",
		"migrate\nsideways", "migrate\nreset", "--json", "--json\n--json\ninfo", "-\n--\n---", "--database-url",
		"info\n'; DROP TABLE eventstore.events; --", "streams\n--prefix\n' OR '1'='1",
		"stats\n--top\n-1", "bench\n--scale\n-1", "demo\n--games\n0", "frobnicate", "\x00", "\xff",
	} {
		f.Add(args)
	}
	f.Fuzz(func(t *testing.T, input string) {
		var args []string
		if input != "" {
			args = strings.Split(input, "\n")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		r := runWith(ctx, runOpts{}, args...)
		switch r.code {
		case 0:
			require.NotEmpty(t, r.stdout)
		case 1:
			if r.stderr == "" {
				require.Contains(t, r.stdout, "Usage: eventstore", "a failure without a message shows the usage")
			} else {
				require.True(t, strings.HasPrefix(r.stderr, "eventstore"), r.stderr)
			}
		default:
			t.Fatalf("exit code %d", r.code)
		}
	})
}

// TestCLIInjectionIsInert passes each injection attempt as every string
// argument of the CLI that reaches SQL: the stream id, guild, event type,
// data and metadata of append, the stream id of info and read, the guild,
// prefix, status and cursor of streams, and the checkpoint of feed. Each
// run succeeds with the text stored and printed verbatim, or fails with a
// one-line error; the schema keeps its shape, only the appends add
// events, and no injected pg_sleep runs.
func TestCLIInjectionIsInert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	relations, functions := schemaShape(t, b.pool)
	appended := 0
	for _, p := range cliInjections {
		payload, err := json.Marshal([]map[string]any{{"type": p, "data": map[string]string{p: p}, "metadata": map[string]string{p: p}}})
		require.NoError(t, err)
		// Each command on its own: one that ran an injected pg_sleep(10)
		// took 10 s at least, however fast or loaded the machine.
		start := time.Now()
		quick := func() {
			t.Helper()
			require.Less(t, time.Since(start), slowLimit, "slow: did an injected pg_sleep run?")
			start = time.Now()
		}
		stream := p
		if store.ValidateStreamID(p) != nil {
			// Refused by validation ("$" is reserved): nothing stored.
			requireFail(t, b.cliStdin(t, string(payload), "append", "--expected", "no_stream", "--guild", p, "--", p), "invalid stream id")
			quick()
			stream = "inj-" + p
		}
		r := b.cliStdin(t, string(payload), "append", "--expected", "no_stream", "--guild", p, "--json", "--", stream)
		quick()
		requireOK(t, r)
		appended++
		res := decodeJSON[appendResultJSON](t, r.stdout)
		require.Equal(t, stream, res.StreamID)
		require.Equal(t, p, res.GuildID)

		r = b.cli(t, "info", "--json", "--", stream)
		quick()
		requireOK(t, r)
		info := decodeJSON[streamInfoJSON](t, r.stdout)
		require.Equal(t, stream, info.StreamID)
		require.Equal(t, p, info.GuildID)

		r = b.cli(t, "read", "--json", "--", stream)
		quick()
		requireOK(t, r)
		evs := jsonLines[eventJSON](t, r.stdout)
		require.Len(t, evs, 1)
		require.Equal(t, p, evs[0].Type)
		want, err := json.Marshal(map[string]string{p: p})
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(evs[0].Metadata))

		for _, args := range [][]string{
			{"read", "--backward", "--", p},
			{"streams", "--prefix", p},
			{"streams", "--guild", p},
			{"streams", "--status", p},
			{"streams", "--cursor", p},
			{"feed", "--from", p},
			{"info", "--", p + "-missing"},
		} {
			r := b.cli(t, args...)
			quick()
			require.Contains(t, []int{0, 1}, r.code, "%q: %s", args, r.stderr)
			if r.code == 1 {
				requireFail(t, r)
			}
		}
	}
	rel, fn := schemaShape(t, b.pool)
	require.Equal(t, relations, rel)
	require.Equal(t, functions, fn)
	require.Equal(t, appended, b.countEvents(t))
}

// slowLimit flags a run slow enough to suggest an injected pg_sleep(10) ran:
// one that ran alone takes 10 s, so a faster run cannot have run one, however
// loaded the machine.
const slowLimit = 9500 * time.Millisecond
