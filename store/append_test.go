package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestAppendAndRead(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvents(3, 1)...)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Version)
	require.Equal(t, res.FirstPosition+2, res.LastPosition)

	recs, err := b.store.ReadForward(b.ctx, "game-1", 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
		require.Equal(t, i+1, eventN(t, r))
		require.Equal(t, "test_event", r.Type)
		require.Equal(t, 1, r.StoredVersion)
		require.Equal(t, testGuild, r.GuildID)
		require.Equal(t, res.FirstPosition+int64(i), r.GlobalPosition)
		require.NotEqual(t, uuid.Nil, r.ID)
		require.Equal(t, "UTC", r.CreatedAt.Location().String())
	}
}

func TestAppendKeepsIDsMetadataAndCausation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, cause, corr := uuid.New(), uuid.New(), uuid.New()
	ev := rawEvent("test_event", 1)
	ev.ID, ev.CausationID, ev.CorrelationID = id, cause, corr
	ev.Metadata = map[string]string{"user": "ünïcode ✓", "command": "guess"}
	_, err := b.store.Append(b.ctx, "game-1", store.Any, ev)
	require.NoError(t, err)

	recs, err := b.store.ReadForward(b.ctx, "game-1", 1, 1)
	require.NoError(t, err)
	require.Equal(t, id, recs[0].ID)
	require.Equal(t, cause, recs[0].CausationID)
	require.Equal(t, corr, recs[0].CorrelationID)
	require.Equal(t, ev.Metadata, recs[0].Metadata.Strings())
}

// TestExpectedVersion covers every expected-version mode against a missing,
// an existing, an empty and a soft-deleted stream.
func TestExpectedVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// existing: 2 events; empty: created with no events; deleted: 1 event, soft-deleted.
	_, err := b.store.Append(b.ctx, "existing", store.NoStream, rawEvents(2, 0)...)
	require.NoError(t, err)
	require.NoError(t, b.store.CreateStream(b.ctx, "empty"))
	_, err = b.store.Append(b.ctx, "deleted", store.NoStream, rawEvents(1, 0)...)
	require.NoError(t, err)
	_, err = b.store.DeleteStream(b.ctx, "deleted", store.Exact(1))
	require.NoError(t, err)

	tests := []struct {
		name     string
		stream   string // "missing" gets a fresh id per case
		expected store.ExpectedVersion
		wantErr  []error // nil: success
		actual   int64   // for conflicts
		version  int64   // for successes: version after appending one event
	}{
		{"any/missing", "missing", store.Any, nil, 0, 1},
		{"any/existing", "existing", store.Any, nil, 0, 3},
		{"any/empty", "empty", store.Any, nil, 0, 1},
		{"any/deleted", "deleted", store.Any, []error{store.ErrStreamDeleted}, 0, 0},
		{"no_stream/missing", "missing", store.NoStream, nil, 0, 1},
		{"no_stream/existing", "existing", store.NoStream, []error{store.ErrWrongExpectedVersion, store.ErrStreamExists}, 2, 0},
		{"no_stream/empty", "empty", store.NoStream, nil, 0, 1},
		{"no_stream/deleted", "deleted", store.NoStream, []error{store.ErrStreamDeleted}, 0, 0},
		{"stream_exists/missing", "missing", store.StreamExists, []error{store.ErrWrongExpectedVersion, store.ErrStreamNotFound}, -1, 0},
		{"stream_exists/existing", "existing", store.StreamExists, nil, 0, 3},
		{"stream_exists/empty", "empty", store.StreamExists, nil, 0, 1},
		{"stream_exists/deleted", "deleted", store.StreamExists, []error{store.ErrStreamDeleted}, 0, 0},
		{"exact0/missing", "missing", store.Exact(0), nil, 0, 1},
		{"exact1/missing", "missing", store.Exact(1), []error{store.ErrWrongExpectedVersion, store.ErrStreamNotFound}, -1, 0},
		{"exact2/existing", "existing", store.Exact(2), nil, 0, 3},
		{"exact1/existing", "existing", store.Exact(1), []error{store.ErrWrongExpectedVersion}, 2, 0},
		{"exact3/existing", "existing", store.Exact(3), []error{store.ErrWrongExpectedVersion}, 2, 0},
		{"exact0/empty", "empty", store.Exact(0), nil, 0, 1},
		{"exact1/empty", "empty", store.Exact(1), []error{store.ErrWrongExpectedVersion}, 0, 0},
		{"exact1/deleted", "deleted", store.Exact(1), []error{store.ErrStreamDeleted}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case works on its own copy of the stream so that cases stay independent.
			stream := tt.stream
			switch stream {
			case "missing":
				stream = "missing-" + uuid.NewString()
			case "existing", "empty":
				stream = tt.stream + "-" + uuid.NewString()
				if tt.stream == "existing" {
					_, err := b.store.Append(b.ctx, stream, store.NoStream, rawEvents(2, 0)...)
					require.NoError(t, err)
				} else {
					require.NoError(t, b.store.CreateStream(b.ctx, stream))
				}
			}
			before := countRows(t, b, stream)
			res, err := b.store.Append(b.ctx, stream, tt.expected, rawEvent("test_event", 9))
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, tt.version, res.Version)
				require.Equal(t, before+1, countRows(t, b, stream))
				return
			}
			for _, want := range tt.wantErr {
				require.ErrorIs(t, err, want)
			}
			require.Equal(t, before, countRows(t, b, stream), "nothing stored")
			if errors.Is(err, store.ErrWrongExpectedVersion) {
				var conflict *store.VersionConflictError
				require.ErrorAs(t, err, &conflict)
				require.Equal(t, stream, conflict.Stream)
				require.Equal(t, tt.expected, conflict.Expected)
				require.Equal(t, tt.actual, conflict.Actual)
			}
			require.Contains(t, err.Error(), `append to stream "`+stream+`"`)
		})
	}
}

func TestAppendValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := rawEvent("test_event", 1)
	tests := []struct {
		name    string
		ctx     func() (stream string, expected store.ExpectedVersion, evs []store.Event)
		noGuild bool
		want    error
	}{
		{"empty stream id", func() (string, store.ExpectedVersion, []store.Event) { return "", store.Any, []store.Event{ok} }, false, store.ErrInvalidStreamID},
		{"long stream id", func() (string, store.ExpectedVersion, []store.Event) {
			return string(make([]byte, 256)), store.Any, []store.Event{ok}
		}, false, store.ErrInvalidStreamID},
		{"control char", func() (string, store.ExpectedVersion, []store.Event) { return "a\nb", store.Any, []store.Event{ok} }, false, store.ErrInvalidStreamID},
		{"reserved $", func() (string, store.ExpectedVersion, []store.Event) { return "$all", store.Any, []store.Event{ok} }, false, store.ErrInvalidStreamID},
		{"bad expected", func() (string, store.ExpectedVersion, []store.Event) { return "s", store.Exact(-5), []store.Event{ok} }, false, store.ErrInvalidExpectedVersion},
		{"empty batch", func() (string, store.ExpectedVersion, []store.Event) { return "s", store.Any, nil }, false, store.ErrInvalidBatchSize},
		{"nil data", func() (string, store.ExpectedVersion, []store.Event) {
			return "s", store.Any, []store.Event{ok, {}}
		}, false, store.ErrInvalidEventData},
		{"not an object", func() (string, store.ExpectedVersion, []store.Event) {
			bad := rawEvent("x", 1)
			bad.Data = rawData("x", `[1,2]`)
			return "s", store.Any, []store.Event{ok, bad}
		}, false, store.ErrInvalidEventData},
		{"invalid json", func() (string, store.ExpectedVersion, []store.Event) {
			bad := rawEvent("x", 1)
			bad.Data = rawData("x", `{"a":`)
			return "s", store.Any, []store.Event{ok, bad}
		}, false, store.ErrInvalidEventData},
		{"nul in json", func() (string, store.ExpectedVersion, []store.Event) {
			bad := rawEvent("x", 1)
			bad.Data = rawData("x", `{"a":"\u0000"}`)
			return "s", store.Any, []store.Event{ok, bad}
		}, false, store.ErrInvalidEventData},
		{"empty type", func() (string, store.ExpectedVersion, []store.Event) {
			bad := rawEvent("x", 1)
			bad.Data = rawData("", `{}`)
			return "s", store.Any, []store.Event{ok, bad}
		}, false, store.ErrInvalidEventType},
		{"duplicate id in batch", func() (string, store.ExpectedVersion, []store.Event) {
			a, c := rawEvent("x", 1), rawEvent("x", 2)
			a.ID = uuid.New()
			c.ID = a.ID
			return "s", store.Any, []store.Event{a, c}
		}, false, store.ErrDuplicateEvent},
		{"missing guild", func() (string, store.ExpectedVersion, []store.Event) { return "s", store.Any, []store.Event{ok} }, true, store.ErrGuildRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, expected, evs := tt.ctx()
			ctx := b.ctx
			if tt.noGuild {
				ctx = t.Context()
			}
			_, err := b.store.Append(ctx, stream, expected, evs...)
			require.ErrorIs(t, err, tt.want)
			var n int
			require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM eventstore.events) + (SELECT count(*) FROM eventstore.streams)`).Scan(&n))
			require.Zero(t, n, "nothing stored")
		})
	}
}

// TestAppendRefusesMalformedEventType: an event type with a NUL byte,
// invalid UTF-8 or a control character is refused as ErrInvalidEventType
// before any SQL (PostgreSQL used to refuse it, as ErrInvalidEventData).
func TestAppendRefusesMalformedEventType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stores := map[string]*store.Store{"database": b.store, "no server": offlineStore(t)}
	for _, typ := range []string{"\x00", "\xff", "a\x00b", "game\xc3", "a\nb", "\t", "a\x7fb", "a\u0085b"} {
		t.Run(fmt.Sprintf("%q", typ), func(t *testing.T) {
			for name, s := range stores {
				_, err := s.Append(b.ctx, "game-1", store.Any, rawEvent("test_event", 1), store.Event{Data: rawData(typ, `{"n": 2}`)})
				require.ErrorIs(t, err, store.ErrInvalidEventType, name)
				require.NotErrorIs(t, err, store.ErrInvalidEventData, name)
				require.ErrorContains(t, err, "event 2 of 2", name)
			}
			require.Zero(t, countRows(t, b, "game-1"), "nothing stored")
		})
	}

	// Non-ASCII types that are none of these are stored as they are.
	for _, typ := range []string{"événement_joué", "ゲーム開始", "a\u00a0b"} {
		_, err := b.store.Append(b.ctx, "game-2", store.Any, store.Event{Data: rawData(typ, `{}`)})
		require.NoError(t, err, typ)
	}
	recs, err := b.store.ReadForward(b.ctx, "game-2", 0, 10)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, "ゲーム開始", recs[1].Type)
}

// TestAppendFunctionValidatesInSQL calls append_events directly, as a psql
// user would, to show the SQL layer refuses bad input on its own.
func TestAppendFunctionValidatesInSQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name string
		sql  string
		want error
	}{
		{"empty stream id", `SELECT * FROM eventstore.append_events('', 'g', -1, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`, store.ErrInvalidStreamID},
		{"empty batch", `SELECT * FROM eventstore.append_events('s', 'g', -1, ARRAY[]::uuid[], ARRAY[]::text[], ARRAY[]::int[], ARRAY[]::jsonb[])`, store.ErrInvalidBatchSize},
		{"length mismatch", `SELECT * FROM eventstore.append_events('s', 'g', -1, ARRAY[gen_random_uuid()], ARRAY['t','u'], ARRAY[1], ARRAY['{}'::jsonb])`, store.ErrInvalidBatchSize},
		{"bad element", `SELECT * FROM eventstore.append_events('s', 'g', -1, ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY['t','u'], ARRAY[1, 0], ARRAY['{}'::jsonb, '{}'])`, store.ErrInvalidEventData},
		{"data not object", `SELECT * FROM eventstore.append_events('s', 'g', -1, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['3'::jsonb])`, store.ErrInvalidEventData},
		{"bad expected", `SELECT * FROM eventstore.append_events('s', 'g', -7, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`, store.ErrInvalidExpectedVersion},
		{"empty guild", `SELECT * FROM eventstore.append_events('s', '', -1, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`, store.ErrInvalidGuildID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.pool.Exec(t.Context(), tt.sql)
			require.ErrorIs(t, store.MapError(err), tt.want)
		})
	}
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.events`).Scan(&n))
	require.Zero(t, n)
}

// TestAppendNewStreamRefusals calls append_events directly, with and
// without the stored-id probe, on stream ids that no stream of the guild
// has: whatever the new-stream fast path cannot take (an invalid id,
// another guild's or a deleted stream, an expected version a new stream
// is not at, a batch over the limit, a stored or repeated id) is refused
// with its own error, and nothing is stored, not even the stream's row.
func TestAppendNewStreamRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range newStreamRefusals(t, b) {
		for _, probe := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/probe=%v", tt.name, probe), func(t *testing.T) {
				types, versions, data := make([]string, len(tt.ids)), make([]int32, len(tt.ids)), make([]string, len(tt.ids))
				for i := range tt.ids {
					types[i], versions[i], data[i] = "e", 1, `{"n": 1}`
				}
				_, err := b.pool.Exec(b.ctx, `SELECT * FROM eventstore.append_events($1, $2, $3, $4::text[]::uuid[], $5, $6,
					$7::text[]::jsonb[], p_max_stream_events => $8, p_probe_ids => $9)`,
					tt.stream, testGuild, int64(tt.expected), idTexts(tt.ids), types, versions, data, tt.limit, probe)
				require.ErrorIs(t, store.MapError(err), tt.want, "%v", err)
				tt.requireNothingStored(t, b)
			})
		}
	}
}

