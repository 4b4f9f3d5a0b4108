package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// noStandby is why the replica scenarios are skipped without a standby.
const noStandby = "no hot standby: pass --replica (with --replica-url or $STANDBY_DATABASE_URL; make bench BENCH_FLAGS=--replica starts one)"

// standbyReplayTimeout bounds the wait for the standby to replay the
// scratch database or a fixture.
const standbyReplayTimeout = 2 * time.Minute

// replicaSide is the run's view of the standby: a pool on the scratch
// database there and stores that read from it.
type replicaSide struct {
	admin *pgxpool.Pool // the standby's server, as given
	pool  *pgxpool.Pool // the scratch database on the standby
	// raw reads from the standby and never writes, so its reads wait for
	// nothing (serde.Passthrough).
	raw *store.Store
	// writer appends through the primary and reads from the standby, its
	// reads seeing its own appends (serde.Passthrough).
	writer *store.Store
}

// openReplica connects to the scratch database on the standby at
// standbyURL once the standby has replayed its creation and migration.
func (r *runner) openReplica(ctx context.Context, standbyURL, database string) error {
	cfg, err := pgxpool.ParseConfig(standbyURL)
	if err != nil {
		return fmt.Errorf("bench: standby url: %w", err)
	}
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bench: connect to the standby: %w", err)
	}
	rs := &replicaSide{admin: admin}
	r.replica = rs
	if err := r.waitStandby(ctx); err != nil {
		return err
	}
	cfg = cfg.Copy()
	cfg.ConnConfig.Database = database
	cfg.MaxConns = 24
	cfg.MinConns = 0
	if rs.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("bench: connect to %s on the standby: %w", database, err)
	}
	replicas := store.ReplicaConfig{Pools: []*pgxpool.Pool{rs.pool}}
	// The read scenarios wait for the standby to replay their fixtures,
	// then measure it however far behind the rest of the server's load
	// puts it; the read-your-writes one runs with the defaults.
	rs.raw = store.New(r.pool, store.Config{Replicas: store.ReplicaConfig{Pools: replicas.Pools, MaxLag: time.Hour}})
	rs.writer = store.New(r.pool, store.Config{Replicas: replicas})
	if st := rs.raw.CheckReplicas(ctx); !st[0].Healthy {
		return fmt.Errorf("bench: the standby %s is not usable: %s", st[0].Name, st[0].Reason)
	}
	return nil
}

// closeReplica closes the stores and pools on the standby.
func (r *runner) closeReplica() {
	rs := r.replica
	if rs == nil {
		return
	}
	for _, s := range []*store.Store{rs.raw, rs.writer} {
		if s != nil {
			s.Close()
		}
	}
	if rs.pool != nil {
		rs.pool.Close()
	}
	rs.admin.Close()
	r.replica = nil
}

