package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The append statements encode their own parameters.
//
// pgx encodes a statement's arguments into a buffer that it shrinks back
// to 256 bytes before every statement and that grows by about a quarter
// each time it is full, and it walks [][]byte and []pgtype.UUID arguments
// element by element through reflection. For an append of a thousand
// documents that copies them four to five times over (docs/PERFORMANCE-LOG.md,
// "Appends encode their own parameters"). The append statements are the
// store's hot path and their parameter types are fixed, so the store
// encodes them itself, in the formats pgx would choose, into one buffer
// sized up front and reused, and sends them on a pool connection as a named
// prepared statement of that connection. The bytes sent are the bytes pgx
// would send (TestWireParamsMatchPgx); what runs on the server is the same
// sqlc query, and the connection's pgx query tracer sees the statement as
// it would through pgx.
//
// The store takes this path on its pool, outside a caller's transaction,
// with the statements prepared on each connection. When the pool's
// connections do not keep pgx's statement cache (any DefaultQueryExecMode
// but QueryExecModeCacheStatement, as behind a transaction pooler) the
// statements go out unnamed, parsed every time, in a caller's transaction
// too. (pgx's own encoding of these arguments in those modes sends the
// documents as bytea text, which PostgreSQL refuses as JSON.) Inside a
// caller's transaction on a caching pool the generated queries run on its
// connection.

// wireStmt is a statement the store sends with its own parameter encoding.
type wireStmt struct {
	sql     string
	name    string   // the prepared statement's name on a connection
	params  []uint32 // parameter type OIDs, as the server describes them
	results []uint32 // result column type OIDs
	formats []int16  // result formats: binary for every column
}

func newWireStmt(sql string, params, results []uint32) *wireStmt {
	sum := sha256.Sum256([]byte(sql))
	formats := make([]int16, len(results))
	for i := range formats {
		formats[i] = pgtype.BinaryFormatCode
	}
	return &wireStmt{sql: sql, name: "eventstore_" + hex.EncodeToString(sum[:12]), params: params, results: results, formats: formats}
}

// Type OIDs of the append statements' parameters and results.
const (
	oidBool      = pgtype.BoolOID
	oidInt4      = pgtype.Int4OID
	oidInt8      = pgtype.Int8OID
	oidText      = pgtype.TextOID
	oidUUID      = pgtype.UUIDOID
	oidJSONB     = pgtype.JSONBOID
	oidInt4Array = pgtype.Int4ArrayOID
	oidInt8Array = pgtype.Int8ArrayOID
	oidTextArray = pgtype.TextArrayOID
	oidUUIDArray = pgtype.UUIDArrayOID
	oidJSONBArr  = pgtype.JSONBArrayOID
)

var (
	wireAppendOne = newWireStmt(db.EventsAppendOne,
		[]uint32{oidText, oidText, oidText, oidInt8, oidUUID, oidText, oidInt4, oidJSONB, oidJSONB, oidUUID, oidUUID, oidInt8},
		[]uint32{oidInt8, oidInt8})
	wireAppend = newWireStmt(db.EventsAppend,
		[]uint32{oidText, oidText, oidText, oidInt8, oidUUIDArray, oidTextArray, oidInt4Array,
			oidJSONBArr, oidJSONBArr, oidUUIDArray, oidUUIDArray, oidInt8, oidBool},
		[]uint32{oidInt8, oidInt8, oidInt8})
	wireAppendBatch = newWireStmt(db.EventsAppendBatch,
		[]uint32{oidText, oidText, oidTextArray, oidInt8Array, oidInt4Array, oidUUIDArray, oidTextArray, oidInt4Array,
			oidJSONBArr, oidJSONBArr, oidUUIDArray, oidUUIDArray, oidInt8},
		[]uint32{oidInt4, oidInt8, oidInt8, oidInt8, oidText, oidText, oidText, oidText, oidText})
)

// wireParams holds a statement's encoded parameters: every value lies in
// one buffer.
type wireParams struct {
	buf     []byte
	ends    []int // each value's end in buf; -1 for NULL
	values  [][]byte
	formats []int16
}

var wireParamsPool = sync.Pool{New: func() any { return new(wireParams) }}

// maxKeptWireBuffer is the largest buffer handed back to the pool; a
// larger one (an append near MaxBatchBytes) is left to the collector.
const maxKeptWireBuffer = 4 << 20

