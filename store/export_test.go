package store

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CoalescerQueued reports how many appends wait in s's coalescer for a
// flusher (tests use it to line calls up behind a flush in flight).
func CoalescerQueued(s *Store) int {
	if s.coalescer == nil {
		return 0
	}
	return s.coalescer.queued()
}

// CommitsAnnounced reports how many commits s has announced to its
// consumers and its notifier (Store.committed).
func CommitsAnnounced(s *Store) int64 { return s.announced.Load() }

// ReplicaLagAfterReplay runs the first standby's check of a lag that only
// its clock put over MaxLag (replayedBy), for a sample of the primary's WAL
// position lsn taken at at; lag is what its clock said.
func ReplicaLagAfterReplay(ctx context.Context, s *Store, lsn uint64, at time.Time, lag time.Duration) time.Duration {
	lag, _ = s.replicas.members[0].replayedBy(ctx, &timedLSN{at: at, lsnSample: lsnSample{lsn: lsn}}, lag, false)
	return lag
}

// ReplayPollSQL is the statement a standby's check polls while it waits
// for the standby to reach a sample (replayedBy).
const ReplayPollSQL = replayPollSQL

// SchemaFunctions lists the functions CheckSchema expects (read from the
// embedded migrations).
var SchemaFunctions = schemaFunctions

// DecodeAfterRead makes s decode every page only once it has been read,
// as it decodes a page smaller than earlyChunk.
func DecodeAfterRead(s *Store) { s.early.off = true }

// OnEarlyChunk calls started as each chunk of a page s is reading starts
// to be decoded, with the number of rows read by then, and finished as the
// chunk's goroutine ends.
func OnEarlyChunk(s *Store, started func(rowsRead int), finished func()) {
	s.early.started, s.early.finished = started, finished
}

// ScanEventRows decodes the rows of an events query as the store's stream
// and feed reads do, and closes them; release hands their memory back for
// the next page's rows.
func ScanEventRows(rows pgx.Rows, limit int) (list []*db.EventstoreEvent, release func(), err error) {
	r, err := scanEventRows(rows, limit, nil, nil)
	return r.list, r.release, err
}

// ScanFilteredFeedRows decodes the rows of db.EventsReadFeedFiltered as a
// filtered ReadFeed does: its hits, and the checkpoint and scanned count of
// its last row (zero when it returned none).
func ScanFilteredFeedRows(rows pgx.Rows, limit int) (hits []*db.EventstoreEvent, last Checkpoint, scanned int64, release func(), err error) {
	var tail scanTail
	r, err := scanEventRows(rows, limit, nil, &tail)
	return r.list, tail.last, tail.scanned, r.release, err
}

// WireParams encodes an append statement's parameters (a
// db.EventsAppendOneParams, db.EventsAppendParams or
// db.EventsAppendBatchParams) as the store sends them on its pool: the
// statement, the values and their formats, and the arguments it reports to
// a query tracer.
func WireParams(p any) (sql string, values [][]byte, formats []int16, args []any) {
	var w *wireParams
	switch p := p.(type) {
	case db.EventsAppendOneParams:
		sql, w, args = wireAppendOne.sql, encodeAppendOne(&p), appendOneArgs(&p)
	case db.EventsAppendParams:
		sql, w, args = wireAppend.sql, encodeAppend(&p), appendArgs(&p)
	case db.EventsAppendBatchParams:
		sql, w, args = wireAppendBatch.sql, encodeAppendBatch(&p), appendBatchArgs(&p)
	default:
		panic("WireParams: not an append statement's parameters")
	}
	for _, v := range w.values {
		values = append(values, bytes.Clone(v))
	}
	formats = slices.Clone(w.formats)
	putWireParams(w)
	return sql, values, formats, args
}

// PreparesAppends reports whether s prepares its append statements on each
// connection of its pool (else it sends them unnamed).
func PreparesAppends(s *Store) bool { return s.wire != nil && s.wire.prepare }

// LendWrite makes room for size more bytes in conn's write buffer, as a
// large append statement does first, and returns what the statement does
// after: take the lent buffer back unless the frontend still holds it,
// reporting whether it did.
func LendWrite(ctx context.Context, conn *pgconn.PgConn, size int) func() bool {
	r := reserveWrite(ctx, conn, size)
	return func() bool { return releaseWrite(conn, r) }
}
