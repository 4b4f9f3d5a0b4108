package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// fuzzMaxBatch is the MaxAppendBatch of the fuzzed store, so that batch
// sizes on both sides of the limit are cheap.
const fuzzMaxBatch = 100

// fuzzNumber is a typed event whose float field may be NaN or ±Inf, which
// JSON cannot encode.
type fuzzNumber struct {
	V float64 `json:"v"`
}

func (fuzzNumber) EventType() string { return "fuzz_number" }
func (fuzzNumber) EventVersion() int { return 1 }

// Append input flags of FuzzAppend.
const (
	// flagBadLast puts the fuzzed data in the batch's last event instead
	// of its first, behind valid ones.
	flagBadLast = 1 << iota
	// flagNumber appends a fuzzNumber{V: num} as the last event.
	flagNumber
	// flagRepeatID gives the last event the id of the first.
	flagRepeatID
	// flagFixedIDs derives the event ids from the input, so a repeated
	// input re-sends the same events (idempotent or a duplicate).
	flagFixedIDs
)

// appendErrors are the errors an Append may return for bad input or a
// refused write: typed, so errors.Is tells them apart. Anything else (a
// bare database error, a connection error) fails the fuzz target.
var appendErrors = []error{
	store.ErrInvalidStreamID, store.ErrInvalidExpectedVersion, store.ErrInvalidBatchSize,
	store.ErrInvalidGuildID, store.ErrGuildRequired, store.ErrGuildMismatch,
	store.ErrInvalidEventType, store.ErrInvalidEventData, store.ErrSerializationFailed,
	store.ErrWrongExpectedVersion, store.ErrStreamDeleted, store.ErrStreamFull, store.ErrDuplicateEvent,
	store.ErrEventTooLarge, store.ErrBatchTooLarge,
}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// nested returns a JSON object nested depth levels deep.
func nested(depth int) []byte {
	return []byte(`{"a":` + strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth) + `}`)
}

