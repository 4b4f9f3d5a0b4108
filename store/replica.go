package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults applied to zero ReplicaConfig fields.
const (
	// DefaultMaxReplicaLag is the default replay lag past which a standby
	// is skipped until it catches up.
	DefaultMaxReplicaLag = time.Second
	// DefaultReplicaMaxWait is the default longest wait of a read for a
	// standby to replay a write the read must see, before the primary
	// serves it.
	DefaultReplicaMaxWait = 100 * time.Millisecond
	// DefaultReplicaCheckInterval is how often each standby's health and
	// lag are checked by default.
	DefaultReplicaCheckInterval = 250 * time.Millisecond
)

// replayPollInterval spaces the queries that watch a standby's replay while
// reads wait for it — longer, up to maxReplayPollInterval, for a standby
// that lags: an eighth of its lag at the last check, so that waiting for a
// slow standby does not load it (and the shared machine) with polls.
// replicaCheckTimeout bounds one health check.
const (
	replayPollInterval    = 500 * time.Microsecond
	maxReplayPollInterval = 10 * time.Millisecond
	replicaCheckTimeout   = 2 * time.Second
)

// ReplicaConfig configures reads from hot standbys of the primary
// (Config.Replicas). With no Pools every read goes to the primary.
//
// With Pools, the reads of the Store — ReadForward, ReadBackward, Stream,
// StreamInfo, ListStreams, ReadSnapshot, ReadFeed, Feed, FeedEnd, the reads
// of subscriptions and whatever is built on them, such as game recovery —
// go to a healthy standby, in turn. Writes, FeedLag, subscription
// checkpoints and locks, the listener, and everything inside InTx or a
// caller's transaction (WithTx) stay on the primary.
//
// Read-your-writes: a read sees every write the same Store made before it
// — of the stream it reads, for stream reads and snapshots; every write of
// the Store, for ListStreams and the feed (subject, as always, to the
// feed's horizon) — whichever server serves it: a standby serves it once it
// has replayed those writes, waiting up to MaxWait, and the primary
// otherwise. Writes made elsewhere (another process, a caller's
// transaction) are seen through a ConsistencyToken (WithConsistency).
// Anything else may be as stale as the standby's replay lag
// (Stats().Replicas tells it; at most MaxLag while the standby is used),
// but never torn: a read sees whole transactions. The feed's order and its
// no-skip guarantee hold on a standby as on the primary (see
// docs/SCALING.md).
type ReplicaConfig struct {
	// Pools are read pools on hot standbys that stream from the Store's
	// pool (the primary). The caller owns them and closes them after
	// Store.Close.
	Pools []*pgxpool.Pool
	// MaxLag is the replay lag past which a standby is skipped until it
	// has caught up again. Default DefaultMaxReplicaLag.
	MaxLag time.Duration
	// MaxWait bounds how long a read waits for a standby to replay a write
	// it must see; then the primary serves it. Default
	// DefaultReplicaMaxWait.
	MaxWait time.Duration
	// CheckInterval is how often each standby's reachability and replay
	// lag are checked. Default DefaultReplicaCheckInterval.
	CheckInterval time.Duration
}

// ReplicaStats describes one standby of Config.Replicas.
type ReplicaStats struct {
	// Name is the standby's host:port.
	Name string
	// Healthy reports that reads go to the standby: it was reachable, in
	// recovery and within MaxLag at the last check.
	Healthy bool
	// Reason says why the standby is skipped ("" while healthy).
	Reason string
	// Lag is the standby's replay lag at the last check: it had not
	// replayed WAL the primary had written Lag ago (0: caught up). It is
	// measured against the primary's WAL positions sampled every
	// CheckInterval, so it is accurate to about one interval; a lag of more
	// than four times MaxLag is taken from the standby's clock (the age of
	// the last transaction it replayed).
	Lag time.Duration
	// LagBytes is how much WAL the standby had still to replay.
	LagBytes int64
	// ReplayPosition is the last WAL position the standby had replayed.
	ReplayPosition ConsistencyToken
	// ReplayPaused reports that replay is paused (pg_wal_replay_pause()).
	ReplayPaused bool
	// CheckedAt is the time of the last check (zero before the first).
	CheckedAt time.Time
	// Reads counts the statements the standby served.
	Reads int64
	// Waits counts reads that waited for the standby to replay a write
	// they had to see; Fallbacks those of them that the primary served
	// because the standby did not get there within MaxWait.
	Waits     int64
	Fallbacks int64
	// Failures counts reads that failed on the standby with a connection
	// error (and were served elsewhere); the standby is then skipped until
	// a check finds it back.
	Failures int64
}

