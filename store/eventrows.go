package store

import (
	"context"
	"encoding/binary"
	"math"
	"sync"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Reading pages of events.
//
// The queries that return whole events (the stream and feed reads) are
// sqlc's; their rows are decoded here instead of by the generated code,
// which scans each row into a struct of its own through pgx's per-column
// scan plans. A page of 1000 events then cost 1000 row allocations and
// three string allocations a row, and the page's garbage, not its
// conversion, is what a read costs the client (docs/PERFORMANCE.md).
// queryEvents decodes the columns' wire values directly, into rows whose
// memory the next page reuses once they have become Records, and gives
// consecutive rows with the same stream id, guild id or event type the same
// string. The result is the
// same []*db.EventstoreEvent the generated method returns (a test compares
// them column by column); a row it does not recognise (a column of another
// type or format, a time PostgreSQL calls infinity) is scanned by pgx, as
// the generated code would.

// eventColumnOIDs are the types of the columns of an events query, in
// db.EventstoreEvent's order.
var eventColumnOIDs = [...]uint32{
	pgtype.Int8OID,        // global_position
	pgtype.XID8OID,        // transaction_id
	pgtype.TextOID,        // stream_id
	pgtype.Int8OID,        // stream_version
	pgtype.UUIDOID,        // event_id
	pgtype.TextOID,        // event_type
	pgtype.Int4OID,        // event_version
	pgtype.TextOID,        // guild_id
	pgtype.JSONBOID,       // data
	pgtype.JSONBOID,       // metadata
	pgtype.UUIDOID,        // causation_id
	pgtype.UUIDOID,        // correlation_id
	pgtype.TimestamptzOID, // created_at
}

// firstRowChunk is the size of the first backing array of a row arena.
const firstRowChunk = 64

// eventRows are the rows of one events query. Rows that queryEvents decoded
// live in an arena taken from a pool; release gives it back once the rows
// have become Records, so that the next page's rows reuse their memory
// instead of adding to the garbage.
type eventRows struct {
	list  []*db.EventstoreEvent
	arena *rowArena     // nil: rows of their own (the generated methods')
	lease uint64        // the arena's lease when these rows took it
	early *earlyDecoder // nil: the rows are decoded after the page is read
}

// release returns the rows' arena to the pool, cleared (the Records hold
// the data and strings that are still needed); the rows must not be used
// after it.
func (r *eventRows) release() {
	r.early.wait() // its goroutines read the rows
	// A copy of r released already must not give the arena back again,
	// perhaps while other rows hold it.
	if a := r.arena; a != nil && a.lease == r.lease {
		for _, c := range a.chunks[:min(a.chunk+1, len(a.chunks))] {
			clear(c)
		}
		clear(r.list)
		a.list, a.chunk, a.used = r.list[:0], 0, 0
		a.lease++
		rowArenas.Put(a)
		r.arena = nil
	}
	r.list = nil
}

// rowArena holds the backing arrays of a page's rows, and its list.
type rowArena struct {
	chunks [][]db.EventstoreEvent
	chunk  int // the chunk rows are taken from
	used   int // rows taken from it
	list   []*db.EventstoreEvent
	lease  uint64 // counts the times the arena was released
}

var rowArenas = sync.Pool{New: func() any { return new(rowArena) }}

// next returns the arena's next free row. When the arena is full it grows
// by a chunk twice its largest (firstRowChunk at first), or as large as
// the rows the query may still return (remaining) when that is less.
func (a *rowArena) next(remaining int) *db.EventstoreEvent {
	for a.chunk < len(a.chunks) && a.used == len(a.chunks[a.chunk]) {
		a.chunk++
		a.used = 0
	}
	if a.chunk == len(a.chunks) {
		size := firstRowChunk
		for _, c := range a.chunks {
			size = max(size, 2*len(c))
		}
		a.chunks = append(a.chunks, make([]db.EventstoreEvent, min(size, max(1, remaining))))
	}
	a.used++
	return &a.chunks[a.chunk][a.used-1]
}

// queryEvents runs an events query (sql, one of db's exported query
// texts selecting db.EventstoreEvent's columns, at most limit rows) on d
// and returns its rows, handing them to early (if not nil) as they come.
func queryEvents(ctx context.Context, d db.DBTX, limit int, early *earlyDecoder, sql string, args ...any) (eventRows, error) {
	return queryEventsTail(ctx, d, limit, early, nil, sql, args...)
}

// queryEventsTail is queryEvents, and with tail not nil runs a filtered
// feed query (db.EventsReadFeedFiltered): the rows are then its hits, and
// tail records its last row and how many rows it scanned.
func queryEventsTail(ctx context.Context, d db.DBTX, limit int, early *earlyDecoder, tail *scanTail, sql string, args ...any) (eventRows, error) {
	rows, err := d.Query(ctx, sql, args...)
	if err != nil {
		return eventRows{}, err
	}
	return scanEventRows(rows, limit, early, tail)
}

// scanTail is what a filtered feed query (db.EventsReadFeedFiltered)
// returns after each event's columns: whether the row matched the filter
// (hit) and how many rows the query scanned. Only its last row may miss;
// it is returned so that the reader's checkpoint moves past what the
// query skipped.
type scanTail struct {
	rows    int        // rows returned, hits or not
	last    Checkpoint // of the last row
	scanned int64      // the last row's scanned
	hit     bool       // the last row's hit
}

// scanEventRows reads rows (of an events query returning at most limit
// events) and closes them; early, if not nil, starts decoding them
// meanwhile. With tail not nil the rows are a filtered feed query's: only
// its hits become events, and tail records the rest.
func scanEventRows(rows pgx.Rows, limit int, early *earlyDecoder, tail *scanTail) (eventRows, error) {
	defer rows.Close()
	a := rowArenas.Get().(*rowArena)
	out := eventRows{list: a.list[:0], arena: a, lease: a.lease, early: early}
	var (
		fast   bool
		layout rowLayout
		prev   internedNames
		seen   bool
	)
	for rows.Next() {
		if !seen {
			layout, fast = rawEventColumns(rows.FieldDescriptions(), tail != nil)
			seen = true
		}
		r := out.arena.next(limit - len(out.list))
		if !fast || !decodeRow(rows.RawValues(), layout, r, &prev, tail) {
			*r = db.EventstoreEvent{} // decodeEventRow may have set some fields
			var err error
			if tail == nil {
				err = rows.Scan(&r.GlobalPosition, &r.TransactionID, &r.StreamID, &r.StreamVersion, &r.EventID,
					&r.EventType, &r.EventVersion, &r.GuildID, &r.Data, &r.Metadata,
					&r.CausationID, &r.CorrelationID, &r.CreatedAt)
			} else {
				err = rows.Scan(&r.GlobalPosition, &r.TransactionID, &r.StreamID, &r.StreamVersion, &r.EventID,
					&r.EventType, &r.EventVersion, &r.GuildID, &r.Data, &r.Metadata,
					&r.CausationID, &r.CorrelationID, &r.CreatedAt, &tail.hit, &tail.scanned)
			}
			if err != nil {
				out.release()
				return eventRows{}, err
			}
		}
		if tail != nil {
			tail.rows++
			tail.last = Checkpoint{TransactionID: r.TransactionID, Position: r.GlobalPosition}
			if !tail.hit {
				*r = db.EventstoreEvent{} // not an event of the page; release clears its memory
				continue
			}
		}
		out.list = append(out.list, r)
		if early != nil {
			early.rowRead(out.list)
		}
	}
	if err := rows.Err(); err != nil {
		out.release()
		return eventRows{}, err
	}
	return out, nil
}

// decodeRow is decodeEventRow, and with tail not nil also decodes the
// filtered feed's hit and scanned columns into tail.
func decodeRow(vals [][]byte, layout rowLayout, r *db.EventstoreEvent, prev *internedNames, tail *scanTail) bool {
	if tail == nil {
		return decodeEventRow(vals, layout, r, prev)
	}
	n := len(eventColumnOIDs)
	if len(vals) != n+2 || len(vals[n]) != 1 || vals[n][0] > 1 {
		return false
	}
	scanned, ok := int8Value(vals[n+1])
	if !ok || !decodeEventRow(vals[:n], layout, r, prev) {
		return false
	}
	tail.hit, tail.scanned = vals[n][0] == 1, scanned
	return true
}

// rowLayout is what decodeEventRow needs to know of the columns' formats:
// whether data and metadata come in jsonb's binary format (a version byte
// before the JSON text) or as text. (A text column's value is its bytes in
// either format.)
type rowLayout struct{ dataBinary, metadataBinary bool }

// rawEventColumns reports whether fds are an events query's columns in
// the formats decodeEventRow reads (binary, except text and jsonb, which
// may come in either), followed, for a filtered feed query (tail), by its
// hit and scanned columns in binary, and how the jsonb columns come.
func rawEventColumns(fds []pgconn.FieldDescription, tail bool) (rowLayout, bool) {
	n := len(eventColumnOIDs)
	if tail {
		if len(fds) != n+2 ||
			fds[n].DataTypeOID != pgtype.BoolOID || fds[n].Format != pgx.BinaryFormatCode ||
			fds[n+1].DataTypeOID != pgtype.Int8OID || fds[n+1].Format != pgx.BinaryFormatCode {
			return rowLayout{}, false
		}
		fds = fds[:n]
	}
	if len(fds) != n {
		return rowLayout{}, false
	}
	for i, fd := range fds {
		if fd.DataTypeOID != eventColumnOIDs[i] {
			return rowLayout{}, false
		}
		switch fd.Format {
		case pgx.BinaryFormatCode:
		case pgx.TextFormatCode:
			if fd.DataTypeOID != pgtype.TextOID && fd.DataTypeOID != pgtype.JSONBOID {
				return rowLayout{}, false
			}
		default:
			return rowLayout{}, false
		}
	}
	return rowLayout{dataBinary: fds[8].Format == pgx.BinaryFormatCode, metadataBinary: fds[9].Format == pgx.BinaryFormatCode}, true
}

// internedNames are the last row's strings, which the next row reuses
// when its bytes are the same.
type internedNames struct{ stream, eventType, guild string }

func intern(last *string, b []byte) string {
	if string(b) != *last { // compares without allocating
		*last = string(b)
	}
	return *last
}

// pgEpochSeconds is 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp epoch,
// in seconds since the Unix epoch.
const pgEpochSeconds = 946_684_800

// decodeEventRow fills r from the row's wire values (columns as
// rawEventColumns accepted them). It reports false, leaving r partly set,
// for a value it does not decode: the caller scans that row with pgx.
func decodeEventRow(vals [][]byte, layout rowLayout, r *db.EventstoreEvent, prev *internedNames) bool {
	if len(vals) != len(eventColumnOIDs) {
		return false
	}
	var ok bool
	if r.GlobalPosition, ok = int8Value(vals[0]); !ok {
		return false
	}
	tx, ok := int8Value(vals[1])
	if !ok {
		return false
	}
	r.TransactionID = uint64(tx)
	if vals[2] == nil || vals[5] == nil || vals[7] == nil || vals[8] == nil {
		return false // NOT NULL columns: let pgx report it
	}
	r.StreamID = intern(&prev.stream, vals[2])
	if r.StreamVersion, ok = int8Value(vals[3]); !ok {
		return false
	}
	if r.EventID, ok = uuidValue(vals[4]); !ok || !r.EventID.Valid {
		return false
	}
	r.EventType = intern(&prev.eventType, vals[5])
	if len(vals[6]) != 4 {
		return false
	}
	r.EventVersion = int32(binary.BigEndian.Uint32(vals[6]))
	r.GuildID = intern(&prev.guild, vals[7])
	if r.Data, ok = jsonbValue(vals[8], layout.dataBinary); !ok {
		return false
	}
	if r.Metadata, ok = jsonbValue(vals[9], layout.metadataBinary); !ok {
		return false
	}
	if r.CausationID, ok = uuidValue(vals[10]); !ok {
		return false
	}
	if r.CorrelationID, ok = uuidValue(vals[11]); !ok {
		return false
	}
	micros, ok := int8Value(vals[12])
	if !ok || micros == math.MaxInt64 || micros == math.MinInt64 { // ±infinity
		return false
	}
	// Seconds and microseconds apart: the sum in microseconds can overflow.
	r.CreatedAt = time.Unix(pgEpochSeconds+micros/1_000_000, (micros%1_000_000)*1000)
	return true
}

func int8Value(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// uuidValue decodes a binary uuid; NULL is the invalid UUID.
func uuidValue(b []byte) (pgtype.UUID, bool) {
	if b == nil {
		return pgtype.UUID{}, true
	}
	if len(b) != 16 {
		return pgtype.UUID{}, false
	}
	return pgtype.UUID{Bytes: [16]byte(b), Valid: true}, true
}

// jsonbValue copies a jsonb value's JSON text (in the binary format, what
// follows its version byte, which must be 1); NULL is nil.
func jsonbValue(b []byte, binaryFormat bool) ([]byte, bool) {
	if b == nil {
		return nil, true
	}
	if binaryFormat {
		if len(b) == 0 || b[0] != 1 {
			return nil, false
		}
		b = b[1:]
	}
	return append(make([]byte, 0, len(b)), b...), true
}
