package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"unsafe"

	"github.com/gamebot/eventstore/db"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// scanAsGenerated reads rows of an events query the way sqlc's generated
// methods do: pgx scans each row into a struct of its own.
func scanAsGenerated(rows pgx.Rows) ([]*db.EventstoreEvent, error) {
	defer rows.Close()
	items := []*db.EventstoreEvent{}
	for rows.Next() {
		var i db.EventstoreEvent
		if err := rows.Scan(&i.GlobalPosition, &i.TransactionID, &i.StreamID, &i.StreamVersion, &i.EventID,
			&i.EventType, &i.EventVersion, &i.GuildID, &i.Data, &i.Metadata,
			&i.CausationID, &i.CorrelationID, &i.CreatedAt); err != nil {
			return nil, err
		}
		items = append(items, &i)
	}
	return items, rows.Err()
}

// requireSameRows compares two results of one query column by column
// (CreatedAt with its location: pgx's local time).
func requireSameRows(t *testing.T, want, got []*db.EventstoreEvent) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, *want[i], *got[i], "row %d", i)
		require.Equal(t, want[i].CreatedAt.Location(), got[i].CreatedAt.Location(), "row %d", i)
	}
}

// TestEventRowsDecodeAsPgxScans: the stream and feed reads decode an
// events query's wire values themselves (store/eventrows.go). Over stored
// events of every shape (metadata or none, causation and correlation ids or
// none, non-ASCII ids, types and data), in the formats pgx asks for and with
// every column forced to binary or to text, and over literal rows with
// NULLs, times before 1970 and 2000, and an infinite time, the result is
// what pgx's own scan (the generated code's) gives, errors included.
func TestEventRowsDecodeAsPgxScans(t *testing.T) {
	b := setup(t)
	ctx := b.ctx
	cause, corr := uuid.New(), uuid.New()
	_, err := b.store.Append(ctx, "rows-é-1", store.NoStream,
		rawEvent("plain", 1),
		store.Event{Data: rawData("with_meta", `{"text": "zwölf \"quoted\" \\ ✓"}`), Metadata: map[string]string{"actor": "42"}},
		store.Event{Data: rawData("ids", `{"n": 3}`), CausationID: cause, CorrelationID: corr},
		store.Event{Data: rawData("raw_meta", `{"n": 4}`), RawMetadata: json.RawMessage(`{"a": {"b": [1, true, null]}}`)},
	)
	require.NoError(t, err)
	_, err = b.store.Append(ctx, "rows-2", store.NoStream, rawEvents(70, 0)...)
	require.NoError(t, err)
	// The feed's horizon is cluster-wide: a transaction another test holds
	// open keeps the appends out of the feed until it ends.
	waitFeed(t, b, 74)

	feed := func(opts ...any) []any {
		return append(opts, uint64(0), int64(0), int32(10_000))
	}
	for _, tc := range []struct {
		name string
		args []any
	}{
		{"pgx's formats", feed()},
		{"every column binary", feed(pgx.QueryResultFormats{pgx.BinaryFormatCode})},
		{"every column text", feed(pgx.QueryResultFormats{pgx.TextFormatCode})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query := func() pgx.Rows {
				rows, err := b.pool.Query(ctx, db.EventsReadFeed, tc.args...)
				require.NoError(t, err)
				return rows
			}
			want, err := scanAsGenerated(query())
			require.NoError(t, err)
			require.Len(t, want, 74)
			// limit sizes the rows' backing arrays; each scan reuses the
			// memory the one before released.
			for _, limit := range []int{1, 64, 74, 10_000, 74} {
				got, release, err := store.ScanEventRows(query(), limit)
				require.NoError(t, err)
				requireSameRows(t, want, got)
				release()
			}
		})
	}

	// Consecutive rows of a stream share their strings.
	rows, err := b.pool.Query(ctx, db.EventsReadForward, "rows-2", int64(1), testGuild, int32(100))
	require.NoError(t, err)
	got, release, err := store.ScanEventRows(rows, 100)
	require.NoError(t, err)
	require.Len(t, got, 70)
	require.Equal(t, unsafe.StringData(got[0].StreamID), unsafe.StringData(got[69].StreamID))
	require.Equal(t, unsafe.StringData(got[0].GuildID), unsafe.StringData(got[69].GuildID))
	require.Equal(t, unsafe.StringData(got[0].EventType), unsafe.StringData(got[69].EventType))
	release()

	// Literal rows: what the store never writes, the decoder still reads as
	// pgx does.
	const literal = `SELECT v.gp::bigint, v.tx::xid8, v.sid::text, v.sv::bigint, v.eid::uuid, v.et::text, v.ev::int,
       v.gid::text, v.data::jsonb, v.meta::jsonb, v.cid::uuid, v.rid::uuid, v.at::timestamptz
  FROM (VALUES
    (1, '5', 'a', 1, '00000000-0000-0000-0000-000000000001', 't', 1, 'g', '{}', NULL, NULL, NULL, '1969-07-20 20:17:40.123456+00'),
    (2, '18446744073709551615', 'a', 2, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 't', -7, 'g', '[1, "x"]', '{"k": "v"}',
        '00000000-0000-0000-0000-000000000002', NULL, '1999-12-31 23:59:59.999999+00'),
    (3, '0', 'b', 3, '00000000-0000-0000-0000-000000000003', 'u', 2147483647, 'h', '"s"', 'null', NULL,
        '00000000-0000-0000-0000-000000000004', '2000-01-01 00:00:00+00'),
    (4, '7', 'b', 4, '00000000-0000-0000-0000-000000000005', 'u', 0, 'h', '{}', NULL, NULL, NULL, '0001-01-01 00:00:00+00'),
    (5, '8', 'b', 5, '00000000-0000-0000-0000-000000000006', 'u', 0, 'h', '{}', NULL, NULL, NULL, '294276-12-31 23:59:59.999999+00')
  ) AS v(gp, tx, sid, sv, eid, et, ev, gid, data, meta, cid, rid, at)
 WHERE v.gp <= $1 ORDER BY v.gp`
	queryLiteral := func(upTo int) pgx.Rows {
		rows, err := b.pool.Query(context.Background(), literal, upTo)
		require.NoError(t, err)
		return rows
	}
	want, err := scanAsGenerated(queryLiteral(5))
	require.NoError(t, err)
	got, release, err = store.ScanEventRows(queryLiteral(5), 10)
	require.NoError(t, err)
	requireSameRows(t, want, got)
	release()

	const infinite = `SELECT 1::bigint, '1'::xid8, 'a'::text, 1::bigint, gen_random_uuid(), 't'::text, 1, 'g'::text,
       '{}'::jsonb, NULL::jsonb, NULL::uuid, NULL::uuid, $1::timestamptz`
	for _, inf := range []string{"infinity", "-infinity"} {
		rows, err := b.pool.Query(ctx, infinite, inf)
		require.NoError(t, err)
		_, wantErr := scanAsGenerated(rows)
		require.Error(t, wantErr)
		rows, err = b.pool.Query(ctx, infinite, inf)
		require.NoError(t, err)
		_, _, err = store.ScanEventRows(rows, 1)
		require.EqualError(t, err, wantErr.Error())
	}
}

