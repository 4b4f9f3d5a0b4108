package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestAppend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, id2 := uuid.New(), uuid.New()
	corr := uuid.New()
	input := `[
  {"type": "game_started", "version": 1, "data": {"mode": "race", "game_id": "game-42"},
   "metadata": {"user": "u-1", "actor": {"id": 42, "bot": false}}, "id": "` + id.String() + `", "correlation_id": "` + corr.String() + `"},
  {"type": "guess_processed", "data": {"word": "apple"}, "id": "` + id2.String() + `"}
]`
	r := b.cliStdin(t, input, "append", "game-42", "--expected", "no_stream", "--guild", "guild-9", "--json")
	requireOK(t, r)
	res := decodeJSON[appendResultJSON](t, r.stdout)
	require.Equal(t, "game-42", res.StreamID)
	require.Equal(t, "guild-9", res.GuildID)
	require.Equal(t, 2, res.Events)
	require.Equal(t, int64(2), res.Version)
	require.Equal(t, res.FirstPosition+1, res.LastPosition)

	recs, err := b.store.ReadForward(t.Context(), "game-42", 1, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, id, recs[0].ID)
	require.Equal(t, "game_started", recs[0].Type)
	require.Equal(t, 1, recs[0].StoredVersion)
	require.Equal(t, "guild-9", recs[0].GuildID)
	require.JSONEq(t, `{"mode": "race", "game_id": "game-42"}`, string(recs[0].Data))
	require.JSONEq(t, `{"user": "u-1", "actor": {"id": 42, "bot": false}}`, string(recs[0].Metadata),
		"metadata of any shape is stored as given")
	require.Equal(t, corr, recs[0].CorrelationID)
	require.Equal(t, res.FirstPosition, recs[0].GlobalPosition)
	require.Equal(t, "guess_processed", recs[1].Type)
	require.Equal(t, 1, recs[1].StoredVersion, "version defaults to 1")
	require.Equal(t, id2, recs[1].ID)

	// Exact expected version, text output.
	r = b.cliStdin(t, `[{"type": "game_completed", "version": 2, "data": {}}]`,
		"append", "game-42", "--expected", "2", "--guild", "guild-9")
	requireOK(t, r)
	require.Regexp(t, `^appended 1 event\(s\) to game-42 \(guild guild-9\): version 3, global positions \d+-\d+\n$`, r.stdout)

	// The same batch again with the same ids is idempotent: the original result.
	again := b.cliStdin(t, input, "append", "game-42", "--expected", "no_stream", "--guild", "guild-9", "--json")
	requireOK(t, again)
	require.Equal(t, res, decodeJSON[appendResultJSON](t, again.stdout))
	require.Equal(t, 3, b.countEvents(t))
}

func TestAppendFromFile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	path := filepath.Join(t.TempDir(), "events.json")
	require.NoError(t, os.WriteFile(path, []byte(`[{"type": "a", "data": {"n": 1}}, {"type": "b", "data": {"n": 2}}]`), 0o600))

	r := b.cli(t, "append", "s-1", "--expected", "any", "--guild", "g", "--file", path, "--json")
	requireOK(t, r)
	require.Equal(t, 2, decodeJSON[appendResultJSON](t, r.stdout).Events)
	recs, err := b.store.ReadForward(t.Context(), "s-1", 1, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.NotEqual(t, uuid.Nil, recs[0].ID, "a missing id gets a new one")
	require.NotEqual(t, recs[0].ID, recs[1].ID)

	requireFail(t, b.cli(t, "append", "s-1", "--expected", "any", "--guild", "g", "--file", path+".missing"),
		"eventstore append:", "events.json.missing", "no such file")
	require.Equal(t, 2, b.countEvents(t))
}

