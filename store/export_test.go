package store

import (
	"context"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
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

// ScanEventRows decodes the rows of an events query as the store's stream
// and feed reads do, and closes them; release hands their memory back for
// the next page's rows.
func ScanEventRows(rows pgx.Rows, limit int) (list []*db.EventstoreEvent, release func(), err error) {
	r, err := scanEventRows(rows, limit)
	return r.list, r.release, err
}
