package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ConsistencyToken is a position in the primary's write-ahead log (a
// PostgreSQL LSN). A read made with WithConsistency(ctx, tok) sees every
// write that had committed when tok was taken, whichever server serves it:
// a hot standby serves it once it has replayed the log up to tok, and the
// primary serves it when no standby gets there within
// ReplicaConfig.MaxWait. The zero token asks for nothing.
type ConsistencyToken struct{ lsn uint64 }

// IsZero reports whether t is the zero token.
func (t ConsistencyToken) IsZero() bool { return t.lsn == 0 }

// String formats t as PostgreSQL prints an LSN ("16/B374D848"), the form
// ParseConsistencyToken reads; the zero token is "0/0".
func (t ConsistencyToken) String() string {
	return fmt.Sprintf("%X/%X", t.lsn>>32, t.lsn&0xFFFFFFFF)
}

// ParseConsistencyToken parses a token in LSN form ("16/B374D848"), as
// ConsistencyToken.String or pg_current_wal_insert_lsn() print it, so a
// token can travel between processes.
func ParseConsistencyToken(s string) (ConsistencyToken, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return ConsistencyToken{}, fmt.Errorf("%w: consistency token %q (want an LSN such as 16/B374D848)", ErrInvalidArgument, truncate(s))
	}
	return ConsistencyToken{lsn: h<<32 | l}, nil
}

// Less reports whether t is an earlier WAL position than o.
func (t ConsistencyToken) Less(o ConsistencyToken) bool { return t.lsn < o.lsn }

// Max returns the later of t and o.
func (t ConsistencyToken) Max(o ConsistencyToken) ConsistencyToken {
	if o.lsn > t.lsn {
		return o
	}
	return t
}

type consistencyKey struct{}

// WithConsistency returns a context whose reads see every write that had
// committed when tok was taken (see ConsistencyToken). Tokens add up: a
// context that already carries one keeps the later of the two. Reads inside
// a transaction run on the primary and ignore tokens.
func WithConsistency(ctx context.Context, tok ConsistencyToken) context.Context {
	if prev, ok := ctx.Value(consistencyKey{}).(ConsistencyToken); ok {
		tok = tok.Max(prev)
	}
	return context.WithValue(ctx, consistencyKey{}, tok)
}

// ConsistencyFromContext returns the token a context carries (zero when
// none).
func ConsistencyFromContext(ctx context.Context) ConsistencyToken {
	tok, _ := ctx.Value(consistencyKey{}).(ConsistencyToken)
	return tok
}

// OpConsistencyToken names ConsistencyToken in Observation.Op.
const OpConsistencyToken = "consistency_token"

// currentLSNSQL reads the primary's WAL position that every commit which
// has returned lies below: the flush position, since a commit returns only
// once its record is flushed — unless synchronous_commit is off (for the
// store's sessions), when commits return before the flush and the insert
// position is taken instead. Not the insert position always: WAL inserted
// but not yet flushed by work that does not commit (pruning, vacuum) can
// stay unflushed, and so unreplayable, until the next commit, and a read
// waiting for it would wait in vain while no one commits.
const currentLSNSQL = `SELECT (CASE WHEN current_setting('synchronous_commit') = 'off'
             THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END - '0/0'::pg_lsn)::bigint`

// ConsistencyToken returns a token covering every write that committed on
// the primary before the call: pass it to WithConsistency, here or (as its
// String) in another process, so that reads there see those writes. The
// Store's own reads need no token for its own writes (see ReplicaConfig);
// a token is for writes made elsewhere — another process, a caller's
// transaction (WithTx) — or for reads of other streams that must see them.
func (s *Store) ConsistencyToken(ctx context.Context) (ConsistencyToken, error) {
	var tok ConsistencyToken
	err := s.do(ctx, opSpec{op: OpConsistencyToken, replayable: true}, func(ctx context.Context) (int, error) {
		lsn, err := primaryLSN(ctx, s.pool)
		tok = ConsistencyToken{lsn: lsn}
		return 0, err
	})
	return tok, opError("consistency token", "", err)
}

func primaryLSN(ctx context.Context, pool *pgxpool.Pool) (uint64, error) {
	var lsn int64
	if err := pool.QueryRow(ctx, currentLSNSQL).Scan(&lsn); err != nil {
		return 0, mapError(err)
	}
	return uint64(lsn), nil
}