// newStreamRefusal is an append to a stream id that no stream of the test
// guild has, which must not create the stream, and the error it gets.
type newStreamRefusal struct {
	name     string
	stream   string
	expected store.ExpectedVersion
	ids      []uuid.UUID
	limit    *int64 // the stream limit the call passes; nil: none
	want     error
	// failsBatch: in append_batch the unique index refuses the id, which
	// fails the statement as a whole rather than the call alone.
	failsBatch bool
}

// newStreamRefusals stores what the cases meet (another guild's stream
// "taken", the deleted stream "gone", a stored id in "has-id") and returns
// the cases: an invalid id, another guild's or a deleted stream, an
// expected version a new stream is not at, a batch over the limit, a
// stored or a repeated id.
func newStreamRefusals(t *testing.T, b *bundle) []newStreamRefusal {
	t.Helper()
	_, err := b.store.Append(store.WithGuild(b.ctx, "guild-2"), "taken", store.NoStream, rawEvent("e", 1))
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "gone", store.NoStream, rawEvent("e", 1))
	require.NoError(t, err)
	_, err = b.store.DeleteStream(b.ctx, "gone", store.Any)
	require.NoError(t, err)
	stored := uuid.New()
	_, err = b.store.Append(b.ctx, "has-id", store.NoStream, store.Event{ID: stored, Data: rawEvent("e", 1).Data})
	require.NoError(t, err)
	repeated := uuid.New()
	three := func() []uuid.UUID { return []uuid.UUID{uuid.New(), uuid.New(), uuid.New()} }
	two := int64(2)
	return []newStreamRefusal{
		{"reserved id", "$new", store.NoStream, three(), nil, store.ErrInvalidStreamID, false},
		{"leading space", " new", store.Any, three(), nil, store.ErrInvalidStreamID, false},
		{"zero-width space", "n\u200bew", store.Exact(0), three(), nil, store.ErrInvalidStreamID, false},
		{"another guild's stream", "taken", store.NoStream, three(), nil, store.ErrGuildMismatch, false},
		{"deleted stream", "gone", store.Any, three(), nil, store.ErrStreamDeleted, false},
		{"stream_exists", "new-1", store.StreamExists, three(), nil, store.ErrStreamNotFound, false},
		{"exact 3", "new-2", store.Exact(3), three(), nil, store.ErrWrongExpectedVersion, false},
		{"over the limit", "new-3", store.NoStream, three(), &two, store.ErrStreamFull, false},
		{"stored id", "new-4", store.Any, []uuid.UUID{uuid.New(), stored}, nil, store.ErrDuplicateEvent, true},
		{"repeated id", "new-5", store.NoStream, []uuid.UUID{repeated, repeated}, nil, store.ErrDuplicateEvent, true},
	}
}