// replicaSet holds a Store's standbys, their health and the Store's write
// tracking.
type replicaSet struct {
	primary *pgxpool.Pool
	cfg     ReplicaConfig
	log     *slog.Logger
	members []*replica
	next    atomic.Uint64 // round robin
	writes  *writeTracker

	primaryReads atomic.Int64 // routed reads the primary served

	lagMu      sync.Mutex
	lagSamples []timedLSN // the primary's WAL position at each check, ascending

	ctx    context.Context
	cancel context.CancelFunc
	bgMu   sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// timedLSN is a health check's sample of the primary's WAL position.
type timedLSN struct {
	at time.Time
	lsnSample
}

// replica is one standby.
type replica struct {
	set     *replicaSet
	pool    *pgxpool.Pool
	name    string
	healthy atomic.Bool
	applied atomic.Uint64 // the last replay position seen
	lagNs   atomic.Int64  // the lag at the last check

	mu        sync.Mutex
	reason    string
	lagBytes  int64
	paused    bool
	checkedAt time.Time

	reads, waits, fallbacks, failures atomic.Int64

	// Watching the replay position while reads wait for it: one poller
	// per standby, running while there are waiters.
	wmu     sync.Mutex
	waiters int
	polling bool
	tick    chan struct{} // closed after each poll
}

// newReplicaSet returns nil when cfg has no pools.
func newReplicaSet(primary *pgxpool.Pool, cfg ReplicaConfig, log *slog.Logger) *replicaSet {
	if len(cfg.Pools) == 0 {
		return nil
	}
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = DefaultMaxReplicaLag
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultReplicaMaxWait
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultReplicaCheckInterval
	}
	rs := &replicaSet{primary: primary, cfg: cfg, log: log, writes: newWriteTracker(primary)}
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
	for _, p := range cfg.Pools {
		cc := p.Config().ConnConfig
		rs.members = append(rs.members, &replica{
			set: rs, pool: p, name: net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))),
			reason: "not checked yet",
		})
	}
	rs.background(rs.checkLoop)
	return rs
}

// background runs fn on a goroutine that close waits for, unless the set
// is closed.
func (rs *replicaSet) background(fn func()) bool {
	rs.bgMu.Lock()
	defer rs.bgMu.Unlock()
	if rs.closed {
		return false
	}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		fn()
	}()
	return true
}

func (rs *replicaSet) close() {
	if rs == nil {
		return
	}
	rs.bgMu.Lock()
	rs.closed = true
	rs.bgMu.Unlock()
	rs.cancel()
	rs.wg.Wait()
}

