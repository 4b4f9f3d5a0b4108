package store

import (
	"context"
	"time"
)

// OpStandbys names Standbys in Observation.Op.
const OpStandbys = "standbys"

// StandbyStatus is a standby as the primary sees it: one row of
// pg_stat_replication.
type StandbyStatus struct {
	// Name is the standby's application_name (cluster_name or
	// "walreceiver" unless its primary_conninfo sets one).
	Name string
	// Address is the standby's client address ("" for a Unix socket).
	Address string
	// State is the WAL sender's state: streaming, catchup, startup, backup
	// or stopping.
	State string
	// SyncState is async, potential, sync or quorum.
	SyncState string
	// Visible reports that the positions and lags below could be read: a
	// role without pg_read_all_stats (pg_monitor) sees only the name.
	Visible bool
	// SentPosition and ReplayPosition are the last WAL position sent to the
	// standby and the last it has replayed.
	SentPosition   ConsistencyToken
	ReplayPosition ConsistencyToken
	// ReplayLagBytes is how much of the primary's written WAL the standby
	// has not replayed yet.
	ReplayLagBytes int64
	// WriteLag, FlushLag and ReplayLag are PostgreSQL's own measures of how
	// long the standby took to write, flush and replay recent WAL (0 when
	// it has been idle and caught up for a while).
	WriteLag  time.Duration
	FlushLag  time.Duration
	ReplayLag time.Duration
}

// standbysSQL reads pg_stat_replication on the primary.
const standbysSQL = `SELECT coalesce(r.application_name, ''), coalesce(host(r.client_addr), ''),
       coalesce(r.state, ''), coalesce(r.sync_state, ''), r.sent_lsn IS NOT NULL,
       coalesce((r.sent_lsn - '0/0'::pg_lsn)::bigint, 0),
       coalesce((r.replay_lsn - '0/0'::pg_lsn)::bigint, 0),
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint, 0),
       coalesce(extract(epoch FROM r.write_lag)::float8, 0),
       coalesce(extract(epoch FROM r.flush_lag)::float8, 0),
       coalesce(extract(epoch FROM r.replay_lag)::float8, 0)
  FROM pg_stat_replication r
 ORDER BY 1, 2, r.pid`

// Standbys returns the standbys streaming from the primary (the Store's
// pool), as pg_stat_replication shows them: whether or not they are in
// Config.Replicas. For the Store's own view of its replicas — health, the
// lag it measures, the reads they served — see Stats().Replicas.
func (s *Store) Standbys(ctx context.Context) ([]StandbyStatus, error) {
	var out []StandbyStatus
	err := s.do(ctx, opSpec{op: OpStandbys, replayable: true}, func(ctx context.Context) (int, error) {
		out = out[:0]
		rows, err := s.pool.Query(ctx, standbysSQL)
		if err != nil {
			return 0, mapError(err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				st                StandbyStatus
				sent, replay      int64
				write, flush, rep float64
			)
			if err := rows.Scan(&st.Name, &st.Address, &st.State, &st.SyncState, &st.Visible, &sent, &replay,
				&st.ReplayLagBytes, &write, &flush, &rep); err != nil {
				return 0, mapError(err)
			}
			st.SentPosition, st.ReplayPosition = ConsistencyToken{lsn: uint64(sent)}, ConsistencyToken{lsn: uint64(replay)}
			st.WriteLag, st.FlushLag, st.ReplayLag = seconds(write), seconds(flush), seconds(rep)
			out = append(out, st)
		}
		return 0, mapError(rows.Err())
	})
	return out, opError("standbys", "", err)
}