// TestAppendRefused checks that every refused append says why in one line,
// exits 1 and stores nothing.
func TestAppendRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "existing", 2)
	before := b.countEvents(t)
	valid := `[{"type": "a", "data": {}}]`

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"empty stdin", "", nil, []string{"no input on stdin: want a JSON array of events"}},
		{"blank stdin", " \n\t", nil, []string{"no input on stdin"}},
		{"syntax error", "[\n  {\"type\": \"a\", \"data\": {}},\n  {\"type\": \"b\" \"data\": {}}\n]", nil,
			[]string{"invalid JSON on stdin at line 3, column 16", "invalid character"}},
		{"truncated", "[{\"type\": \"a\", \"data\": {}\n", nil, []string{"invalid JSON on stdin at line 1, column 26: unexpected end of input"}},
		{"not an array", `{"type": "a", "data": {}}`, nil, []string{"want a JSON array of events, got a JSON object"}},
		{"trailing data", valid + ` [{"type": "b", "data": {}}]`, nil, []string{"unexpected data after the array of events"}},
		{"empty array", `[]`, nil, []string{"no events: the JSON array on stdin is empty"}},
		{"event not an object", `[{"type": "a", "data": {}}, 42]`, nil, []string{"event 2 of 2 on stdin", "want an object"}},
		{"missing type", `[{"data": {}}]`, nil, []string{"event 1 of 1 on stdin", `missing "type"`}},
		{"missing data", `[{"type": "a"}]`, nil, []string{`missing "data" (a JSON object)`}},
		{"data not an object", `[{"type": "a", "data": [1, 2]}]`, nil, []string{`"data":`}},
		{"unknown field", `[{"type": "a", "dta": {}}]`, nil, []string{`event 1 of 1 on stdin: unknown field "dta" (want type, version, data, metadata, id, causation_id, correlation_id)`}},
		{"version not a number", `[{"type": "a", "version": "1", "data": {}}]`, nil, []string{`field "version": want a whole number, got JSON string`}},
		{"version zero", `[{"type": "a", "version": 0, "data": {}}]`, nil, []string{`"version" must be at least 1, got 0`}},
		{"bad id", `[{"type": "a", "data": {}, "id": "abc"}]`, nil, []string{`"id": "abc" is not a UUID`}},
		{"bad correlation id", `[{"type": "a", "data": {}, "correlation_id": "x"}]`, nil, []string{`"correlation_id": "x" is not a UUID`}},
		{"metadata not an object", `[{"type": "a", "data": {}, "metadata": ["x"]}]`, nil, []string{`"metadata": `, `JSON object`}},
		{"second event bad", `[{"type": "a", "data": {}}, {"type": "", "data": {}}]`, nil, []string{"event 2 of 2", `missing "type"`}},
		{"repeated id", `[{"type": "a", "data": {}, "id": "0194b2f0-0000-7000-8000-000000000001"}, {"type": "b", "data": {}, "id": "0194b2f0-0000-7000-8000-000000000001"}]`,
			nil, []string{"duplicate event"}},
		{"wrong expected version", valid, []string{"--expected", "5"}, []string{`append to stream "existing": wrong expected version: expected 5, actual 2`}},
		{"no_stream on existing", valid, []string{"--expected", "no_stream"}, []string{"wrong expected version: expected no_stream, actual 2"}},
		{"other guild's stream", valid, []string{"--guild", "guild-2"}, []string{`stream id 'existing' is taken by another guild`}},
		{"invalid guild", valid, []string{"--guild", "bad\x01guild"}, []string{"--guild:", "invalid guild id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"append", "existing", "--expected", "any", "--guild", "guild-1"}
			args = append(args, tt.args...) // later flags win
			requireFail(t, b.cliStdin(t, tt.stdin, args...), append([]string{"eventstore append: "}, tt.want...)...)
		})
	}
	t.Run("missing stream with stream_exists", func(t *testing.T) {
		t.Parallel()
		requireFail(t, b.cliStdin(t, valid, "append", "absent", "--expected", "stream_exists", "--guild", "guild-1"),
			`append to stream "absent": wrong expected version: expected stream_exists, actual no stream`)
	})
	// Run after the parallel subtests.
	t.Cleanup(func() {
		require.Equal(t, before, b.countEvents(t), "a refused append stores nothing")
		var streams int
		require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM eventstore.streams`).Scan(&streams))
		require.Equal(t, 1, streams, "a refused append creates no stream")
	})
}

func TestAppendUsageErrorsMentionHelp(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "append", "s", "--guild", "g")
	requireFail(t, r, "(see eventstore append --help)")
	require.True(t, strings.HasPrefix(r.stderr, "eventstore append: --expected is required"))
}
