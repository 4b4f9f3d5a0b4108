package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "--help")
	requireOK(t, r)
	for _, cmd := range commands() {
		require.Contains(t, r.stdout, "\n  "+cmd.name+" ", "the command list names %s", cmd.name)
	}

	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, cmd.name, "--help")
			requireOK(t, r)
			require.Contains(t, r.stdout, "Usage: eventstore "+cmd.name)
			require.Contains(t, r.stdout, "-database-url", "global flags are listed")

			r = runCLI(t, "help", cmd.name)
			requireOK(t, r)
			require.Contains(t, r.stdout, "Usage: eventstore "+cmd.name)
		})
	}
}

func TestNoCommand(t *testing.T) {
	t.Parallel()
	r := runCLI(t)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stdout, "Commands:")
}

func TestBadInvocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{"unknown global flag", []string{"--nope", "streams"}, []string{"flag provided but not defined: -nope"}},
		{"unknown command flag", []string{"read", "game-1", "--nope"}, []string{"eventstore read:", "-nope", "see eventstore read --help"}},
		{"read without stream", []string{"read"}, []string{"want exactly one stream id"}},
		{"read two streams", []string{"read", "a", "b"}, []string{"want exactly one stream id"}},
		{"read invalid stream id", []string{"read", "$all"}, []string{"invalid stream id"}},
		{"read zero count", []string{"read", "game-1", "--count", "0"}, []string{"--count must be at least 1"}},
		{"read negative from", []string{"read", "game-1", "--from", "-5"}, []string{"--from must be a version >= 0"}},
		{"read count not a number", []string{"read", "game-1", "--count", "many"}, []string{`invalid value "many" for flag -count`}},
		{"info without stream", []string{"info"}, []string{"want exactly one stream id"}},
		{"info empty stream id", []string{"info", ""}, []string{"invalid stream id", "must not be empty"}},
		{"feed argument", []string{"feed", "extra"}, []string{`unexpected argument "extra"`}},
		{"feed bad checkpoint", []string{"feed", "--from", "yesterday"}, []string{"--from:", "TRANSACTION_ID/POSITION"}},
		{"feed negative count", []string{"feed", "--count", "-3"}, []string{"--count must be at least 1, got -3"}},
		{"feed zero poll", []string{"feed", "--follow", "--poll", "0s"}, []string{"--poll must be positive"}},
		{"streams bad status", []string{"streams", "--status", "lost"}, []string{"--status must be active, archived, deleted or all"}},
		{"streams limit too big", []string{"streams", "--limit", "50000"}, []string{"--limit must be 1 to 10000"}},
		{"streams bad time", []string{"streams", "--created-after", "last week"}, []string{"--created-after", "is not a time"}},
		{"streams argument", []string{"streams", "guild-1"}, []string{`unexpected argument "guild-1"`}},
		{"stats negative top", []string{"stats", "--top", "-1"}, []string{"--top must be 0 or more"}},
		{"append without expected", []string{"append", "game-1", "--guild", "g"}, []string{"--expected is required"}},
		{"append bad expected", []string{"append", "game-1", "--guild", "g", "--expected", "latest"}, []string{"--expected:", "invalid expected version"}},
		{"append without guild", []string{"append", "game-1", "--expected", "any"}, []string{"--guild is required"}},
		{"append without stream", []string{"append", "--guild", "g", "--expected", "any"}, []string{"want exactly one stream id"}},
		{"migrate without action", []string{"migrate"}, []string{"want one of up, down, status, check, reset"}},
		{"migrate unknown action", []string{"migrate", "sideways"}, []string{`unknown migrate action "sideways"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// No database is configured: argument errors come first.
			requireFail(t, runCLI(t, tt.args...), tt.want...)
		})
	}
}

func TestNoDatabase(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"streams": {"streams"},
		"info":    {"info", "game-1"},
		"read":    {"read", "game-1"},
		"feed":    {"feed"},
		"append":  {"append", "game-1", "--guild", "g", "--expected", "any"},
		"stats":   {"stats"},
		"migrate": {"migrate", "status"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runWith(t.Context(), runOpts{stdin: `[{"type":"x","data":{}}]`}, args...)
			requireFail(t, r, "eventstore "+name+": no database: pass --database-url, or set DATABASE_URL or PGHOST/PGDATABASE")
		})
	}
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// Port 1 on the loopback address refuses connections at once.
	r := runCLI(t, "--database-url", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", "streams")
	requireFail(t, r, "eventstore streams: connect", "127.0.0.1")

	r = runCLI(t, "--database-url", "postgres://%zz", "streams")
	requireFail(t, r, "eventstore streams: database url")
}

func TestDatabaseURLFromEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 2)

	r := runWith(t.Context(), runOpts{env: map[string]string{"DATABASE_URL": b.url}}, "read", "game-1")
	requireOK(t, r)
	require.Len(t, lines(r.stdout), 2)

	// --database-url wins over DATABASE_URL.
	r = runWith(t.Context(), runOpts{env: map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}},
		"--database-url", b.url, "read", "game-1")
	requireOK(t, r)
}