// checkLoop checks the standbys every CheckInterval until the set closes.
func (rs *replicaSet) checkLoop() {
	t := time.NewTicker(rs.cfg.CheckInterval)
	defer t.Stop()
	for {
		rs.check(rs.ctx)
		select {
		case <-rs.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthSQL tells whether a server is a standby, how far it has replayed
// and whether replay is paused.
const healthSQL = `SELECT pg_is_in_recovery(),
       coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0),
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END,
       coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 0)`

// replayLSNSQL reads a standby's replay position.
const replayLSNSQL = "SELECT coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0)"

// replayPollSQL reads a standby's replay position and whether its replay
// is paused, for a check that waits for it (replayedBy).
const replayPollSQL = `SELECT coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0),
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END`

// check samples the primary's WAL position, then checks every standby
// against it.
func (rs *replicaSet) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, replicaCheckTimeout)
	defer cancel()
	at := time.Now()
	if s, err := rs.writes.sample(cctx); err == nil {
		rs.lagMu.Lock()
		if n := len(rs.lagSamples); n == 0 || (rs.lagSamples[n-1].lsn <= s.lsn && rs.lagSamples[n-1].covers <= s.covers) {
			rs.lagSamples = append(rs.lagSamples, timedLSN{at: at, lsnSample: s})
		}
		// Keep what measuring a lag up to a few times MaxLag needs (longer
		// ones are measured by the standby's clock).
		keep := at.Add(-4*rs.cfg.MaxLag - 4*rs.cfg.CheckInterval)
		i := 0
		for i < len(rs.lagSamples)-1 && rs.lagSamples[i+1].at.Before(keep) {
			i++
		}
		rs.lagSamples = rs.lagSamples[i:]
		rs.lagMu.Unlock()
	}
	rs.lagMu.Lock()
	samples := make([]lsnSample, len(rs.lagSamples))
	for i, s := range rs.lagSamples {
		samples[i] = s.lsnSample
	}
	rs.lagMu.Unlock()
	rs.writes.prune(at, samples)
	var wg sync.WaitGroup
	for _, r := range rs.members {
		wg.Go(func() { r.check(cctx) })
	}
	wg.Wait()
}

// lagOf returns how long a standby that has replayed up to applied is
// behind, and by how many bytes, per the primary's sampled positions. A lag
// longer than the samples kept is told by the standby's own clock instead:
// replayAge is how long ago the last transaction it replayed committed.
// That clock only bounds the lag from above (the primary may have written
// no commit since, only other WAL: pages pruned by reads, checkpoints), so when it
// decides, oldest is the oldest sample, which the standby is known to be
// behind.
func (rs *replicaSet) lagOf(applied uint64, now time.Time, replayAge time.Duration) (lag time.Duration, bytes int64, oldest *timedLSN) {
	rs.lagMu.Lock()
	defer rs.lagMu.Unlock()
	n := len(rs.lagSamples)
	if n == 0 || applied >= rs.lagSamples[n-1].lsn {
		return 0, 0, nil
	}
	bytes = int64(rs.lagSamples[n-1].lsn - applied)
	i := sort.Search(n, func(i int) bool { return rs.lagSamples[i].lsn > applied })
	// The primary had written past applied already at that sample.
	lag = max(now.Sub(rs.lagSamples[i].at), 0)
	if i == 0 && replayAge > lag {
		first := rs.lagSamples[0]
		return replayAge, bytes, &first
	}
	return lag, bytes, nil
}

// replayedBy watches a standby whose lag only its clock says is over
// MaxLag while the samples cannot tell (a Store that started less than
// MaxLag ago has no older sample): it polls the standby's replay position
// until it reaches the sample, which puts the lag at most at the sample's
// age then, or until the sample is MaxLag old, which proves the lag over
// MaxLag (lag is then returned as it was). paused is whether replay was
// paused when the check began; it returns whether it is at the end.
func (r *replica) replayedBy(ctx context.Context, sample *timedLSN, lag time.Duration, paused bool) (time.Duration, bool) {
	deadline := sample.at.Add(r.set.cfg.MaxLag)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var replay int64
		if err := r.pool.QueryRow(ctx, replayPollSQL).Scan(&replay, &paused); err != nil {
			return lag, paused
		}
		now := time.Now()
		r.applied.Store(uint64(replay))
		if uint64(replay) >= sample.lsn {
			return now.Sub(sample.at), paused
		}
		if !now.Before(deadline) {
			return lag, paused
		}
		select {
		case <-ctx.Done():
			return lag, paused
		case <-tick.C:
		}
	}
}