func getWireParams(size int) *wireParams {
	w := wireParamsPool.Get().(*wireParams)
	if cap(w.buf) < size {
		w.buf = make([]byte, 0, size)
	}
	return w
}

func putWireParams(w *wireParams) {
	if cap(w.buf) > maxKeptWireBuffer {
		return
	}
	w.buf, w.ends, w.formats = w.buf[:0], w.ends[:0], w.formats[:0]
	clear(w.values)
	w.values = w.values[:0]
	wireParamsPool.Put(w)
}

// end closes the value just written.
func (w *wireParams) end(format int16) {
	w.ends = append(w.ends, len(w.buf))
	w.formats = append(w.formats, format)
}

func (w *wireParams) null(format int16) {
	w.ends = append(w.ends, -1)
	w.formats = append(w.formats, format)
}

// finish sets values from ends, once the buffer no longer moves.
func (w *wireParams) finish() {
	start := 0
	for _, e := range w.ends {
		if e < 0 {
			w.values = append(w.values, nil)
			continue
		}
		w.values = append(w.values, w.buf[start:e:e])
		start = e
	}
}

// text is a string sent in the text format, as pgx sends a string.
func (w *wireParams) text(s string) {
	w.buf = append(w.buf, s...)
	w.end(pgtype.TextFormatCode)
}

// json is a jsonb document in the text format (pgx's choice for jsonb);
// nil is NULL.
func (w *wireParams) json(doc []byte) {
	if doc == nil {
		w.null(pgtype.TextFormatCode)
		return
	}
	w.buf = append(w.buf, doc...)
	w.end(pgtype.TextFormatCode)
}

func (w *wireParams) int4(v int32) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(v))
	w.end(pgtype.BinaryFormatCode)
}

func (w *wireParams) int8(v int64) {
	w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(v))
	w.end(pgtype.BinaryFormatCode)
}

func (w *wireParams) nullInt8(v pgtype.Int8) {
	if !v.Valid {
		w.null(pgtype.BinaryFormatCode)
		return
	}
	w.int8(v.Int64)
}

func (w *wireParams) boolean(v bool) {
	b := byte(0)
	if v {
		b = 1
	}
	w.buf = append(w.buf, b)
	w.end(pgtype.BinaryFormatCode)
}

func (w *wireParams) uuid(u pgtype.UUID) {
	if !u.Valid {
		w.null(pgtype.BinaryFormatCode)
		return
	}
	w.buf = append(w.buf, u.Bytes[:]...)
	w.end(pgtype.BinaryFormatCode)
}

// arrayHeader writes a one-dimensional array's header in the binary format
// (an empty array too has its dimension, of length 0, as pgx writes it) and
// returns where its null flag is.
func (w *wireParams) arrayHeader(n int, elem uint32) int {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 1)
	flag := len(w.buf)
	w.buf = binary.BigEndian.AppendUint32(w.buf, 0)
	w.buf = binary.BigEndian.AppendUint32(w.buf, elem)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(n))
	w.buf = binary.BigEndian.AppendUint32(w.buf, 1) // lower bound
	return flag
}

// array writes vs as a one-dimensional array of elem in the binary format:
// put appends one element's bytes, or reports false for a NULL element
// (whatever it appended then is dropped). A nil slice is NULL, as pgx sends it.
func array[T any](w *wireParams, vs []T, elem uint32, put func([]byte, T) ([]byte, bool)) {
	if vs == nil {
		w.null(pgtype.BinaryFormatCode)
		return
	}
	flag := w.arrayHeader(len(vs), elem)
	for _, v := range vs {
		at := len(w.buf)
		w.buf = binary.BigEndian.AppendUint32(w.buf, 0)
		var ok bool
		if w.buf, ok = put(w.buf, v); !ok {
			w.buf = w.buf[:at+4]
			binary.BigEndian.PutUint32(w.buf[at:], 0xFFFFFFFF) // length -1: NULL
			binary.BigEndian.PutUint32(w.buf[flag:], 1)
			continue
		}
		binary.BigEndian.PutUint32(w.buf[at:], uint32(len(w.buf)-at-4))
	}
	w.end(pgtype.BinaryFormatCode)
}

func (w *wireParams) textArray(vs []string) {
	array(w, vs, oidText, func(b []byte, v string) ([]byte, bool) { return append(b, v...), true })
}