// Write tracking: how a Store's reads see its own writes.
//
// Asking the primary for its WAL position after every write would cost each
// append a round trip. Instead each write the Store makes, once committed,
// takes the next number of a counter (its mark) and the Store remembers the
// mark per stream. WAL positions are sampled from the primary only when a
// read needs one: a sample whose query was sent after write m had committed
// (the counter read before sending it was at least m) is a WAL position
// past write m's commit record. Samples are shared: the health checks take
// one every interval, and reads that find no sample recent enough share
// one query in flight.

// trackedAge is how long the mark of a stream's last write is kept on its
// own. Older marks are folded into the floor: a WAL position — that of the
// oldest health-check sample taken after the write — which every stream read
// must see. By then every healthy standby has replayed it, so the check
// costs a read nothing, but it keeps the contract even for a standby that
// restarts and comes back at an older replay position.
const trackedAge = 10 * time.Second

// sampleTimeout bounds a query for the primary's WAL position.
const sampleTimeout = 5 * time.Second

// maxSamples bounds the WAL position samples kept for resolving marks.
const maxSamples = 64

type lsnSample struct {
	covers uint64 // every mark <= covers had committed when the query was sent
	lsn    uint64
}

type markEntry struct {
	mark uint64
	at   time.Time
}

// writeTracker remembers the marks of a Store's writes and resolves them to
// WAL positions.
type writeTracker struct {
	pool  *pgxpool.Pool // the primary
	clock atomic.Uint64 // the last mark handed out

	mu       sync.Mutex
	streams  map[string]markEntry
	floor    uint64      // a mark every stream read must see (writes of no one stream)
	floorLSN uint64      // a WAL position every stream read must see (folded marks)
	samples  []lsnSample // ascending covers
	inflight *sampleFetch
}

type sampleFetch struct {
	covers uint64
	done   chan struct{}
	lsn    uint64
	err    error
}

func newWriteTracker(pool *pgxpool.Pool) *writeTracker {
	return &writeTracker{pool: pool, streams: map[string]markEntry{}}
}

// wrote records a committed write of streamID; "" stands for a write that
// may touch any stream.
func (w *writeTracker) wrote(streamIDs ...string) {
	m := w.clock.Add(1)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(streamIDs) == 0 {
		w.floor = max(w.floor, m)
	}
	for _, id := range streamIDs {
		if id == "" {
			w.floor = max(w.floor, m)
			continue
		}
		w.streams[id] = markEntry{mark: m, at: now}
	}
}

// readScope says which of the Store's own writes a read must see.
type readScope struct {
	stream string // the stream's writes (and the floor)
	all    bool   // every write
}

var (
	// scopeFeed: a feed read sees every write of the Store. A subscription
	// woken in process by the Store's own commit then reads once the
	// standby has replayed it, instead of reading again and again, finding
	// nothing, until it has.
	scopeFeed = readScope{all: true}
	scopeAll  = readScope{all: true} // listings: every write
)

func scopeStream(id string) readScope { return readScope{stream: id} }