// FuzzAppend appends fuzzed batches: stream ids, guilds, expected
// versions, batch sizes (0 to 255; the store takes at most 100), event
// types and versions, data (huge, deeply nested, invalid UTF-8, \u0000,
// NaN/Infinity, numbers PostgreSQL cannot store, not JSON at all) and
// metadata. Every input ends in success or one of appendErrors, never a
// panic, and never a partial write: a failed append stored nothing, a
// successful one stored the whole batch (or found it stored whole
// already: an idempotent re-append) and its stream grew by exactly the
// batch, and the first event's type, version and metadata are stored as
// given. One database serves every input.
func FuzzAppend(f *testing.F) {
	big := strings.Repeat("x", 1<<20)
	seeds := []struct {
		stream, guild   string
		expected        int64
		size            uint8
		typ             string
		version         int
		data            string
		metaKey, metaVa string
		num             float64
		flags           uint8
	}{
		{stream: "game-1", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"n":1}`, metaKey: "k", metaVa: "v"},
		{stream: "game-1", guild: "g", expected: 1, size: 3, typ: "t", version: 1, data: `{"n":2}`},
		{stream: "game-1", guild: "g", expected: 0, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "game-1", guild: "other-guild", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "game-2", guild: "g", expected: -2, size: 100, typ: "t", version: 1, data: `{}`},
		{stream: "game-2", guild: "g", expected: -3, size: 101, typ: "t", version: 1, data: `{}`},
		{stream: "game-3", guild: "g", expected: -3, size: 0, typ: "t", version: 1, data: `{}`},
		{stream: "game-3", guild: "g", expected: -1, size: 255, typ: "t", version: 1, data: `{}`},
		{stream: "", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "$all", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: strings.Repeat("s", 256), guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: strings.Repeat("é", 255), guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "a\nb", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "a\x00b", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "bad-\xff", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "'; DROP TABLE eventstore.events; --", guild: "g'; --", expected: -1, size: 1, typ: "t'); --", version: 1, data: `{"'; --":"x"}`, metaKey: "';", metaVa: "--"},
		{stream: "guilds", guild: "", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "guilds", guild: strings.Repeat("g", 101), expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "guilds", guild: "g\x00", expected: -1, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "expected", guild: "g", expected: -4, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "expected", guild: "g", expected: math.MinInt64, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "expected", guild: "g", expected: math.MaxInt64, size: 1, typ: "t", version: 1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "", version: 1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: strings.Repeat("t", 256), version: 1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "t\x00", version: 1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "t\xff", version: 1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "t", version: 0, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "t", version: -1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "t", version: 1<<30 + 1, data: `{}`},
		{stream: "types", guild: "g", expected: -1, size: 1, typ: "t", version: math.MaxInt, data: `{}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: ``},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `[]`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `null`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `"text"`},
		{stream: "data", guild: "g", expected: -1, size: 2, typ: "t", version: 1, data: `{`, flags: flagBadLast},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":"\u0000"}`},
		{stream: "data", guild: "g", expected: -1, size: 5, typ: "t", version: 1, data: `{"\u0000":1}`, flags: flagBadLast},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: "{\"a\":\"\xff\xfe\"}"},
		{stream: "data", guild: "g", expected: -1, size: 3, typ: "t", version: 1, data: "{\"\xc3\x28\":1}", flags: flagBadLast},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":"\ud800"}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":NaN}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":Infinity}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":1e1000000}`},
		{stream: "data", guild: "g", expected: -1, size: 4, typ: "t", version: 1, data: `{"a":-1e131072}`, flags: flagBadLast},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":1e-1000000}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":123456789012345678901234567890}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":1,"a":2}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: string(nested(5000))},
		{stream: "data", guild: "g", expected: -1, size: 2, typ: "t", version: 1, data: string(nested(10001)), flags: flagBadLast},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"a":"` + big + `"}`},
		{stream: "data", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{"` + big + `":1}`},
		{stream: "meta", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`, metaKey: "", metaVa: ""},
		{stream: "meta", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`, metaKey: "k\x00", metaVa: "v"},
		{stream: "meta", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`, metaKey: "k", metaVa: "v\x00"},
		{stream: "meta", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`, metaKey: "k\xff", metaVa: "v"},
		{stream: "meta", guild: "g", expected: -1, size: 1, typ: "t", version: 1, data: `{}`, metaKey: "k", metaVa: big},
		{stream: "numbers", guild: "g", expected: -1, size: 2, typ: "t", version: 1, data: `{}`, num: math.NaN(), flags: flagNumber},
		{stream: "numbers", guild: "g", expected: -1, size: 2, typ: "t", version: 1, data: `{}`, num: math.Inf(1), flags: flagNumber},
		{stream: "numbers", guild: "g", expected: -1, size: 2, typ: "t", version: 1, data: `{}`, num: math.Inf(-1), flags: flagNumber},
		{stream: "numbers", guild: "g", expected: -1, size: 2, typ: "t", version: 1, data: `{}`, num: math.MaxFloat64, flags: flagNumber},
		{stream: "ids", guild: "g", expected: -1, size: 3, typ: "t", version: 1, data: `{}`, flags: flagRepeatID},
		{stream: "ids", guild: "g", expected: -1, size: 3, typ: "t", version: 1, data: `{"fixed":1}`, flags: flagFixedIDs},
		{stream: "ids", guild: "g", expected: -1, size: 3, typ: "t", version: 1, data: `{"fixed":1}`, flags: flagFixedIDs},
		{stream: "ids-2", guild: "g", expected: -1, size: 3, typ: "t", version: 1, data: `{"fixed":1}`, flags: flagFixedIDs},
	}
	for _, s := range seeds {
		f.Add(s.stream, s.guild, s.expected, s.size, s.typ, s.version, []byte(s.data), s.metaKey, s.metaVa, s.num, s.flags)
	}

	pool := testdb.New(f)
	s := store.New(pool, store.Config{MaxAppendBatch: fuzzMaxBatch, MaxStreamEvents: 1000, Retry: store.RetryPolicy{MaxAttempts: 1}})
	f.Cleanup(s.Close)

	f.Fuzz(func(t *testing.T, streamID, guild string, expected int64, size uint8, typ string, version int,
		data []byte, metaKey, metaVal string, num float64, flags uint8) {
		n := int(size)
		events := make([]store.Event, n)
		for i := range events {
			events[i] = store.Event{ID: uuid.New(), Data: serde.Raw{Type: "fuzz", Version: 1, Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}}
			if flags&flagFixedIDs != 0 {
				events[i].ID = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%q/%d/%x", streamID, i, data))
			}
		}
		if n > 0 {
			bad := 0
			if flags&flagBadLast != 0 {
				bad = n - 1
			}
			events[bad].Data = serde.Raw{Type: typ, Version: version, Data: json.RawMessage(data)}
			events[bad].Metadata = map[string]string{metaKey: metaVal}
			if flags&flagNumber != 0 {
				events[n-1].Data = fuzzNumber{V: num}
			}
			if flags&flagRepeatID != 0 {
				events[n-1].ID = events[0].ID
			}
		}
		ids := make([]uuid.UUID, n)
		for i, ev := range events {
			ids[i] = ev.ID
		}

		ctx := store.WithGuild(t.Context(), guild)
		storedBefore := countIDs(t, pool, ids)
		streamBefore := streamRows(t, pool, streamID)
		res, err := s.Append(ctx, streamID, store.ExpectedVersion(expected), events...)
		storedAfter := countIDs(t, pool, ids)
		streamAfter := streamRows(t, pool, streamID)
		distinct := countDistinct(ids)

		written := storedAfter - storedBefore
		require.True(t, written == 0 || written == distinct,
			"partial write: this append stored %d of %d events (error: %v)", written, distinct, err)
		if err != nil {
			require.True(t, isOneOf(err, appendErrors), "untyped error %T: %v (class %s)", errors.Unwrap(err), err, store.Classify(err))
			require.Equal(t, storedBefore, storedAfter, "a failed append changed what is stored (error: %v)", err)
			require.Equal(t, streamBefore, streamAfter, "a failed append changed the stream (error: %v)", err)
			return
		}
		require.Equal(t, n, storedAfter, "every event of a successful append is stored")
		require.True(t, storedBefore == 0 || storedBefore == n, "success although %d of the %d ids were stored already", storedBefore, n)
		if storedBefore > 0 {
			// Idempotency goes by event id: the events stored first stay.
			require.Equal(t, streamBefore, streamAfter, "an idempotent re-append stores nothing")
			return
		}
		require.Equal(t, streamBefore+n, streamAfter, "the stream grew by the batch")
		require.Equal(t, int64(streamAfter), res.Version)
		var gotType string
		var gotVersion int
		var gotMeta map[string]string
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT event_type, event_version, metadata FROM eventstore.events WHERE event_id = $1`, ids[0]).Scan(&gotType, &gotVersion, &gotMeta))
		require.Equal(t, events[0].Data.EventType(), gotType)
		require.Equal(t, events[0].Data.EventVersion(), gotVersion)
		if len(events[0].Metadata) > 0 {
			require.Equal(t, events[0].Metadata, gotMeta)
		}
	})
}