// requireNothingStored checks that the refused append left no stream row
// of the guild and stored none of its events.
func (tt newStreamRefusal) requireNothingStored(t *testing.T, b *bundle) {
	t.Helper()
	var rows int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM eventstore.streams
		WHERE stream_id = $1 AND guild_id = $2 AND deleted_at IS NULL`, tt.stream, testGuild).Scan(&rows))
	require.Zero(t, rows, "a stream row was left behind")
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM eventstore.events
		WHERE event_id = ANY ($1::text[]::uuid[]) AND stream_id <> 'has-id'`, idTexts(tt.ids)).Scan(&rows))
	require.Zero(t, rows, "an event was stored")
}

func TestIdempotentRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	evs := rawEvents(5, 0)
	for i := range evs {
		evs[i].ID = uuid.New()
	}
	first, err := b.store.Append(b.ctx, "game-1", store.NoStream, evs...)
	require.NoError(t, err)
	for _, expected := range []store.ExpectedVersion{store.NoStream, store.Exact(0), store.Any, store.StreamExists} {
		again, err := b.store.Append(b.ctx, "game-1", expected, evs...)
		require.NoError(t, err, expected.String())
		require.Equal(t, first, again)
	}
	require.Equal(t, 5, countRows(t, b, "game-1"))

	// A later append, then the old batch again: still the original result.
	_, err = b.store.Append(b.ctx, "game-1", store.Exact(5), rawEvent("test_event", 6))
	require.NoError(t, err)
	again, err := b.store.Append(b.ctx, "game-1", store.Exact(0), evs...)
	require.NoError(t, err)
	require.Equal(t, first, again)

	// The same ids in another stream, or a partial overlap, are duplicates.
	_, err = b.store.Append(b.ctx, "game-2", store.Any, evs...)
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	_, err = b.store.Append(b.ctx, "game-1", store.Any, evs[1], rawEvent("test_event", 7))
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	mixed := []store.Event{rawEvent("test_event", 8), evs[2]}
	mixed[0].ID = uuid.New()
	_, err = b.store.Append(b.ctx, "game-1", store.Any, mixed...)
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	require.Equal(t, 6, countRows(t, b, "game-1"))
	require.Equal(t, 0, countRows(t, b, "game-2"))
}

func TestGuildOwnsStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-1", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)
	other := store.WithGuild(t.Context(), "guild-2")
	_, err = b.store.Append(other, "game-1", store.Any, rawEvent("test_event", 2))
	require.ErrorIs(t, err, store.ErrGuildMismatch)
	_, err = b.store.DeleteStream(other, "game-1", store.Any)
	require.ErrorIs(t, err, store.ErrGuildMismatch)
	require.Equal(t, 1, countRows(t, b, "game-1"))
}

// badSerializer returns fixed bytes, to show the store refuses whatever a
// custom serializer produces that is not one JSON object.
type badSerializer struct{ out string }

func (b badSerializer) Marshal(serde.Event) ([]byte, error) { return []byte(b.out), nil }
func (badSerializer) Unmarshal(typ string, version int, data []byte) (serde.Event, error) {
	return serde.Passthrough{}.Unmarshal(typ, version, data)
}

func TestAppendRefusesBadSerializerOutput(t *testing.T) {
	t.Parallel()
	pool := setup(t).pool
	for _, out := range []string{`[1]`, `"x"`, `{"a":`, `{"a" 1}`, `{"a":1} {"b":2}`, ``} {
		t.Run(out, func(t *testing.T) {
			s := store.New(pool, store.Config{Serializer: badSerializer{out: out}})
			defer s.Close()
			_, err := s.Append(store.WithGuild(t.Context(), testGuild), "s", store.Any, rawEvent("x", 1))
			require.ErrorIs(t, err, store.ErrInvalidEventData)
			var n int
			require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM eventstore.streams`).Scan(&n))
			require.Zero(t, n)
		})
	}
}

// TestAppendFastPath checks which appends append_events completes in its
// one-statement fast path and which it hands to the full path
// (which alone validates with check_stream_id), by counting those calls in the
// transaction's function statistics. The behaviour of every refused case
// is covered by the expected-version, limit, lifecycle and guild tests.
// Turning on track_functions needs the server's superuser, so the test
// connects to its database with TEST_DATABASE_URL's role.
func TestAppendFastPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tx := trackedFunctionsTx(t, b)
	ctx := store.WithTx(b.ctx, tx)
	fullPathCalls := func() int64 { return functionCalls(t, tx, "check_stream_id") }

	_, err := b.store.Append(ctx, "game-1", store.NoStream, rawEvents(1, 1)...)
	require.NoError(t, err)
	require.Zero(t, fullPathCalls(), "a new stream takes the fast path")
	_, err = b.store.Append(ctx, "game-0", store.Exact(0), rawEvents(2, 1)...)
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "game-00", store.Any, rawEvents(2, 1)...)
	require.NoError(t, err)
	require.Zero(t, fullPathCalls(), "a new stream takes the fast path with exact 0 and any too")

	second := rawEvents(2, 2)
	for i := range second {
		second[i].ID = uuid.New()
	}
	res, err := b.store.Append(ctx, "game-1", store.Exact(1), second...)
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Version)
	require.Equal(t, res.FirstPosition+1, res.LastPosition)
	_, err = b.store.Append(ctx, "game-1", store.Any, rawEvents(1, 4)...)
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "game-1", store.StreamExists, rawEvents(1, 5)...)
	require.NoError(t, err)
	require.Zero(t, fullPathCalls(), "appends at the expected version take the fast path")

	replay, err := b.store.Append(ctx, "game-1", store.Exact(1), second...)
	require.NoError(t, err)
	require.Equal(t, res, replay, "a replay returns the original result")
	require.Equal(t, int64(1), fullPathCalls(), "a replay is recognised by the full path")

	require.NoError(t, b.store.CreateStream(ctx, "game-2"))
	created := fullPathCalls()
	_, err = b.store.Append(ctx, "game-2", store.NoStream, rawEvents(1, 1)...)
	require.NoError(t, err)
	require.Equal(t, created, fullPathCalls(), "no_stream on an empty stream takes the fast path")

	recs, err := b.store.ReadForward(ctx, "game-1", 1, 10)
	require.NoError(t, err)
	require.Len(t, recs, 5)
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Version)
		require.Equal(t, i+1, eventN(t, r))
	}
}

// TestAppendLeanPathOpensNoLookup: the lean fast path (the store's own
// appends outside a caller's transaction, p_probe_ids false) touches the
// events table only with its INSERT. A test that names a lookup in a
// condition, even one that AND then skips, makes the executor open the
// lookup's relation and index on every call; append_events' fast path once
// paid that for the new-stream path's duplicate-id probe. Its locks show
// what a statement opened: the probe path, which does look the ids up,
// holds the events table for reading.
func TestAppendLeanPathOpensNoLookup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "game-lean", store.NoStream, rawEvents(1, 1)...)
	require.NoError(t, err)
	version := int64(1)
	readLocked := func(probe bool) bool {
		t.Helper()
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(context.Background()) }()
		_, err = tx.Exec(b.ctx, `SELECT * FROM eventstore.append_events($1, $2, $3, $4::text[]::uuid[], ARRAY['e'], ARRAY[1],
			ARRAY['{"n": 1}'::jsonb], p_probe_ids => $5)`, "game-lean", testGuild, version, []string{uuid.NewString()}, probe)
		require.NoError(t, err)
		var locked bool
		require.NoError(t, tx.QueryRow(b.ctx, `SELECT EXISTS (SELECT FROM pg_locks l
			WHERE l.pid = pg_backend_pid() AND l.relation = 'eventstore.events'::regclass AND l.mode = 'AccessShareLock')`).Scan(&locked))
		return locked
	}
	require.True(t, readLocked(true), "the probe path looks the ids up in the events table")
	require.False(t, readLocked(false), "the lean path opens no lookup of the events table")
}

// trackedFunctionsTx begins a transaction on b's database in which the
// calls of PL/pgSQL functions are counted (functionCalls). Turning on
// track_functions needs the server's superuser, so it connects with
// TEST_DATABASE_URL's role; the test is skipped where that role cannot.
func trackedFunctionsTx(t *testing.T, b *bundle) pgx.Tx {
	t.Helper()
	cfg, err := pgx.ParseConfig(os.Getenv(testdb.EnvURL))
	require.NoError(t, err)
	cfg.Database = b.pool.Config().ConnConfig.Database
	conn, err := pgx.ConnectConfig(b.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	tx, err := conn.Begin(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(b.ctx, `SET LOCAL track_functions = 'pl'`); err != nil {
		t.Skipf("%s cannot turn on track_functions: %v", testdb.EnvURL, err)
	}
	return tx
}

// functionCalls returns how many times tx's transaction has called the
// eventstore function named function so far. A call that raised is not
// counted.
func functionCalls(t *testing.T, tx pgx.Tx, function string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, tx.QueryRow(t.Context(), `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_xact_user_functions
		WHERE schemaname = 'eventstore' AND funcname = $1`, function).Scan(&n))
	return n
}