func (w *wireParams) int4Array(vs []int32) {
	array(w, vs, oidInt4, func(b []byte, v int32) ([]byte, bool) { return binary.BigEndian.AppendUint32(b, uint32(v)), true })
}

func (w *wireParams) int8Array(vs []int64) {
	array(w, vs, oidInt8, func(b []byte, v int64) ([]byte, bool) { return binary.BigEndian.AppendUint64(b, uint64(v)), true })
}

// uuidArray: an invalid UUID is NULL.
func (w *wireParams) uuidArray(us []pgtype.UUID) {
	array(w, us, oidUUID, func(b []byte, u pgtype.UUID) ([]byte, bool) {
		if !u.Valid {
			return b, false
		}
		return append(b, u.Bytes[:]...), true
	})
}

// jsonbArray: each document behind jsonb's version byte; a nil document is
// NULL.
func (w *wireParams) jsonbArray(docs [][]byte) {
	array(w, docs, oidJSONB, func(b []byte, d []byte) ([]byte, bool) {
		if d == nil {
			return b, false
		}
		return append(append(b, 1), d...), true
	})
}

// arraysSize is the encoded size of a batch's per-event arrays (ids, types,
// versions, documents, causation and correlation ids), near enough to size
// the buffer once.
func arraysSize(types []string, data, metadata [][]byte) int {
	const header = 20
	n := 6*header + len(data)*(3*(4+16)+2*(4+4)+4+1+4+1)
	for i := range data {
		n += len(types[i]) + len(data[i]) + len(metadata[i])
	}
	return n
}

func encodeAppendOne(p *db.EventsAppendOneParams) *wireParams {
	w := getWireParams(len(p.GuildID) + len(p.LockWait) + len(p.StreamID) + len(p.EventType) +
		len(p.Data) + len(p.Metadata) + 3*16 + 3*8)
	w.text(p.GuildID)
	w.text(p.LockWait)
	w.text(p.StreamID)
	w.int8(p.ExpectedVersion)
	w.uuid(p.EventID)
	w.text(p.EventType)
	w.int4(p.EventVersion)
	w.json(p.Data)
	w.json(p.Metadata)
	w.uuid(p.CausationID)
	w.uuid(p.CorrelationID)
	w.nullInt8(p.MaxStreamEvents)
	w.finish()
	return w
}

func encodeAppend(p *db.EventsAppendParams) *wireParams {
	w := getWireParams(len(p.GuildID) + len(p.LockWait) + len(p.StreamID) + 8 + 8 + 1 +
		arraysSize(p.EventTypes, p.Data, p.Metadata))
	w.text(p.GuildID)
	w.text(p.LockWait)
	w.text(p.StreamID)
	w.int8(p.ExpectedVersion)
	w.uuidArray(p.EventIds)
	w.textArray(p.EventTypes)
	w.int4Array(p.EventVersions)
	w.jsonbArray(p.Data)
	w.jsonbArray(p.Metadata)
	w.uuidArray(p.CausationIds)
	w.uuidArray(p.CorrelationIds)
	w.nullInt8(p.MaxStreamEvents)
	w.boolean(p.ProbeIds)
	w.finish()
	return w
}

func encodeAppendBatch(p *db.EventsAppendBatchParams) *wireParams {
	size := len(p.GuildID) + len(p.LockWait) + 8 + 3*20 + len(p.StreamIds)*(4+4+8+4+4) +
		arraysSize(p.EventTypes, p.Data, p.Metadata)
	for _, id := range p.StreamIds {
		size += len(id)
	}
	w := getWireParams(size)
	w.text(p.GuildID)
	w.text(p.LockWait)
	w.textArray(p.StreamIds)
	w.int8Array(p.ExpectedVersions)
	w.int4Array(p.Counts)
	w.uuidArray(p.EventIds)
	w.textArray(p.EventTypes)
	w.int4Array(p.EventVersions)
	w.jsonbArray(p.Data)
	w.jsonbArray(p.Metadata)
	w.uuidArray(p.CausationIds)
	w.uuidArray(p.CorrelationIds)
	w.nullInt8(p.MaxStreamEvents)
	w.finish()
	return w
}

// The statements' arguments as the generated queries pass them to pgx (for
// a query tracer; TestWireParamsMatchPgx holds them to the generated code).

