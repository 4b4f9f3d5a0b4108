package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// outcome is what one Append call told its caller.
type outcome int

const (
	// acked: Append returned success.
	acked outcome = iota
	// refused: Append returned a definitive error; nothing may be stored.
	refused
	// ambiguous: the connection failed or the context ended during the
	// call; the batch may or may not be stored.
	ambiguous
)

func (o outcome) String() string {
	return [...]string{"acked", "refused", "ambiguous"}[o]
}

// classify sorts an Append error by what the caller may conclude from it.
func classify(err error) outcome {
	switch {
	case err == nil:
		return acked
	case errors.Is(err, store.ErrConnection), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ambiguous
	}
	return refused
}

// attempt is one Append call of a batch.
type attempt struct {
	res store.AppendResult
	err error
	out outcome
	// reconciled marks the re-append made after the faults ended.
	reconciled bool
}

// batch is a set of events with fixed ids, appended once or more (a
// writer re-sends it after an ambiguous error, the suite once more at the
// end).
type batch struct {
	stream   string
	expected store.ExpectedVersion
	events   []store.Event
	ids      []uuid.UUID
	attempts []attempt
}

// ackedResult returns the result of the batch's first successful attempt.
func (b *batch) ackedResult() (store.AppendResult, bool) {
	for _, a := range b.attempts {
		if a.out == acked {
			return a.res, true
		}
	}
	return store.AppendResult{}, false
}

func (b *batch) has(o outcome) bool {
	for _, a := range b.attempts {
		if a.out == o {
			return true
		}
	}
	return false
}

// ledger records every batch and every attempt of a run. refusable says
// which definitive errors the run expects; any other one is a failure.
type ledger struct {
	refusable func(error) bool

	mu         sync.Mutex
	batches    []*batch
	unexpected []error
	conflicts  int
	canceled   int // ambiguous attempts whose context ended
	connection int // ambiguous attempts with ErrConnection
	transient  int // refusals with ErrTransactionConflict (rolled back, retry)
	serverStop int // other refusals the run expects (statement cancelled)
}

func newLedger(refusable func(error) bool) *ledger {
	if refusable == nil {
		refusable = func(err error) bool { return errors.Is(err, store.ErrWrongExpectedVersion) }
	}
	return &ledger{refusable: refusable}
}

func (l *ledger) add(b *batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, b)
}

// record notes an attempt of b and returns its outcome.
func (l *ledger) record(b *batch, res store.AppendResult, err error) outcome {
	out := classify(err)
	l.mu.Lock()
	defer l.mu.Unlock()
	b.attempts = append(b.attempts, attempt{res: res, err: err, out: out})
	switch {
	case out == ambiguous && errors.Is(err, store.ErrConnection):
		l.connection++
	case out == ambiguous:
		l.canceled++
	case out == refused && !l.refusable(err):
		l.unexpected = append(l.unexpected, fmt.Errorf("stream %s, %d events, expected %s: %w", b.stream, len(b.events), b.expected, err))
	case out == refused && errors.Is(err, store.ErrWrongExpectedVersion):
		l.conflicts++
	case out == refused && errors.Is(err, store.ErrTransactionConflict):
		l.transient++
	case out == refused:
		l.serverStop++
	}
	return out
}

// settle drops the events of a batch that no longer needs them (one that
// was acknowledged or refused), keeping their ids, so that a long run does
// not hold every payload in memory. A batch left ambiguous keeps them for
// the re-append at the end.
func (l *ledger) settle(b *batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := b.ackedResult(); ok || !b.has(ambiguous) {
		b.events = nil
	}
}

// newBatch builds n events for stream with fresh ids and a payload of up
// to pad bytes.
func newBatch(r *rand.Rand, stream string, expected store.ExpectedVersion, n, writer, pad int) *batch {
	b := &batch{stream: stream, expected: expected, events: make([]store.Event, n), ids: make([]uuid.UUID, n)}
	for i := range b.events {
		id := uuid.New()
		data, _ := json.Marshal(map[string]any{"writer": writer, "i": i, "pad": strings.Repeat("x", r.IntN(pad+1))})
		b.ids[i] = id
		b.events[i] = store.Event{
			ID:       id,
			Data:     serde.Raw{Type: "reliability_event", Version: 1, Data: data},
			Metadata: map[string]string{"writer": fmt.Sprint(writer)},
		}
	}
	return b
}

