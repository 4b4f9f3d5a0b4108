package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// urlList is a repeatable string flag.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }

func (l *urlList) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty URL")
	}
	*l = append(*l, v)
	return nil
}

// addReplicaFlag adds --replica-url to a read command.
func addReplicaFlag(fs *flag.FlagSet, c *cmdContext) {
	fs.Var((*urlList)(&c.replicaURLs), "replica-url",
		"read from this hot standby of the database (repeatable); writes, locks and the feed's wake-ups stay on the primary")
}

// openReplicas opens (once) a pool per --replica-url.
func (c *cmdContext) openReplicas(ctx context.Context) ([]*pgxpool.Pool, error) {
	if c.replicaPools != nil || len(c.replicaURLs) == 0 {
		return c.replicaPools, nil
	}
	pools := make([]*pgxpool.Pool, 0, len(c.replicaURLs))
	for _, u := range c.replicaURLs {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			for _, p := range pools {
				p.Close()
			}
			return nil, fmt.Errorf("--replica-url: %w", err)
		}
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			for _, p := range pools {
				p.Close()
			}
			return nil, fmt.Errorf("replica %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
		}
		pools = append(pools, p)
	}
	c.replicaPools = pools
	return pools, nil
}

// closeReplicas closes the replica pools (after the stores using them).
func (c *cmdContext) closeReplicas() {
	for _, p := range c.replicaPools {
		p.Close()
	}
	c.replicaPools = nil
}

// openStoreWith returns a Store over the command's database with cfg and the
// --replica-url standbys, checked once so that the first read already goes
// to a healthy one; a standby that is skipped is reported on stderr (the
// primary serves the reads). The caller closes the store.
func (c *cmdContext) openStoreWith(ctx context.Context, cfg store.Config) (*store.Store, error) {
	pool, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	replicas, err := c.openReplicas(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Replicas.Pools = replicas
	cfg.Observer = c.tel.observer()
	s := store.New(pool, cfg)
	if err := c.tel.instrument(s); err != nil {
		s.Close()
		return nil, fmt.Errorf("OpenTelemetry: %w", err)
	}
	for _, r := range s.CheckReplicas(ctx) {
		if !r.Healthy {
			fmt.Fprintf(c.env.Stderr, "eventstore: replica %s not used (%s); reading from the primary\n", r.Name, r.Reason)
		}
	}
	return s, nil
}

// readPool returns the pool for the command's own SQL reads: a healthy
// standby of s, else the primary.
func (c *cmdContext) readPool(s *store.Store) *pgxpool.Pool {
	for i, r := range s.Stats().Replicas {
		if r.Healthy && i < len(c.replicaPools) {
			return c.replicaPools[i]
		}
	}
	return s.Pool()
}

// replicationJSON is the replication part of `eventstore stats`.
type replicationJSON struct {
	// Standbys are the standbys streaming from the primary
	// (pg_stat_replication).
	Standbys []standbyJSON `json:"standbys"`
	// Replicas are the --replica-url standbys as this command checked them.
	Replicas []replicaJSON `json:"replicas,omitempty"`
}

type standbyJSON struct {
	Name             string   `json:"name"`
	Address          string   `json:"address"`
	State            string   `json:"state"`
	SyncState        string   `json:"sync_state"`
	ReplayPosition   *string  `json:"replay_position"` // nil: not visible to the role
	ReplayLagBytes   *int64   `json:"replay_lag_bytes"`
	ReplayLagSeconds *float64 `json:"replay_lag_seconds"`
}

type replicaJSON struct {
	Name           string  `json:"name"`
	Healthy        bool    `json:"healthy"`
	Reason         string  `json:"reason,omitempty"`
	LagSeconds     float64 `json:"lag_seconds"`
	LagBytes       int64   `json:"lag_bytes"`
	ReplayPosition string  `json:"replay_position"`
	ReplayPaused   bool    `json:"replay_paused"`
}

// collectReplication reads the primary's standbys and checks the
// --replica-url ones; nil when there is neither.
func collectReplication(ctx context.Context, c *cmdContext) (*replicationJSON, error) {
	s, err := c.openStoreWith(ctx, store.Config{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	standbys, err := s.Standbys(ctx)
	if err != nil {
		return nil, err
	}
	replicas := s.Stats().Replicas
	if len(standbys) == 0 && len(replicas) == 0 {
		return nil, nil
	}
	out := &replicationJSON{Standbys: []standbyJSON{}}
	for _, st := range standbys {
		j := standbyJSON{Name: st.Name, Address: st.Address, State: st.State, SyncState: st.SyncState}
		if st.Visible {
			pos, lag, secs := st.ReplayPosition.String(), st.ReplayLagBytes, st.ReplayLag.Seconds()
			j.ReplayPosition, j.ReplayLagBytes, j.ReplayLagSeconds = &pos, &lag, &secs
		}
		out.Standbys = append(out.Standbys, j)
	}
	for _, r := range replicas {
		out.Replicas = append(out.Replicas, replicaJSON{
			Name: r.Name, Healthy: r.Healthy, Reason: r.Reason, LagSeconds: r.Lag.Seconds(), LagBytes: r.LagBytes,
			ReplayPosition: r.ReplayPosition.String(), ReplayPaused: r.ReplayPaused,
		})
	}
	return out, nil
}

// printReplication prints the replication part of `eventstore stats`.
func printReplication(w io.Writer, r *replicationJSON) {
	if r == nil {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "STANDBY (pg_stat_replication)\tADDRESS\tSTATE\tSYNC\tREPLAYED\tBEHIND\tREPLAY LAG")
	if len(r.Standbys) == 0 {
		fmt.Fprintln(w, "none streaming from the primary")
	}
	for _, st := range r.Standbys {
		pos, behind, lag := "-", "-", "-"
		if st.ReplayPosition != nil {
			pos, behind = *st.ReplayPosition, formatBytes(*st.ReplayLagBytes)
			lag = (time.Duration(*st.ReplayLagSeconds * float64(time.Second))).Round(time.Microsecond).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Name, st.Address, st.State, st.SyncState, pos, behind, lag)
	}
	if len(r.Replicas) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "REPLICA (--replica-url)\tUSED\tREPLAYED\tBEHIND\tLAG\tWHY NOT")
		for _, rp := range r.Replicas {
			used := "yes"
			if !rp.Healthy {
				used = "no"
			}
			lag := (time.Duration(rp.LagSeconds * float64(time.Second))).Round(time.Microsecond).String()
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", rp.Name, used, rp.ReplayPosition, formatBytes(rp.LagBytes), lag, rp.Reason)
		}
	}
}

// readCounts returns the statements of reads s sent to its standbys and to
// the primary.
func readCounts(s *store.Store) (standby, primary int64) {
	st := s.Stats()
	for _, r := range st.Replicas {
		standby += r.Reads
	}
	return standby, st.PrimaryReads
}

// waitStandbyCaughtUp waits until s's first standby is healthy and has
// replayed every write committed so far, at most timeout, and returns how
// long that took.
func waitStandbyCaughtUp(ctx context.Context, s *store.Store, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	tok, err := s.ConsistencyToken(ctx)
	if err != nil {
		return 0, err
	}
	for {
		st := s.CheckReplicas(ctx)
		if st[0].Healthy && !st[0].ReplayPosition.Less(tok) {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("the standby %s did not catch up within %s: %s", st[0].Name, timeout, st[0].Reason)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