func countDistinct(ids []uuid.UUID) int {
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

// countIDs counts the stored events among ids.
func countIDs(t *testing.T, pool *pgxpool.Pool, ids []uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM eventstore.events WHERE event_id = ANY($1::text[]::uuid[])`, idTexts(ids)).Scan(&n))
	return n
}

// streamRows counts a stream's stored events; 0 for an id PostgreSQL
// cannot even take as a parameter (invalid UTF-8, NUL), which the store
// refuses before sending anything.
func streamRows(t *testing.T, pool *pgxpool.Pool, streamID string) int {
	t.Helper()
	if !utf8.ValidString(streamID) || strings.IndexByte(streamID, 0) >= 0 {
		return 0
	}
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM eventstore.events WHERE stream_id = $1`, streamID).Scan(&n))
	return n
}

// FuzzRead reads a stream of five events with fuzzed stream ids, start
// versions and counts, forward, backward and through the Stream iterator.
// Every read returns events in order or one of the read errors, never
// panics.
func FuzzRead(f *testing.F) {
	for _, seed := range []struct {
		stream string
		from   int64
		count  int
	}{
		{"read-1", 1, 10}, {"read-1", 0, 1}, {"read-1", 5, 1000}, {"read-1", 6, 1}, {"read-1", -1, 10},
		{"read-1", -2, 10}, {"read-1", math.MaxInt64, 10}, {"read-1", math.MinInt64, 10}, {"read-1", 1, 0},
		{"read-1", 1, -1}, {"read-1", 1, 1001}, {"read-1", 1, math.MaxInt}, {"read-1", 1, math.MinInt},
		{"missing", 1, 10}, {"", 1, 10}, {"$all", 1, 10}, {"a\x00", 1, 10}, {"\xff", 1, 10},
		{"'; DROP TABLE eventstore.events; --", 1, 10},
	} {
		f.Add(seed.stream, seed.from, seed.count)
	}
	pool := testdb.New(f)
	s := store.New(pool, store.Config{Retry: store.RetryPolicy{MaxAttempts: 1}})
	f.Cleanup(s.Close)
	_, err := s.Append(store.WithGuild(context.Background(), "g"), "read-1", store.NoStream, rawEvents(5, 1)...)
	require.NoError(f, err)
	readErrors := []error{store.ErrInvalidStreamID, store.ErrInvalidStartVersion, store.ErrInvalidBatchSize, store.ErrStreamNotFound}

	f.Fuzz(func(t *testing.T, streamID string, from int64, count int) {
		ctx := t.Context()
		check := func(recs []store.Recorded, err error, step int64) {
			t.Helper()
			if err != nil {
				require.True(t, isOneOf(err, readErrors), "untyped error: %v", err)
				return
			}
			require.LessOrEqual(t, len(recs), max(count, 0))
			for i, r := range recs {
				require.Equal(t, streamID, r.StreamID)
				if i > 0 {
					require.Equal(t, recs[i-1].Version+step, r.Version)
				}
			}
		}
		recs, err := s.ReadForward(ctx, streamID, from, count)
		check(recs, err, 1)
		recs, err = s.ReadBackward(ctx, streamID, from, count)
		check(recs, err, -1)
		if count > 0 && count <= 1000 {
			var got []store.Recorded
			var iterErr error
			for r, err := range s.Stream(ctx, streamID, from, count) {
				if err != nil {
					iterErr = err
					break
				}
				got = append(got, r)
			}
			if iterErr != nil {
				require.True(t, isOneOf(iterErr, readErrors), "untyped error: %v", iterErr)
			}
			for i := 1; i < len(got); i++ {
				require.Equal(t, got[i-1].Version+1, got[i].Version)
			}
		}
	})
}

