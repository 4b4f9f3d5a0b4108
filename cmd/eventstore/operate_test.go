package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

func TestDeleteCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.numbered(t, "guild-1", "game-2", 2)
	b.numbered(t, "guild-1", "game-3", 1)

	t.Run("json", func(t *testing.T) {
		r := b.cli(t, "delete", "game-1", "--expected", "3", "--guild", "guild-1", "--json")
		requireOK(t, r)
		got := decodeJSON[deleteResultJSON](t, r.stdout)
		require.Equal(t, deleteResultJSON{StreamID: "game-1", Version: 3, Status: "deleted"}, got)
		info, err := b.store.StreamInfo(t.Context(), "game-1")
		require.NoError(t, err)
		require.Equal(t, store.StatusDeleted, info.Status())
		// Deleting again: the stream is deleted.
		requireFail(t, b.cli(t, "delete", "game-1"), `eventstore delete: delete stream "game-1": stream 'game-1' is deleted`)
	})
	t.Run("text", func(t *testing.T) {
		r := b.cli(t, "delete", "game-3")
		requireOK(t, r)
		require.Equal(t, "deleted stream game-3 at version 1 (its events are kept; `eventstore hard-delete` removes them)\n", r.stdout)
	})
	t.Run("bad input", func(t *testing.T) {
		requireFail(t, b.cli(t, "delete", "nope"), `delete stream "nope": stream 'nope' does not exist`)
		requireFail(t, b.cli(t, "delete", "game-2", "--guild", "guild-2"), "eventstore delete:", "guild")
		requireFail(t, b.cli(t, "delete", "game-2", "--expected", "7"), "wrong expected version: expected 7, actual 2")
		requireFail(t, b.cli(t, "delete", "game-2", "--expected", "soon"), "--expected", "see eventstore delete --help")
		requireFail(t, b.cli(t, "delete"), "want exactly one stream id", "see eventstore delete --help")
		requireFail(t, b.cli(t, "delete", "$bad"), "invalid stream id")
		requireFail(t, b.cli(t, "delete", "game-2", "--guild", " g "), "--guild", "invalid guild id")
		info, err := b.store.StreamInfo(t.Context(), "game-2")
		require.NoError(t, err)
		require.Equal(t, store.StatusActive, info.Status(), "no bad invocation deleted anything")
	})
}

func TestHardDeleteCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.numbered(t, "guild-1", "game-2", 2)

	t.Run("confirmation", func(t *testing.T) {
		requireFail(t, b.cli(t, "hard-delete", "game-1"), "confirm with --confirm game-1", "see eventstore hard-delete --help")
		requireFail(t, b.cli(t, "hard-delete", "game-1", "--confirm", "game-2"), `--confirm "game-2" is not the stream id "game-1": nothing was deleted`)
		requireFail(t, b.cli(t, "hard-delete", "game-1", "--confirm", "game-1", "--guild", "guild-2"), "eventstore hard-delete:", "guild")
		requireFail(t, b.cli(t, "hard-delete", "game-1", "--confirm", "game-1", "--expected", "1"), "wrong expected version")
		requireFail(t, b.cli(t, "hard-delete", "nope", "--confirm", "nope"), `hard delete stream "nope": stream 'nope' does not exist`)
		_, err := b.store.StreamInfo(t.Context(), "game-1")
		require.NoError(t, err, "nothing was deleted")
	})
	t.Run("json", func(t *testing.T) {
		r := b.cli(t, "hard-delete", "game-1", "--confirm", "game-1", "--guild", "guild-1", "--json")
		requireOK(t, r)
		require.Equal(t, hardDeleteResultJSON{StreamID: "game-1", Version: 3, EventsDeleted: 3}, decodeJSON[hardDeleteResultJSON](t, r.stdout))
		_, err := b.store.StreamInfo(t.Context(), "game-1")
		require.ErrorIs(t, err, store.ErrStreamNotFound)
	})
	t.Run("text", func(t *testing.T) {
		r := b.cli(t, "hard-delete", "--confirm", "game-2", "game-2")
		requireOK(t, r)
		require.Equal(t, "hard-deleted stream game-2 (version 2): 2 event(s) removed for good\n", r.stdout)
	})
	t.Run("application role", func(t *testing.T) {
		// Hard deletion stays reserved to administrators: the application
		// role cannot run it, whatever the CLI is told.
		b.numbered(t, "guild-1", "game-3", 1)
		url := appRoleURL(t, b)
		r := runWith(t.Context(), runOpts{}, "--database-url", url, "hard-delete", "game-3", "--confirm", "game-3", "--guild", "guild-1")
		requireFail(t, r, "eventstore hard-delete:", "permission denied")
		_, err := b.store.StreamInfo(t.Context(), "game-3")
		require.NoError(t, err)
	})
}

func TestArchiveCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.numbered(t, "guild-1", "game-2", 4)

	r := b.cli(t, "archive", "game-1", "--expected", "3", "--json")
	requireOK(t, r)
	require.Equal(t, archiveResultJSON{StreamID: "game-1", Version: 3, EventsArchived: 3}, decodeJSON[archiveResultJSON](t, r.stdout))
	info, err := b.store.StreamInfo(t.Context(), "game-1")
	require.NoError(t, err)
	require.Equal(t, store.StatusArchived, info.Status())
	// Still readable.
	require.Len(t, lines(b.cli(t, "read", "game-1").stdout), 3)

	requireFail(t, b.cli(t, "archive", "game-1"), `archive stream "game-1": stream 'game-1' is already archived`)
	requireFail(t, b.cli(t, "archive", "nope"), `archive stream "nope": stream 'nope' does not exist`)
	requireFail(t, b.cli(t, "archive", "game-2", "--guild", "guild-2"), "eventstore archive:", "guild")
	requireFail(t, b.cli(t, "archive", "game-2", "--before", "-1"), "--before must be a version >= 1")
	requireFail(t, b.cli(t, "archive", "game-2", "--before", "2", "--expected", "4"), "exclude each other")
	// Archiving early events needs a snapshot covering them.
	requireFail(t, b.cli(t, "archive", "game-2", "--before", "3"), "needs a snapshot at version 2 or later")
	_, err = b.store.SaveSnapshot(store.WithGuild(t.Context(), "guild-1"), store.Snapshot{
		StreamID: "game-2", Version: 2, Type: "state", SchemaVersion: 1, Data: json.RawMessage(`{"n": 2}`)})
	require.NoError(t, err)
	r = b.cli(t, "archive", "game-2", "--before", "3", "--guild", "guild-1")
	requireOK(t, r)
	require.Equal(t, "archived 2 event(s) of stream game-2 below version 3; the stream stays writable\n", r.stdout)
}

func TestLimitCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)

	r := b.cli(t, "limit", "set", "game-1", "--max-count", "4", "--guild", "guild-1", "--json")
	requireOK(t, r)
	got := decodeJSON[limitResultJSON](t, r.stdout)
	require.Equal(t, "game-1", got.StreamID)
	require.Equal(t, int64(4), *got.MaxEvents)
	info, err := b.store.StreamInfo(t.Context(), "game-1")
	require.NoError(t, err)
	require.Equal(t, int64(4), info.MaxEvents)
	b.numbered(t, "guild-1", "game-1", 1)
	_, err = b.store.Append(store.WithGuild(t.Context(), "guild-1"), "game-1", store.Any,
		store.Event{Data: serde.Raw{Type: "test_event", Version: 1, Data: json.RawMessage(`{"n": 5}`)}})
	require.ErrorIs(t, err, store.ErrStreamFull)

	r = b.cli(t, "limit", "clear", "game-1", "--json")
	requireOK(t, r)
	require.Equal(t, `{"stream_id":"game-1","max_events":null}`+"\n", r.stdout)
	info, err = b.store.StreamInfo(t.Context(), "game-1")
	require.NoError(t, err)
	require.Equal(t, int64(0), info.MaxEvents)

	r = b.cli(t, "limit", "set", "game-1", "--max-count", "100")
	requireOK(t, r)
	require.Equal(t, "stream game-1 may hold at most 100 event(s)\n", r.stdout)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"limit"}, []string{"want set or clear"}},
		{[]string{"limit", "raise", "game-1"}, []string{`unknown subcommand "raise"`}},
		{[]string{"limit", "set", "game-1"}, []string{"--max-count N with N >= 1"}},
		{[]string{"limit", "set", "game-1", "--max-count", "0"}, []string{"--max-count N with N >= 1"}},
		{[]string{"limit", "clear", "game-1", "--max-count", "3"}, []string{"limit clear takes no --max-count"}},
		{[]string{"limit", "set", "--max-count", "3"}, []string{"want exactly one stream id"}},
		{[]string{"limit", "set", "nope", "--max-count", "3"}, []string{`set limit of stream "nope": stream 'nope' does not exist`}},
		{[]string{"limit", "set", "game-1", "--max-count", "3", "--guild", "guild-2"}, []string{"eventstore limit:", "guild"}},
		{[]string{"limit", "set", "game-1", "--max-age", "24h"}, []string{"-max-age"}},
	} {
		requireFail(t, b.cli(t, tc.args...), tc.want...)
	}
}