func appendOneArgs(p *db.EventsAppendOneParams) []any {
	return []any{p.GuildID, p.LockWait, p.StreamID, p.ExpectedVersion, p.EventID, p.EventType, p.EventVersion,
		p.Data, p.Metadata, p.CausationID, p.CorrelationID, p.MaxStreamEvents}
}

func appendArgs(p *db.EventsAppendParams) []any {
	return []any{p.GuildID, p.LockWait, p.StreamID, p.ExpectedVersion, p.EventIds, p.EventTypes, p.EventVersions,
		p.Data, p.Metadata, p.CausationIds, p.CorrelationIds, p.MaxStreamEvents, p.ProbeIds}
}

func appendBatchArgs(p *db.EventsAppendBatchParams) []any {
	return []any{p.GuildID, p.LockWait, p.StreamIds, p.ExpectedVersions, p.Counts, p.EventIds, p.EventTypes,
		p.EventVersions, p.Data, p.Metadata, p.CausationIds, p.CorrelationIds, p.MaxStreamEvents}
}

// wireRoute is how a Store sends its append statements.
type wireRoute struct {
	// prepare: the pool's connections keep pgx's statement cache, and the
	// statements are prepared on each connection once. Otherwise (a
	// transaction pooler in front of the server, say) every statement goes
	// out as the unnamed statement, parsed each time, as pgx sends its own
	// statements in those modes.
	prepare bool
	tracer  pgx.QueryTracer // the pool's query tracer, nil when none
}

func newWireRoute(cfg *pgx.ConnConfig) *wireRoute {
	t, _ := cfg.Tracer.(pgx.QueryTracer)
	return &wireRoute{prepare: cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement, tracer: t}
}

// errWireResult reports a result row the store cannot read; it means the
// schema does not match the store.
var errWireResult = errors.New("eventstore: unexpected result row from an append statement")

// exec runs st with w's values, on the connection of the context's
// transaction if there is one, else on a connection of the pool, and calls
// row for every result row, its values in the binary format. args gives the
// statement's arguments as the generated query would pass them, for the
// tracer. w goes back to its pool.
func (r *wireRoute) exec(ctx context.Context, s *Store, st *wireStmt, w *wireParams, args func() []any, row func([][]byte) error) error {
	defer putWireParams(w)
	var conn *pgx.Conn
	tv := txValueFrom(ctx)
	if tv != nil {
		conn = tv.tx.Conn()
	} else {
		pc, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer pc.Release()
		conn = pc.Conn()
	}
	if r.tracer != nil {
		ctx = r.tracer.TraceQueryStart(ctx, conn, pgx.TraceQueryStartData{SQL: st.sql, Args: args()})
	}
	tag, err := r.run(ctx, conn, st, w, row)
	if err != nil && r.prepare && tv == nil && isPgCode(err, sqlstateNoPreparedStatement) {
		// The connection lost the statement (DEALLOCATE or DISCARD ran on
		// it); the Bind failed, so nothing ran. Prepare it again, once.
		// (Never in a caller's transaction: the failure aborted it.)
		if err = forgetPrepared(ctx, conn, st); err == nil {
			tag, err = r.run(ctx, conn, st, w, row)
		}
	}
	if r.tracer != nil {
		r.tracer.TraceQueryEnd(ctx, conn, pgx.TraceQueryEndData{CommandTag: tag, Err: err})
	}
	return err
}

const sqlstateNoPreparedStatement = "26000"

// forgetPrepared drops st from conn, on the server and in the store's record
// of what the connection has prepared, so that it is prepared again.
func forgetPrepared(ctx context.Context, conn *pgx.Conn, st *wireStmt) error {
	delete(conn.PgConn().CustomData(), st.name)
	return conn.Deallocate(ctx, st.name)
}

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func (r *wireRoute) run(ctx context.Context, conn *pgx.Conn, st *wireStmt, w *wireParams, row func([][]byte) error) (pgconn.CommandTag, error) {
	var sd *pgconn.StatementDescription
	if r.prepare {
		var err error
		if sd, err = prepareWire(ctx, conn, st); err != nil {
			return pgconn.CommandTag{}, err
		}
	}
	// After the prepare, which writes messages of its own.
	pc := conn.PgConn()
	reserved := reserveWrite(ctx, pc, w.messagesSize(st, sd == nil))
	defer releaseWrite(pc, reserved)
	var rr *pgconn.ResultReader
	if sd != nil {
		rr = pc.ExecStatement(ctx, sd, w.values, w.formats, st.formats)
	} else {
		rr = pc.ExecParams(ctx, st.sql, w.values, st.params, w.formats, st.formats)
	}
	var rowErr error
	for rr.NextRow() {
		if rowErr == nil {
			rowErr = row(rr.Values())
		}
	}
	tag, err := rr.Close()
	if err == nil {
		err = rowErr
	}
	return tag, err
}