// FuzzParseExpectedVersion: a parsed expected version prints back to a
// text that parses to the same value; anything else is
// ErrInvalidExpectedVersion.
func FuzzParseExpectedVersion(f *testing.F) {
	for _, s := range []string{"any", "no_stream", "stream_exists", "0", "42", "-1", "-4", "9223372036854775807",
		"9223372036854775808", "", " 1", "1 ", "+1", "0x10", "ANY", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := store.ParseExpectedVersion(s)
		if err != nil {
			require.ErrorIs(t, err, store.ErrInvalidExpectedVersion)
			return
		}
		again, err := store.ParseExpectedVersion(v.String())
		require.NoError(t, err)
		require.Equal(t, v, again)
	})
}

// FuzzParseCheckpoint: a parsed checkpoint prints back to a text that
// parses to the same value; anything else is ErrInvalidArgument.
func FuzzParseCheckpoint(f *testing.F) {
	for _, s := range []string{"0", "", "1/2", "18446744073709551615/9223372036854775807", "18446744073709551616/1",
		"1/-1", "-1/1", "1/", "/1", "1/2/3", "a/b", " 1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cp, err := store.ParseCheckpoint(s)
		if err != nil {
			require.ErrorIs(t, err, store.ErrInvalidArgument)
			return
		}
		again, err := store.ParseCheckpoint(cp.String())
		require.NoError(t, err)
		require.Equal(t, cp, again)
	})
}