// workload is a set of writers appending random batches.
type workload struct {
	ledger *ledger
	// writers is the number of writer goroutines; writer i uses
	// stores[i % len(stores)].
	writers int
	// own streams per writer, and streams all writers share.
	ownStreams, sharedStreams int
	// maxBatch bounds a batch (1..maxBatch, mostly small); pad bounds
	// each event's payload padding in bytes.
	maxBatch, pad int
	// appendContext returns the context of one Append call.
	appendContext func(ctx context.Context, r *rand.Rand) (context.Context, context.CancelFunc)
	// resend is how often a writer re-sends a batch right away after an
	// ambiguous error, the way a careful client does.
	resend int
	// pause, when set, is slept between appends.
	pause time.Duration
	// varied draws expected versions from every kind, stale ones included
	// (see expected).
	varied bool
}

func (w *workload) batchSize(r *rand.Rand) int {
	switch p := r.IntN(100); {
	case p < 70:
		return 1 + r.IntN(min(5, w.maxBatch))
	case p < 95:
		return 1 + r.IntN(min(30, w.maxBatch))
	}
	return 1 + r.IntN(w.maxBatch)
}

// expected picks the expected version of an append to a stream last seen
// at version known: any or exact, or with varied set also a stale or
// future exact version, no_stream or stream_exists.
func (w *workload) expected(r *rand.Rand, known int64) store.ExpectedVersion {
	if !w.varied {
		if r.IntN(2) == 0 {
			return store.Exact(known)
		}
		return store.Any
	}
	switch p := r.IntN(100); {
	case p < 30:
		return store.Any
	case p < 80:
		return store.Exact(known)
	case p < 88:
		return store.Exact(max(known-1-int64(r.IntN(3)), 0))
	case p < 91:
		return store.Exact(known + 1)
	case p < 95:
		return store.NoStream
	}
	return store.StreamExists
}

// streamIDs lists every stream the workload may write.
func (w *workload) streamIDs() []string {
	var ids []string
	for i := range w.writers {
		for k := range w.ownStreams {
			ids = append(ids, fmt.Sprintf("own-%d-%d", i, k))
		}
	}
	for k := range w.sharedStreams {
		ids = append(ids, fmt.Sprintf("shared-%d", k))
	}
	return ids
}

func (w *workload) stream(r *rand.Rand, writer int) string {
	if w.sharedStreams == 0 || (w.ownStreams > 0 && r.IntN(2) == 0) {
		return fmt.Sprintf("own-%d-%d", writer, r.IntN(w.ownStreams))
	}
	return fmt.Sprintf("shared-%d", r.IntN(w.sharedStreams))
}

// run starts the writers and returns a function that stops them and waits
// until every writer has returned. ctx carries the guild; it is not
// cancelled to stop the writers, so no append is cut short by the stop.
func (w *workload) run(ctx context.Context, stores []*store.Store) (stop func()) {
	var stopped sync.WaitGroup
	done := make(chan struct{})
	seed := rand.Uint64()
	for i := range w.writers {
		stopped.Go(func() {
			w.write(ctx, stores[i%len(stores)], i, rand.New(rand.NewPCG(seed, uint64(i))), done)
		})
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		stopped.Wait()
	}
}

func (w *workload) write(ctx context.Context, s *store.Store, writer int, r *rand.Rand, done <-chan struct{}) {
	known := map[string]int64{}
	for {
		select {
		case <-done:
			return
		default:
		}
		stream := w.stream(r, writer)
		expected := w.expected(r, known[stream])
		b := newBatch(r, stream, expected, w.batchSize(r), writer, w.pad)
		w.ledger.add(b)
		for try := 0; ; try++ {
			actx, cancel := w.appendContext(ctx, r)
			res, err := s.Append(actx, stream, expected, b.events...)
			cancel()
			out := w.ledger.record(b, res, err)
			if out == acked {
				known[stream] = res.Version
			}
			var conflict *store.VersionConflictError
			if errors.As(err, &conflict) {
				known[stream] = max(conflict.Actual, 0)
			}
			if out != ambiguous || try >= w.resend {
				break
			}
		}
		w.ledger.settle(b)
		if w.pause > 0 {
			time.Sleep(w.pause)
		}
	}
}

// timeoutContext returns an appendContext with a fixed timeout.
func timeoutContext(d time.Duration) func(context.Context, *rand.Rand) (context.Context, context.CancelFunc) {
	return func(ctx context.Context, _ *rand.Rand) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, d)
	}
}