// check checks one standby and updates its health.
func (r *replica) check(ctx context.Context) {
	var (
		inRecovery, paused bool
		replay             int64
		replayAge          float64
	)
	err := r.pool.QueryRow(ctx, healthSQL).Scan(&inRecovery, &replay, &paused, &replayAge)
	now := time.Now()
	if err != nil {
		if ctx.Err() == nil && r.set.ctx.Err() == nil {
			r.setDown(now, "unreachable: "+err.Error())
		}
		return
	}
	if !inRecovery {
		r.setDown(now, "not a standby: the server is not in recovery (promoted?)")
		return
	}
	r.applied.Store(uint64(replay))
	lag, lagBytes, oldest := r.set.lagOf(uint64(replay), now, seconds(replayAge))
	if oldest != nil && lag > r.set.cfg.MaxLag && now.Sub(oldest.at) <= r.set.cfg.MaxLag {
		lag, paused = r.replayedBy(ctx, oldest, lag, paused)
		now = time.Now()
		// It may have replayed further meanwhile: count the bytes from
		// where it is now.
		_, lagBytes, _ = r.set.lagOf(r.applied.Load(), now, 0)
	}
	r.lagNs.Store(int64(lag))
	reason := ""
	if lag > r.set.cfg.MaxLag {
		reason = fmt.Sprintf("replay lag %s exceeds %s", lag.Round(time.Millisecond), r.set.cfg.MaxLag)
		if paused {
			reason += " (replay paused)"
		}
	}
	r.mu.Lock()
	r.lagBytes, r.paused, r.checkedAt = lagBytes, paused, now
	prev := r.reason
	r.reason = reason
	r.mu.Unlock()
	was := r.healthy.Swap(reason == "")
	switch {
	case reason == "" && !was:
		r.set.log.Info("eventstore: standby in use", "replica", r.name, "lag", lag, "was", prev)
	case reason != "" && was:
		r.set.log.Warn("eventstore: standby skipped", "replica", r.name, "reason", reason)
	}
}

// setDown marks the standby unusable until a check finds it back.
func (r *replica) setDown(now time.Time, reason string) {
	reason = strings.Join(strings.Fields(reason), " ") // one line
	r.mu.Lock()
	r.reason, r.checkedAt = reason, now
	r.mu.Unlock()
	// Its replay position is unknown now: after a restart it may be lower.
	r.applied.Store(0)
	if r.healthy.Swap(false) {
		r.set.log.Warn("eventstore: standby skipped", "replica", r.name, "reason", reason)
	}
}

// fail records a read that failed on the standby with a connection error.
func (r *replica) fail(err error) {
	r.failures.Add(1)
	r.setDown(time.Now(), "read failed: "+err.Error())
}

func (r *replica) stats() ReplicaStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReplicaStats{
		Name:           r.name,
		Healthy:        r.healthy.Load(),
		Reason:         r.reason,
		Lag:            time.Duration(r.lagNs.Load()),
		LagBytes:       r.lagBytes,
		ReplayPosition: ConsistencyToken{lsn: r.applied.Load()},
		ReplayPaused:   r.paused,
		CheckedAt:      r.checkedAt,
		Reads:          r.reads.Load(),
		Waits:          r.waits.Load(),
		Fallbacks:      r.fallbacks.Load(),
		Failures:       r.failures.Load(),
	}
}

// stats returns the standbys' stats and the number of routed reads the
// primary served.
func (rs *replicaSet) stats() ([]ReplicaStats, int64) {
	if rs == nil {
		return nil, 0
	}
	out := make([]ReplicaStats, len(rs.members))
	for i, r := range rs.members {
		out[i] = r.stats()
	}
	return out, rs.primaryReads.Load()
}

// CheckReplicas checks every standby of Config.Replicas now (as the
// background checks do every CheckInterval) and returns their stats; nil
// without replicas.
func (s *Store) CheckReplicas(ctx context.Context) []ReplicaStats {
	if s.replicas == nil {
		return nil
	}
	s.replicas.check(ctx)
	st, _ := s.replicas.stats()
	return st
}

// pick returns the standby a read that must see WAL position need goes to:
// a healthy one that has replayed it, in turn, else the healthy one that
// has replayed most (the read waits for it); nil when none is healthy.
func (rs *replicaSet) pick(need uint64) *replica {
	n := uint64(len(rs.members))
	start := rs.next.Add(1)
	var best *replica
	for i := range n {
		r := rs.members[(start+i)%n]
		if !r.healthy.Load() {
			continue
		}
		if need == 0 || r.applied.Load() >= need {
			return r
		}
		if best == nil || r.applied.Load() > best.applied.Load() {
			best = r
		}
	}
	return best
}

// waitFor waits until the standby has replayed lsn, ctx is done or
// deadline passes, and reports whether it got there.
func (r *replica) waitFor(ctx context.Context, lsn uint64, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		if r.applied.Load() >= lsn {
			return true
		}
		if !r.healthy.Load() {
			return false
		}
		tick, ok := r.watch()
		if !ok {
			return false
		}
		select {
		case <-tick:
			r.unwatch()
		case <-timer.C:
			r.unwatch()
			return r.applied.Load() >= lsn
		case <-ctx.Done():
			r.unwatch()
			return false
		}
	}
}