// markFor returns the mark a read of scope must see (0: none) and a WAL
// position it must see as well (the floor's).
func (w *writeTracker) markFor(scope readScope) (mark, lsn uint64) {
	if scope.all {
		return w.clock.Load(), 0
	}
	if scope.stream == "" {
		return 0, 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(w.streams[scope.stream].mark, w.floor), w.floorLSN
}

// resolve returns a WAL position past the commit of every write up to mark.
func (w *writeTracker) resolve(ctx context.Context, mark uint64) (uint64, error) {
	for {
		w.mu.Lock()
		for _, s := range w.samples {
			if s.covers >= mark {
				w.mu.Unlock()
				return s.lsn, nil
			}
		}
		if f := w.inflight; f != nil {
			w.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			if f.err != nil && f.covers >= mark {
				return 0, f.err
			}
			continue
		}
		f := &sampleFetch{covers: w.clock.Load(), done: make(chan struct{})}
		w.inflight = f
		w.mu.Unlock()
		// Other reads wait for this query too: the caller's cancellation
		// must not fail theirs.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sampleTimeout)
		f.lsn, f.err = primaryLSN(fctx, w.pool)
		cancel()
		w.mu.Lock()
		if f.err == nil {
			w.addSampleLocked(lsnSample{covers: f.covers, lsn: f.lsn})
		}
		w.inflight = nil
		close(f.done)
		w.mu.Unlock()
		if f.err != nil {
			return 0, f.err
		}
	}
}

// sample asks the primary for its WAL position as a sample for resolving
// marks, and returns it.
func (w *writeTracker) sample(ctx context.Context) (lsnSample, error) {
	covers := w.clock.Load()
	lsn, err := primaryLSN(ctx, w.pool)
	if err != nil {
		return lsnSample{}, err
	}
	s := lsnSample{covers: covers, lsn: lsn}
	w.mu.Lock()
	w.addSampleLocked(s)
	w.mu.Unlock()
	return s, nil
}

// addSampleLocked keeps samples ascending; a sample covering no more than a
// later one with a lower or equal position is useless and dropped.
func (w *writeTracker) addSampleLocked(s lsnSample) {
	i := len(w.samples)
	for i > 0 && w.samples[i-1].covers > s.covers {
		i--
	}
	if i > 0 && w.samples[i-1].covers == s.covers {
		if w.samples[i-1].lsn <= s.lsn {
			return
		}
		w.samples[i-1] = s
		return
	}
	w.samples = append(w.samples, lsnSample{})
	copy(w.samples[i+1:], w.samples[i:])
	w.samples[i] = s
	if len(w.samples) > maxSamples {
		w.samples = append(w.samples[:0], w.samples[len(w.samples)-maxSamples:]...)
	}
}

// prune folds the marks of writes older than trackedAge, and the floor's
// mark, into the floor's WAL position: that of the oldest of samples (the
// health checks', ascending) that covers them. A mark no sample covers yet
// is kept.
func (w *writeTracker) prune(now time.Time, samples []lsnSample) {
	covering := func(mark uint64) (uint64, bool) {
		i := sort.Search(len(samples), func(i int) bool { return samples[i].covers >= mark })
		if i == len(samples) {
			return 0, false
		}
		return samples[i].lsn, true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, e := range w.streams {
		if now.Sub(e.at) <= trackedAge {
			continue
		}
		if lsn, ok := covering(e.mark); ok {
			w.floorLSN = max(w.floorLSN, lsn)
			delete(w.streams, id)
		}
	}
	if w.floor > 0 {
		if lsn, ok := covering(w.floor); ok {
			w.floorLSN = max(w.floorLSN, lsn)
			w.floor = 0
		}
	}
}

// readOps are the operations that only read; every other operation run
// through do counts as a write of its stream (or of every stream, when it
// names none) for the Store's read-your-writes tracking.
var readOps = map[string]bool{
	OpReadForward: true, OpReadBackward: true, OpReadFeed: true, OpStreamInfo: true,
	OpListStreams: true, OpReadSnapshot: true, OpFeedEnd: true, OpFeedLag: true,
	OpConsistencyToken: true, OpStandbys: true,
}

// noteWrite records a write operation that committed (or may have: a lost
// connection leaves the outcome unknown) outside a transaction, so the
// Store's later reads of its stream see it.
func (s *Store) noteWrite(spec opSpec, err error) {
	if s.replicas == nil || readOps[spec.op] || (err != nil && Classify(err) != ClassConnection) {
		return
	}
	s.replicas.writes.wrote(spec.stream)
}

// noteTxWrite records, in the transaction, the stream a write operation
// inside it touched; noteTxCommit records them all once it commits.
func (s *Store) noteTxWrite(tv *txValue, spec opSpec) {
	if s.replicas == nil || readOps[spec.op] {
		return
	}
	tv.mu.Lock()
	tv.written = append(tv.written, spec.stream)
	tv.mu.Unlock()
}

// noteTxCommit records the writes of a transaction that committed (or whose
// COMMIT was lost).
func (s *Store) noteTxCommit(tv *txValue) {
	if s.replicas == nil || tv == nil {
		return
	}
	tv.mu.Lock()
	written := tv.written
	tv.mu.Unlock()
	if len(written) > 0 {
		s.replicas.writes.wrote(written...)
	}
}