// storedEvent is a row of eventstore.events.
type storedEvent struct {
	stream  string
	version int64
	pos     int64
}

// loadStored reads every stored event. Rows repeating an event id are
// counted in dups (the unique constraint should make that impossible).
func loadStored(t *testing.T, pool *pgxpool.Pool) (events map[uuid.UUID]storedEvent, dups int) {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT event_id, stream_id, stream_version, global_position FROM eventstore.events ORDER BY global_position`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[uuid.UUID]storedEvent{}
	for rows.Next() {
		var id uuid.UUID
		var e storedEvent
		require.NoError(t, rows.Scan(&id, &e.stream, &e.version, &e.pos))
		if _, ok := out[id]; ok {
			dups++
		}
		out[id] = e
	}
	require.NoError(t, rows.Err())
	return out, dups
}

// reconcile re-appends, through a healthy store, every batch that has an
// ambiguous attempt and no successful one, with its original expected
// version. Before that it checks the batch is stored whole or not at all.
// It returns how many such batches had been stored, and how many were
// appended by the re-append or refused by it.
func (l *ledger) reconcile(t *testing.T, ctx context.Context, s *store.Store, pool *pgxpool.Pool) (wasStored, appended, absent int) {
	t.Helper()
	stored, _ := loadStored(t, pool)
	for _, b := range l.batches {
		if _, ok := b.ackedResult(); ok || !b.has(ambiguous) {
			continue
		}
		present := 0
		for _, id := range b.ids {
			if _, ok := stored[id]; ok {
				present++
			}
		}
		require.True(t, present == 0 || present == len(b.ids),
			"partial write: %d of %d events of an ambiguous batch on %s are stored", present, len(b.ids), b.stream)
		res, err := s.Append(ctx, b.stream, b.expected, b.events...)
		out := classify(err)
		b.attempts = append(b.attempts, attempt{res: res, err: err, out: out, reconciled: true})
		switch {
		case present > 0:
			require.NoError(t, err, "re-appending a stored batch must return its original result")
			wasStored++
		case out == acked:
			appended++
		default:
			require.ErrorIs(t, err, store.ErrWrongExpectedVersion, "re-append of batch on %s", b.stream)
			absent++
		}
	}
	return wasStored, appended, absent
}

// verified is what verifyStored found.
type verified struct {
	stored      map[uuid.UUID]storedEvent
	ackedEvents int
	lost        int // acknowledged events not stored
	duplicates  int // rows repeating an event id
}

// verifyStored checks the database against the ledger: every acknowledged
// batch stored exactly once at the versions and positions the store
// reported (all acknowledgements of a batch alike), nothing else stored,
// and every stream's versions contiguous from 1 to its version. Lost and
// duplicated events are counted and then fail the test.
func (l *ledger) verifyStored(t *testing.T, pool *pgxpool.Pool) verified {
	t.Helper()
	stored, dups := loadStored(t, pool)
	v := verified{stored: stored, duplicates: dups}
	claimed := 0
	for _, b := range l.batches {
		res, ok := b.ackedResult()
		if !ok {
			for _, id := range b.ids {
				_, present := stored[id]
				require.False(t, present, "event %s of a refused batch on %s is stored (attempts: %v)", id, b.stream, b.attempts)
			}
			continue
		}
		for _, a := range b.attempts {
			if a.out == acked {
				require.Equal(t, res, a.res, "every acknowledgement of a batch reports the same result")
			}
		}
		n := int64(len(b.ids))
		v.ackedEvents += len(b.ids)
		for i, id := range b.ids {
			e, present := stored[id]
			if !present {
				v.lost++
				t.Errorf("LOST: event %s (%d of %d) of an acknowledged batch on %s", id, i+1, n, b.stream)
				continue
			}
			claimed++
			require.Equal(t, b.stream, e.stream)
			require.Equal(t, res.Version-n+1+int64(i), e.version, "version of event %d of %d on %s", i+1, n, b.stream)
			switch i {
			case 0:
				require.Equal(t, res.FirstPosition, e.pos)
			case int(n - 1):
				require.Equal(t, res.LastPosition, e.pos)
			}
		}
	}
	require.Zero(t, v.lost, "acknowledged events lost")
	require.Zero(t, v.duplicates, "event ids stored more than once")
	require.Equal(t, claimed, len(stored), "stored events that no acknowledged append accounts for")

	versions := map[string][]int64{}
	for _, e := range stored {
		versions[e.stream] = append(versions[e.stream], e.version)
	}
	rows, err := pool.Query(context.Background(), `SELECT stream_id, version FROM eventstore.streams`)
	require.NoError(t, err)
	heads := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		require.NoError(t, rows.Scan(&id, &v))
		heads[id] = v
	}
	require.NoError(t, rows.Err())
	for stream, vs := range versions {
		seen := make([]bool, len(vs)+1)
		for _, ver := range vs {
			require.True(t, ver >= 1 && ver <= int64(len(vs)) && !seen[ver], "stream %s: version %d out of 1..%d or repeated", stream, ver, len(vs))
			seen[ver] = true
		}
		require.Equal(t, int64(len(vs)), heads[stream], "stream %s: streams.version", stream)
	}
	for stream, head := range heads {
		require.Equal(t, head, int64(len(versions[stream])), "stream %s: version %d but %d events", stream, head, len(versions[stream]))
	}
	return v
}

// figures are the numbers of one run, logged for docs/RELIABILITY.md.
type figures struct {
	Test               string `json:"test"`
	Duration           string `json:"duration"`
	Fault              string `json:"fault"`
	FaultsInjected     int    `json:"faults_injected"`
	Batches            int    `json:"batches"`
	Attempts           int    `json:"append_calls"`
	AckedBatches       int    `json:"appends_acknowledged"`
	AckedEvents        int    `json:"events_acknowledged"`
	Conflicts          int    `json:"conflicts"`
	Transient          int    `json:"transaction_conflicts"`
	ServerCancelled    int    `json:"server_cancelled"`
	AmbiguousCanceled  int    `json:"ambiguous_context"`
	AmbiguousConn      int    `json:"ambiguous_connection"`
	ReconcileStored    int    `json:"ambiguous_found_stored"`
	ReconcileAppended  int    `json:"ambiguous_appended_on_retry"`
	ReconcileAbsent    int    `json:"ambiguous_absent"`
	StoredEvents       int    `json:"events_stored"`
	FeedEvents         int    `json:"feed_events"`
	LiveFeedEvents     int    `json:"live_feed_events"`
	SubscriptionEvents int    `json:"subscription_events"`
	PersistentDelivery int    `json:"persistent_deliveries"`
	PersistentRedelive int    `json:"persistent_redeliveries"`
	PersistentRestarts int    `json:"persistent_restarts"`
	Reads              int    `json:"stream_reads"`
	ReadErrors         int    `json:"stream_read_errors"`
	StoreConflicts     int64  `json:"store_conflicts"`
	StoreRetries       int64  `json:"store_retries"`
	Lost               int    `json:"events_lost"`
	Duplicates         int    `json:"duplicates"`
}

func (f figures) log(t *testing.T) {
	t.Helper()
	b, err := json.Marshal(f)
	require.NoError(t, err)
	t.Logf("FIGURES %s", b)
}

// fill copies the ledger's counts into f.
func (l *ledger) fill(f *figures) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f.Batches = len(l.batches)
	for _, b := range l.batches {
		for _, a := range b.attempts {
			if !a.reconciled {
				f.Attempts++
			}
		}
		if _, ok := b.ackedResult(); ok {
			f.AckedBatches++
		}
	}
	f.Conflicts = l.conflicts
	f.Transient = l.transient
	f.ServerCancelled = l.serverStop
	f.AmbiguousCanceled = l.canceled
	f.AmbiguousConn = l.connection
}

// ackedByWriters counts the successful Append calls the writers made
// (re-appends after the faults excluded) and their events.
func (l *ledger) ackedByWriters() (appends, events int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.batches {
		for _, a := range b.attempts {
			if a.out == acked && !a.reconciled {
				appends++
				events += int64(len(b.ids))
			}
		}
	}
	return appends, events
}

func (l *ledger) requireNoUnexpected(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.unexpected) > 0 {
		msgs := make([]string, 0, 5)
		for _, err := range l.unexpected[:min(5, len(l.unexpected))] {
			msgs = append(msgs, fmt.Sprintf("%v (%T, class %s)", err, errors.Unwrap(err), store.Classify(err)))
		}
		t.Fatalf("%d appends failed with an error the run does not expect; first: %s", len(l.unexpected), strings.Join(msgs, "; "))
	}
}