func TestSnapshotCommand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.numbered(t, "guild-1", "game-1", 3)
	b.numbered(t, "guild-1", "game-2", 1)
	_, err := b.store.SaveSnapshot(store.WithGuild(t.Context(), "guild-1"), store.Snapshot{
		StreamID: "game-1", Version: 3, Type: "game_state", SchemaVersion: 2,
		Data: json.RawMessage(`{"score": 7}`), Metadata: map[string]string{"by": "test"}})
	require.NoError(t, err)

	r := b.cli(t, "snapshot", "show", "game-1", "--json")
	requireOK(t, r)
	got := decodeJSON[snapshotJSON](t, r.stdout)
	require.Equal(t, "game-1", got.StreamID)
	require.Equal(t, "guild-1", got.GuildID)
	require.Equal(t, int64(3), got.Version)
	require.Equal(t, "game_state", got.Type)
	require.Equal(t, 2, got.SchemaVersion)
	require.JSONEq(t, `{"score": 7}`, string(got.Data))
	require.Equal(t, map[string]string{"by": "test"}, got.Metadata)

	r = b.cli(t, "snapshot", "show", "game-1")
	requireOK(t, r)
	require.Regexp(t, `(?m)^type\s+game_state v2$`, r.stdout)
	require.Regexp(t, `(?m)^data\s+\{"score":7\}$`, r.stdout)

	requireFail(t, b.cli(t, "snapshot", "show", "game-1", "--guild", "guild-2"), "snapshot not found")
	requireFail(t, b.cli(t, "snapshot", "delete", "game-1", "--guild", "guild-2"), "snapshot not found")
	requireFail(t, b.cli(t, "snapshot", "show", "game-2"), `read snapshot of stream "game-2": snapshot not found`)
	requireFail(t, b.cli(t, "snapshot", "show", "nope"), "snapshot not found")
	requireFail(t, b.cli(t, "snapshot", "take", "game-1"), `unknown subcommand "take"`)
	requireFail(t, b.cli(t, "snapshot"), "want show or delete")
	requireFail(t, b.cli(t, "snapshot", "show"), "want exactly one stream id")

	r = b.cli(t, "snapshot", "delete", "game-1", "--guild", "guild-1", "--json")
	requireOK(t, r)
	require.Equal(t, snapshotDeleteJSON{StreamID: "game-1", Deleted: true}, decodeJSON[snapshotDeleteJSON](t, r.stdout))
	requireFail(t, b.cli(t, "snapshot", "delete", "game-1"), `delete snapshot of stream "game-1": snapshot not found`)
	_, err = b.store.ReadSnapshot(t.Context(), "game-1", store.AnySchemaVersion)
	require.ErrorIs(t, err, store.ErrSnapshotNotFound)
}

// appRoleURL creates a login role in eventstore_app on b's server and
// returns b's database URL for it.
func appRoleURL(t *testing.T, b *bundle) string {
	t.Helper()
	admin := testdb.Connect(t, testdb.ServerURL(t))
	role := fmt.Sprintf("es_cli_op_%d", time.Now().UnixNano())
	_, err := admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE eventstore_app`, role, role))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	u, err := url.Parse(b.url)
	require.NoError(t, err)
	u.User = url.UserPassword(role, role)
	return u.String()
}