// The connection's write buffer.
//
// pgconn writes a statement's messages into its connection's write buffer
// and sends them with one write. After every write larger than 1 kB it
// drops that buffer for a new one of 1 kB, and it grows it by appending:
// the Bind of a 1000-event append (about 700 kB) was copied into a buffer
// reallocated about ten times, in fresh memory every statement, which cost
// more than encoding the parameters. Before a statement larger than that,
// the store hands the connection's frontend a message of no bytes whose
// encoding swaps the buffer for one of the store's, large enough for the
// messages that follow, so they are copied once, into memory used before.
// After the statement a second message of no bytes tells whether the
// frontend has let go of the lent buffer (it has, once the statement's
// messages went out); only then does the buffer go back to the store's
// pool. Neither message puts anything on the wire
// (TestWireReserveSendsNoBytes). A protocol trace attached to the
// connection lists them as unknown messages of length 0.

// smallWrite is the write buffer pgconn keeps between statements.
const smallWrite = 1024

// writeBuffers holds the write buffers lent to connections (*[]byte).
var writeBuffers sync.Pool

// writeBuffer is a frontend message of no bytes. Encoded into the
// connection's write buffer, it makes room for n more bytes there, lending
// a buffer of the pool when there is not, and records which buffer the
// connection then holds. With n 0 it only records.
type writeBuffer struct {
	n    int
	lent *[]byte // the buffer lent, if any
	seen bool    // it was encoded
	held *byte   // the first byte of the buffer it left; nil when that has no capacity
}

func (*writeBuffer) Frontend() {}

func (*writeBuffer) Decode([]byte) error {
	return errors.New("eventstore: a write buffer message is never received")
}

func (m *writeBuffer) Encode(dst []byte) ([]byte, error) {
	m.seen = true
	if need := len(dst) + m.n; cap(dst) < need {
		bp, _ := writeBuffers.Get().(*[]byte)
		if bp == nil || cap(*bp) < need {
			b := make([]byte, 0, need)
			bp = &b
		}
		m.lent = bp
		dst = append((*bp)[:0], dst...)
	}
	if cap(dst) > 0 {
		m.held = &dst[:1][0]
	}
	return dst, nil
}

// reserveWrite makes room in conn's write buffer for size more bytes,
// when the messages to follow would not fit its small buffer, and returns
// the reservation to give to releaseWrite once the statement is done
// (nil when none was needed).
func reserveWrite(ctx context.Context, conn *pgconn.PgConn, size int) *writeBuffer {
	if size <= smallWrite || ctx.Err() != nil {
		return nil
	}
	r := &writeBuffer{n: size}
	conn.Frontend().Send(r)
	return r
}

// releaseWrite takes back r's lent buffer into the pool, if conn's
// frontend no longer holds it, and reports whether it did. (A statement
// that never went out, its context done, leaves the buffer to the
// frontend, and then to the collector.)
func releaseWrite(conn *pgconn.PgConn, r *writeBuffer) bool {
	if r == nil || r.lent == nil {
		return false
	}
	var now writeBuffer
	conn.Frontend().Send(&now)
	lent := *r.lent
	if !now.seen || now.held == &lent[:1][0] || cap(lent) > maxKeptWireBuffer {
		return false
	}
	writeBuffers.Put(r.lent)
	return true
}

// messagesSize is, rounded up, the size of the messages that send st with
// w's values: the Bind (and with parse, the Parse of st's text), the
// Describe, Execute and Sync.
func (w *wireParams) messagesSize(st *wireStmt, parse bool) int {
	n := 64 + len(st.name) + len(w.buf) + 4*len(w.values) + 2*len(w.formats) + 2*len(st.formats)
	if parse {
		n += len(st.sql) + 4*len(st.params)
	}
	return n
}