// TestFilteredFeedRowsDecodeAsPgxScans: a filtered feed read decodes the
// rows of db.EventsReadFeedFiltered itself, keeping its hits as the page's
// events and its last row's checkpoint and scanned count for the next
// call. For filters by type, stream prefix, guild and partition, with scan
// limits that end a page on a row that did not match, in the formats pgx
// asks for and with every column forced to binary or to text, the hits are
// the generated method's, column by column, and so are the last row and
// its count.
func TestFilteredFeedRowsDecodeAsPgxScans(t *testing.T) {
	b := setup(t)
	ctx := b.ctx
	for i := range 6 {
		evs := rawEvents(12, i)
		if i%2 == 1 {
			for j := range evs {
				if j%3 == 0 {
					evs[j] = store.Event{Data: rawData("other", `{"n": 1}`), Metadata: map[string]string{"k": "v"}}
				}
			}
		}
		_, err := b.store.Append(ctx, fmt.Sprintf("filt-%c-%d", 'a'+i%3, i), store.NoStream, evs...)
		require.NoError(t, err)
	}
	waitFeed(t, b, 72)

	type params = db.EventsReadFeedFilteredParams
	cases := []params{
		{EventTypes: []string{"other"}, ScanLimit: 1000, MaxCount: 100},
		{EventTypes: []string{"other"}, ScanLimit: 20, MaxCount: 100}, // ends on a row that did not match
		{EventTypes: []string{"other"}, ScanLimit: 1000, MaxCount: 3}, // ends on its last hit
		{StreamPrefix: "filt-b", ScanLimit: 30, MaxCount: 5},
		{StreamPrefix: "filt-c", ScanLimit: 10, MaxCount: 5}, // no hit: the last row alone
		{GuildID: testGuild, ScanLimit: 1000, MaxCount: 1000},
		{GuildID: "guild-nobody", ScanLimit: 1000, MaxCount: 10},
		{PartitionCount: 2, PartitionMember: 0, ScanLimit: 1000, MaxCount: 1000},
		{PartitionCount: 2, PartitionMember: 1, ScanLimit: 50, MaxCount: 1000},
		{EventTypes: []string{}, AfterTransactionID: ^uint64(0), ScanLimit: 10, MaxCount: 10}, // nothing after
	}
	for _, format := range []struct {
		name string
		opts []any
	}{
		{"pgx's formats", nil},
		{"every column binary", []any{pgx.QueryResultFormats{pgx.BinaryFormatCode}}},
		{"every column text", []any{pgx.QueryResultFormats{pgx.TextFormatCode}}},
	} {
		t.Run(format.name, func(t *testing.T) {
			for i, p := range cases {
				if p.EventTypes == nil {
					p.EventTypes = []string{}
				}
				query := func() pgx.Rows {
					args := append(append([]any{}, format.opts...), p.EventTypes, p.StreamPrefix, p.GuildID,
						p.PartitionCount, p.PartitionMember, p.AfterTransactionID, p.AfterPosition, p.ScanLimit, p.MaxCount)
					rows, err := b.pool.Query(ctx, db.EventsReadFeedFiltered, args...)
					require.NoError(t, err)
					return rows
				}
				// What the generated method scans.
				rows := query()
				var want []*db.EventstoreEvent
				var wantLast store.Checkpoint
				var wantScanned int64
				n := 0
				for rows.Next() {
					var r db.EventsReadFeedFilteredRow
					require.NoError(t, rows.Scan(&r.GlobalPosition, &r.TransactionID, &r.StreamID, &r.StreamVersion,
						&r.EventID, &r.EventType, &r.EventVersion, &r.GuildID, &r.Data, &r.Metadata, &r.CausationID,
						&r.CorrelationID, &r.CreatedAt, &r.Hit, &r.Scanned))
					n++
					wantLast = store.Checkpoint{TransactionID: r.TransactionID, Position: r.GlobalPosition}
					wantScanned = r.Scanned
					if r.Hit {
						want = append(want, &db.EventstoreEvent{GlobalPosition: r.GlobalPosition, TransactionID: r.TransactionID,
							StreamID: r.StreamID, StreamVersion: r.StreamVersion, EventID: r.EventID, EventType: r.EventType,
							EventVersion: r.EventVersion, GuildID: r.GuildID, Data: r.Data, Metadata: r.Metadata,
							CausationID: r.CausationID, CorrelationID: r.CorrelationID, CreatedAt: r.CreatedAt})
					} else {
						require.False(t, rows.Next(), "case %d: only the last row may miss", i)
					}
				}
				require.NoError(t, rows.Err())
				if i < len(cases)-1 {
					require.Positive(t, n, "case %d returns rows", i)
				}
				got, last, scanned, release, err := store.ScanFilteredFeedRows(query(), int(p.MaxCount))
				require.NoError(t, err)
				if len(want) == 0 {
					require.Empty(t, got, "case %d", i)
				} else {
					requireSameRows(t, want, got)
				}
				require.Equal(t, wantLast, last, "case %d", i)
				require.Equal(t, wantScanned, scanned, "case %d", i)
				release()
			}
		})
	}
}