// watch registers a waiter and returns the channel closed after the next
// poll of the replay position, starting the poller if needed.
func (r *replica) watch() (<-chan struct{}, bool) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.tick == nil {
		r.tick = make(chan struct{})
	}
	if !r.polling {
		if !r.set.background(r.poll) {
			return nil, false
		}
		r.polling = true
	}
	r.waiters++
	return r.tick, true
}

func (r *replica) unwatch() {
	r.wmu.Lock()
	r.waiters--
	r.wmu.Unlock()
}

// poll reads the standby's replay position every replayPollInterval while
// reads wait for it.
func (r *replica) poll() {
	ctx := r.set.ctx
	for {
		pctx, cancel := context.WithTimeout(ctx, replicaCheckTimeout)
		var lsn int64
		err := r.pool.QueryRow(pctx, replayLSNSQL).Scan(&lsn)
		cancel()
		if err == nil {
			r.applied.Store(uint64(lsn))
		}
		r.wmu.Lock()
		close(r.tick)
		r.tick = make(chan struct{})
		if r.waiters == 0 || ctx.Err() != nil {
			r.polling = false
			r.wmu.Unlock()
			return
		}
		r.wmu.Unlock()
		wait := min(max(replayPollInterval, time.Duration(r.lagNs.Load())/8), maxReplayPollInterval)
		if err != nil {
			wait = maxReplayPollInterval
		}
		if sleepCtx(ctx, wait) != nil {
			r.wmu.Lock()
			r.polling = false
			close(r.tick)
			r.tick = make(chan struct{})
			r.wmu.Unlock()
			return
		}
	}
}

// readQueries returns the queries a read runs: routed to a standby (see
// routedDB) when the Store has replicas and ctx carries no transaction,
// otherwise those of s.queries. scope says which of the Store's own writes
// the read must see.
func (s *Store) readQueries(ctx context.Context, scope readScope) *db.Queries {
	return db.New(s.readDB(ctx, scope))
}

// readDB returns the db.DBTX that readQueries' queries run on.
func (s *Store) readDB(ctx context.Context, scope readScope) db.DBTX {
	if s.replicas == nil || txValueFrom(ctx) != nil {
		return s.dbFor(ctx)
	}
	guild, _ := GuildFromContext(ctx)
	return &routedDB{rs: s.replicas, guild: guild, scope: scope, token: ConsistencyFromContext(ctx).lsn}
}

// routedDB is the db.DBTX of reads when the Store has replicas. Each
// statement goes to a healthy standby, behind the guild setting when a
// guild applies. When the read must see some writes (its scope's, and the
// context's ConsistencyToken), the statement is sent in one batch after a
// query of the standby's replay position, and its result is used only if
// the standby had replayed those writes; otherwise the read waits for the
// standby up to MaxWait and is sent again, or the primary serves it. A
// standby that fails with a connection error is skipped, and the statement
// goes to the next one or the primary.
type routedDB struct {
	rs    *replicaSet
	guild string
	scope readScope
	token uint64

	resolved bool
	need     uint64
}

// needLSN returns the WAL position the read must see (0: none); ok false
// means it is unknown (the primary could not be asked) and the primary
// should serve the read.
func (d *routedDB) needLSN(ctx context.Context) (uint64, bool) {
	if d.resolved {
		return d.need, true
	}
	mark, floor := d.rs.writes.markFor(d.scope)
	need := max(d.token, floor)
	if mark > 0 {
		lsn, err := d.rs.writes.resolve(ctx, mark)
		if err != nil {
			return 0, false
		}
		need = max(need, lsn)
	}
	d.need, d.resolved = need, true
	return need, true
}

// primary returns the primary's DBTX for the read.
func (d *routedDB) primary() db.DBTX {
	d.rs.primaryReads.Add(1)
	if d.guild != "" {
		return guildDB{b: d.rs.primary, guild: d.guild}
	}
	return d.rs.primary
}