// prepareWire returns st's description on conn, preparing it (through pgx,
// so its prepare tracer sees it) the first time.
func prepareWire(ctx context.Context, conn *pgx.Conn, st *wireStmt) (*pgconn.StatementDescription, error) {
	data := conn.PgConn().CustomData()
	if sd, ok := data[st.name].(*pgconn.StatementDescription); ok {
		return sd, nil
	}
	sd, err := conn.Prepare(ctx, st.name, st.sql)
	if err != nil {
		return nil, err
	}
	fields := make([]uint32, len(sd.Fields))
	for i, f := range sd.Fields {
		fields[i] = f.DataTypeOID
	}
	if !slices.Equal(sd.ParamOIDs, st.params) || !slices.Equal(fields, st.results) {
		return nil, fmt.Errorf("eventstore: the server describes %s with parameters %v and results %v, the store expects %v and %v",
			st.name, sd.ParamOIDs, fields, st.params, st.results)
	}
	data[st.name] = sd
	return sd, nil
}

// wireInt reads a binary int8 (or int4, when width is 4) result value.
func wireInt(v []byte, width int) (int64, error) {
	if len(v) != width {
		return 0, errWireResult
	}
	if width == 4 {
		return int64(int32(binary.BigEndian.Uint32(v))), nil
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// wireInts reads the row's first len(dst) values as int8s.
func wireInts(vals [][]byte, dst ...*int64) error {
	if len(vals) < len(dst) {
		return errWireResult
	}
	for i, d := range dst {
		v, err := wireInt(vals[i], 8)
		if err != nil {
			return err
		}
		*d = v
	}
	return nil
}

// appendOne sends p through append_event, with the store's encoding; a nil
// route runs q's generated query instead. (So do appendMany and
// appendBatch.)
func (r *wireRoute) appendOne(ctx context.Context, s *Store, q *db.Queries, p *db.EventsAppendOneParams) (db.EventsAppendOneRow, error) {
	if r == nil {
		row, err := q.EventsAppendOne(ctx, *p)
		if err != nil {
			return db.EventsAppendOneRow{}, err
		}
		return *row, nil
	}
	var out db.EventsAppendOneRow
	rows := 0
	err := r.exec(ctx, s, wireAppendOne, encodeAppendOne(p), func() []any { return appendOneArgs(p) }, func(vals [][]byte) error {
		rows++
		return wireInts(vals, &out.NewVersion, &out.GlobalPosition)
	})
	if err == nil && rows == 0 {
		err = pgx.ErrNoRows
	}
	return out, err
}

// appendMany sends p through append_events.
func (r *wireRoute) appendMany(ctx context.Context, s *Store, q *db.Queries, p *db.EventsAppendParams) (db.EventsAppendRow, error) {
	if r == nil {
		row, err := q.EventsAppend(ctx, *p)
		if err != nil {
			return db.EventsAppendRow{}, err
		}
		return *row, nil
	}
	var out db.EventsAppendRow
	rows := 0
	err := r.exec(ctx, s, wireAppend, encodeAppend(p), func() []any { return appendArgs(p) }, func(vals [][]byte) error {
		rows++
		return wireInts(vals, &out.NewVersion, &out.FirstPosition, &out.LastPosition)
	})
	if err == nil && rows == 0 {
		err = pgx.ErrNoRows
	}
	return out, err
}

// appendBatch sends a coalesced flush's group through append_batch.
func (r *wireRoute) appendBatch(ctx context.Context, s *Store, q *db.Queries, p *db.EventsAppendBatchParams) ([]*db.EventsAppendBatchRow, error) {
	if r == nil {
		return q.EventsAppendBatch(ctx, *p)
	}
	out := make([]*db.EventsAppendBatchRow, 0, len(p.StreamIds))
	err := r.exec(ctx, s, wireAppendBatch, encodeAppendBatch(p), func() []any { return appendBatchArgs(p) }, func(vals [][]byte) error {
		if len(vals) != 9 {
			return errWireResult
		}
		var row db.EventsAppendBatchRow
		idx, err := wireInt(vals[0], 4)
		if err != nil {
			return err
		}
		row.CallIndex = int32(idx)
		if err := wireInts(vals[1:4], &row.NewVersion, &row.FirstPosition, &row.LastPosition); err != nil {
			return err
		}
		row.ErrorCode, row.ErrorMessage, row.ErrorDetail = string(vals[4]), string(vals[5]), string(vals[6])
		row.ErrorConstraint, row.ErrorTable = string(vals[7]), string(vals[8])
		out = append(out, &row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendOnes sends each of ps through append_event, one statement each, in
// one pipeline with one Sync at its end. PostgreSQL runs the statements in
// one implicit transaction: they commit together, once, or not at all. The
// rows come back only after that commit; on any error nothing was stored,
// unless the error is the connection's (then the outcome is unknown). A
// pool tracer that is a pgx.BatchTracer sees the pipeline as a batch.
// failed is the index of the statement that failed, -1 when none did.
func (r *wireRoute) appendOnes(ctx context.Context, s *Store, ps []db.EventsAppendOneParams) (rows []db.EventsAppendOneRow, failed int, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, -1, err
	}
	defer pc.Release()
	conn := pc.Conn()
	sd, err := prepareWire(ctx, conn, wireAppendOne)
	if err != nil {
		return nil, -1, err
	}
	bt, _ := r.tracer.(pgx.BatchTracer)
	if bt != nil {
		var batch pgx.Batch
		for i := range ps {
			batch.Queue(wireAppendOne.sql, appendOneArgs(&ps[i])...)
		}
		ctx = bt.TraceBatchStart(ctx, conn, pgx.TraceBatchStartData{Batch: &batch})
	}
	rows, failed, err = r.pipeline(ctx, conn, sd, ps, bt)
	if bt != nil {
		bt.TraceBatchEnd(ctx, conn, pgx.TraceBatchEndData{Err: err})
	}
	if isPgCode(err, sqlstateNoPreparedStatement) {
		// The connection lost the statement (see exec): it is prepared
		// again next time.
		_ = forgetPrepared(ctx, conn, wireAppendOne)
	}
	return rows, failed, err
}

func (r *wireRoute) pipeline(ctx context.Context, conn *pgx.Conn, sd *pgconn.StatementDescription, ps []db.EventsAppendOneParams, bt pgx.BatchTracer) ([]db.EventsAppendOneRow, int, error) {
	ws := make([]*wireParams, len(ps))
	size := 0
	for i := range ps {
		ws[i] = encodeAppendOne(&ps[i])
		size += ws[i].messagesSize(wireAppendOne, false)
	}
	defer func() {
		for _, w := range ws {
			putWireParams(w)
		}
	}()
	pgc := conn.PgConn()
	reserved := reserveWrite(ctx, pgc, size+pipelineSyncSize)
	defer releaseWrite(pgc, reserved)
	p := pgc.StartPipeline(ctx)
	for i := range ps {
		p.SendQueryStatement(sd, ws[i].values, ws[i].formats, wireAppendOne.formats)
	}
	if err := p.Sync(); err != nil {
		_ = p.Close()
		return nil, -1, err
	}
	out := make([]db.EventsAppendOneRow, len(ps))
	var firstErr error
	failed := -1
	for i := range ps {
		start := time.Now()
		tag, err := pipelinedRow(p, &out[i])
		if bt != nil {
			bt.TraceBatchQuery(ctx, conn, pgx.TraceBatchQueryData{SQL: wireAppendOne.sql, Args: appendOneArgs(&ps[i]),
				CommandTag: tag, Err: err, ReadStartTime: start})
		}
		if err != nil {
			firstErr, failed = err, i
			break
		}
	}
	// Close reads up to the Sync's ReadyForQuery: the commit, or after an
	// error the end of the aborted transaction.
	if err := p.Close(); firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return nil, failed, firstErr
	}
	return out, -1, nil
}

// pipelineSyncSize is the bytes of a Sync message.
const pipelineSyncSize = 5

// pipelinedRow reads one append_event statement's result from p into row.
func pipelinedRow(p *pgconn.Pipeline, row *db.EventsAppendOneRow) (pgconn.CommandTag, error) {
	res, err := p.GetResults()
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return pgconn.CommandTag{}, errWireResult
	}
	rows := 0
	var rowErr error
	for rr.NextRow() {
		rows++
		if rowErr == nil {
			rowErr = wireInts(rr.Values(), &row.NewVersion, &row.GlobalPosition)
		}
	}
	tag, err := rr.Close()
	if err == nil && rowErr == nil && rows != 1 {
		rowErr = errWireResult
	}
	return tag, cmp.Or(err, rowErr)
}