// waitStandby waits until the standby has replayed everything committed on
// the primary so far.
func (r *runner) waitStandby(ctx context.Context) error {
	tok, err := r.raw.ConsistencyToken(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(standbyReplayTimeout)
	for {
		var done bool
		err := r.replica.admin.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", tok.String()).Scan(&done)
		if err != nil {
			return fmt.Errorf("bench: standby replay position: %w", err)
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the standby did not replay %s within %s", tok, standbyReplayTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// servedByStandby fails unless s sent its reads to the standby: a figure
// measured on the primary by a fallback must not pass for the standby's.
func servedByStandby(s *store.Store) error {
	st := s.Stats()
	if len(st.Replicas) == 0 || st.Replicas[0].Reads == 0 || st.PrimaryReads > 0 {
		return fmt.Errorf("bench: the reads did not all go to the standby (standby %+v, primary reads %d)", st.Replicas, st.PrimaryReads)
	}
	return nil
}

// readStreamReplica reads read_stream's stream from the standby, against
// the same reads from the primary.
func readStreamReplica(ctx context.Context, r *runner) (Result, error) {
	id, err := r.readStreamFixture(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := r.waitStandby(ctx); err != nil {
		return Result{}, err
	}
	passes := r.scaled(3, 1)
	ours := func(ctx context.Context, rep int) (sample, error) {
		return readStreamOurs(ctx, r.replica.raw, id, r.streamEvents, passesFor(rep, passes), false)
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return readStreamOurs(ctx, r.raw, id, r.streamEvents, passesFor(rep, passes), false)
	}
	o, b, err := r.compare(ctx, "read_stream_replica", ours, base)
	if err != nil {
		return Result{}, err
	}
	if err := servedByStandby(r.replica.raw); err != nil {
		return Result{}, err
	}
	params := map[string]any{"stream_events": r.streamEvents, "batch": readBatch, "passes": passes, "typed": false}
	return rateResult(params,
		measureOf("Store.Stream from the hot standby (Config.Replicas), batch 1000, no decoding", o),
		measureOf("the same Store.Stream reads from the primary, same run", b),
		&Target{Op: ">=", Value: 0.9}), nil
}

// feedCatchupReplica reads feed_catchup's events from the standby, against
// the same reads from the primary.
func feedCatchupReplica(ctx context.Context, r *runner) (Result, error) {
	fx, err := r.feedFixture(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := r.waitStandby(ctx); err != nil {
		return Result{}, err
	}
	// The standby's horizon trails the primary's by the replay lag: wait
	// until it delivers the whole fixture.
	if err := waitFeedCount(ctx, r.replica.raw, fx); err != nil {
		return Result{}, err
	}
	ours := func(ctx context.Context, rep int) (sample, error) {
		return feedOurs(ctx, r.replica.raw, fx.after, warmCount(rep, fx.events), false)
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return feedOurs(ctx, r.raw, fx.after, warmCount(rep, fx.events), false)
	}
	o, b, err := r.compare(ctx, "feed_catchup_replica", ours, base)
	if err != nil {
		return Result{}, err
	}
	if err := servedByStandby(r.replica.raw); err != nil {
		return Result{}, err
	}
	params := map[string]any{"events": fx.events, "batch": readBatch, "typed": false}
	return rateResult(params,
		measureOf("Store.ReadFeed from the hot standby, batch 1000, no decoding", o),
		measureOf("the same Store.ReadFeed reads from the primary, same run", b),
		&Target{Op: ">=", Value: 0.9}), nil
}

// waitFeedCount waits until s's feed delivers fx's events after fx.after.
func waitFeedCount(ctx context.Context, s *store.Store, fx *feedFixture) error {
	deadline := time.Now().Add(standbyReplayTimeout)
	for {
		_, err := feedOurs(ctx, s, fx.after, fx.events, false)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the standby's feed: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readYourWritesLatency appends one event and reads the stream's last
// event back through the same store, whose reads go to the standby and must
// see the append: the read's latency, against the same pairs on a store
// without replicas (the primary answers at once).
func readYourWritesLatency(ctx context.Context, r *runner) (Result, error) {
	probes := r.scaled(500, 10)
	ours := func(ctx context.Context, rep int) (sample, error) {
		return r.appendThenRead(ctx, r.replica.writer, "ryw-standby", rep, warmCount(rep, probes))
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return r.appendThenRead(ctx, r.raw, "ryw-primary", rep, warmCount(rep, probes))
	}
	o, b, err := r.compare(ctx, "read_your_writes_latency", ours, base)
	if err != nil {
		return Result{}, err
	}
	st := r.replica.writer.Stats()
	res := Result{
		Parameters: map[string]any{
			"probes": probes, "sequential": true, "streams": 8,
			"standby_reads": st.Replicas[0].Reads, "waits": st.Replicas[0].Waits,
			"fallbacks_to_primary": st.Replicas[0].Fallbacks, "max_wait_ms": ms(store.DefaultReplicaMaxWait),
		},
		Measure:  measureOf("Append, then ReadBackward of the stream's last event through the same store, served by the standby once it has replayed the append (else the primary after MaxWait): latency of the read", o),
		Baseline: measureOf("the same pairs on a store without replicas: the read goes to the primary", b),
		RatioOf:  "p99",
	}
	res.setP99Ratio()
	return res, nil
}

// appendThenRead makes n sequential append-then-read pairs over 8 streams
// and records each read's latency.
func (r *runner) appendThenRead(ctx context.Context, s *store.Store, side string, rep, n int) (sample, error) {
	ctx = store.WithGuild(ctx, Guild)
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		id := fmt.Sprintf("%s-%s-%d-%d", r.tag, side, rep+1, i%8)
		res, err := s.Append(ctx, id, store.Any, StoreEvent(id, i))
		if err != nil {
			return sample{}, err
		}
		t0 := time.Now()
		recs, err := s.ReadBackward(ctx, id, store.End, 1)
		if err != nil {
			return sample{}, err
		}
		lat = append(lat, time.Since(t0))
		if len(recs) != 1 || recs[0].Version != res.Version {
			return sample{}, fmt.Errorf("read after append to %s: got %d events, want version %d", id, len(recs), res.Version)
		}
	}
	return sample{events: n, elapsed: time.Since(start), latencies: lat}, nil
}