// Exec implements db.DBTX. Reads do not Exec; should one, it runs on the
// primary.
func (d *routedDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return d.primary().Exec(ctx, sql, args...)
}

// QueryRow implements db.DBTX.
func (d *routedDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := d.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return &rowsRow{rows: rows}
}

// Query implements db.DBTX.
func (d *routedDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	need, ok := d.needLSN(ctx)
	if !ok {
		return d.primary().Query(ctx, sql, args...)
	}
	var deadline time.Time
	for {
		r := d.rs.pick(need)
		if r == nil {
			return d.primary().Query(ctx, sql, args...)
		}
		if need > 0 && r.applied.Load() < need && deadline.IsZero() {
			// Known to be behind: wait before asking.
			if rows, done, err := d.wait(ctx, r, need, &deadline, sql, args); done {
				return rows, err
			}
		}
		rows, applied, err := r.query(ctx, d.guild, need > 0, sql, args)
		if err != nil {
			if ctx.Err() == nil && unavailable(err) {
				r.fail(err)
				continue
			}
			return nil, err
		}
		if need == 0 || applied >= need {
			r.reads.Add(1)
			return rows, nil
		}
		rows.Close()
		if rows, done, err := d.wait(ctx, r, need, &deadline, sql, args); done {
			return rows, err
		}
	}
}

// wait waits for standby r to replay need, up to MaxWait after the first
// wait of the read. done reports that the wait failed and the statement's
// outcome is rows and err instead: the primary served it, or ctx ended.
func (d *routedDB) wait(ctx context.Context, r *replica, need uint64, deadline *time.Time, sql string, args []any) (rows pgx.Rows, done bool, err error) {
	if deadline.IsZero() {
		r.waits.Add(1)
		*deadline = time.Now().Add(d.rs.cfg.MaxWait)
		if time.Duration(r.lagNs.Load()) >= d.rs.cfg.MaxWait {
			// Too far behind to get there in time.
			r.fallbacks.Add(1)
			rows, err = d.primary().Query(ctx, sql, args...)
			return rows, true, err
		}
	}
	if r.waitFor(ctx, need, *deadline) {
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, true, err
	}
	r.fallbacks.Add(1)
	rows, err = d.primary().Query(ctx, sql, args...)
	return rows, true, err
}

// query runs one statement on the standby, after the guild setting when
// guild is set and after a query of its replay position when check is set
// (one round trip; each statement has its own snapshot, so the read's is
// taken after the position was read). It returns the rows and the position.
func (r *replica) query(ctx context.Context, guild string, check bool, sql string, args []any) (pgx.Rows, uint64, error) {
	if guild == "" && !check {
		rows, err := r.pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, 0, err
		}
		return &replicaRows{Rows: rows, r: r, ctx: ctx}, 0, nil
	}
	b := &pgx.Batch{}
	if guild != "" {
		b.Queue(setGuildSQL, guild)
	}
	if check {
		b.Queue(replayLSNSQL)
	}
	b.Queue(sql, args...)
	br := r.pool.SendBatch(ctx, b)
	if guild != "" {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, 0, err
		}
	}
	var applied int64
	if check {
		if err := br.QueryRow().Scan(&applied); err != nil {
			_ = br.Close()
			return nil, 0, err
		}
		r.applied.Store(uint64(applied))
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, 0, err
	}
	return &replicaRows{Rows: &batchRows{Rows: rows, br: br}, r: r, ctx: ctx}, uint64(applied), nil
}

// unavailable reports an error that says the server cannot serve reads now
// (lost connection, shutting down, starting up, full): see ErrConnection.
func unavailable(err error) bool {
	return errors.Is(mapError(err), ErrConnection)
}

// replicaRows marks its standby down when reading the rows fails because
// the standby went away.
type replicaRows struct {
	pgx.Rows
	r      *replica
	ctx    context.Context
	failed bool
}

func (rr *replicaRows) Err() error {
	err := rr.Rows.Err()
	if err != nil && !rr.failed && rr.ctx.Err() == nil && unavailable(err) {
		rr.failed = true
		rr.r.fail(err)
	}
	return err
}

// rowsRow is a pgx.Row over the first row of rows.
type rowsRow struct{ rows pgx.Rows }

func (r *rowsRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
