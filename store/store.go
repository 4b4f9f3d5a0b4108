package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/translator"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultMaxStreamEvents is the default per-stream event limit.
	DefaultMaxStreamEvents = 10_000
	// DefaultMaxAppendBatch is the default largest batch one Append accepts.
	DefaultMaxAppendBatch = 10_000
	// DefaultNotifyInterval is the default shortest gap between two
	// wake-up notifications of a Store (Config.NotifyInterval): under
	// sustained load a subscriber in another process is woken up to 100
	// times a second, and an idle store's first notification goes out at
	// once.
	DefaultNotifyInterval = 10 * time.Millisecond
	// DefaultMaxReadBatch is the default largest page one read returns (as
	// many as one append may write).
	DefaultMaxReadBatch = 10_000
	// DefaultMaxEventBytes is the default largest encoded event (data and
	// metadata) one append accepts.
	DefaultMaxEventBytes = 1 << 20
	// DefaultMaxBatchBytes is the default largest encoded batch (data and
	// metadata of all its events) one append accepts.
	DefaultMaxBatchBytes = 16 << 20
	// DefaultFlushLockWait is how long a coalesced flush waits by default
	// for a lock another transaction holds (Config.FlushLockWait): far
	// longer than one flush waits for the other's commit, short enough
	// that the appends which shared its flush barely notice.
	DefaultFlushLockWait = 100 * time.Millisecond
)

// Config configures a Store. The zero value is valid: every zero field takes
// its default.
type Config struct {
	// Serializer encodes appended events and decodes read ones. Default:
	// serde.Passthrough (raw JSON in, serde.Raw out). It must be safe for
	// concurrent use: the store encodes and decodes large batches on
	// several goroutines, and subscriptions decode alongside other calls.
	Serializer serde.Serializer
	// Translator, when set, upcasts stored events on read: an event stored
	// at an older version of a type the translator knows is translated to
	// the type's latest version before it is decoded.
	Translator *translator.Translator
	// MaxStreamEvents is the event limit of every stream (a stream's own
	// max_events overrides it). Default DefaultMaxStreamEvents; negative
	// means no limit.
	MaxStreamEvents int64
	// MaxAppendBatch is the largest number of events one Append accepts.
	// Default DefaultMaxAppendBatch.
	MaxAppendBatch int
	// MaxReadBatch is the largest count one read accepts. Default
	// DefaultMaxReadBatch.
	MaxReadBatch int
	// MaxEventBytes is the largest encoded event (its data and metadata
	// JSON) an append accepts; a larger one is refused with
	// ErrEventTooLarge before anything is sent. Default
	// DefaultMaxEventBytes; negative means no limit.
	MaxEventBytes int
	// MaxBatchBytes is the largest encoded batch (data and metadata of all
	// its events) an append accepts; a larger one is refused with
	// ErrBatchTooLarge before anything is sent. Default
	// DefaultMaxBatchBytes; negative means no limit.
	MaxBatchBytes int
	// Logger receives the store's logs. Default: discard.
	Logger *slog.Logger
	// DisableNotify turns off the coalesced wake-up NOTIFY sent after
	// appends commit (subscribers then rely on polling alone).
	DisableNotify bool
	// NotifyInterval spaces the wake-up notifications of a busy store: a
	// NOTIFY is sent at least this long after the previous one (the Store's
	// own subscriptions are woken in process and never wait for it).
	// Default DefaultNotifyInterval.
	NotifyInterval time.Duration
	// DisableCoalescing turns off coalesced appends (group commit): every
	// Append outside a transaction then sends its own statement and pays
	// for its own commit. With coalescing (the default), appends that
	// arrive while others are in flight go out together, each with its own
	// outcome (see Append).
	DisableCoalescing bool
	// FlushLockWait bounds how long a coalesced flush waits for a lock that
	// another transaction holds: a stream's row, which a caller's open
	// transaction that appended to the stream keeps locked until it ends,
	// or a stream id that one is creating. When the wait runs out, each
	// append of the flush is sent again alone, on a connection of its own,
	// and only the appends to the locked stream wait on. So a locked stream
	// delays the appends that shared its flush by at most this long and
	// holds up no other append, whichever guild's. Default
	// DefaultFlushLockWait; negative means no bound (a flush then waits
	// as long as its slowest stream, and the appends queued behind it
	// with it).
	FlushLockWait time.Duration
	// Retry is the retry policy for recoverable errors (see RetryPolicy).
	// Zero fields take their defaults; MaxAttempts 1 disables retries.
	Retry RetryPolicy
	// Observer is told about every attempt of every operation. Default:
	// NewLogObserver(Logger).
	Observer Observer
	// Replicas are hot standbys that serve the store's reads (see
	// ReplicaConfig). Default: none; every read goes to the primary.
	Replicas ReplicaConfig
}

// Store appends and reads event streams in PostgreSQL. It is safe for
// concurrent use. The caller owns the pool and closes it after Close.
type Store struct {
	pool     *pgxpool.Pool
	wire     *wireRoute // how the append statements are sent (wire.go)
	q        *db.Queries
	cfg      Config
	log      *slog.Logger
	notifier *notifier
	live     liveHub // the listener and waker of the Store's subscriptions
	instance string  // names this Store's NOTIFYs, which its own listeners skip
	// announced counts the commits the Store told its consumers and its
	// notifier about (committed).
	announced atomic.Int64
	closeMu   sync.Once
	stats     counters
	replicas  *replicaSet // nil without Config.Replicas
	// coalescer gathers concurrent appends (nil with DisableCoalescing)
	coalescer *coalescer
	// early is how pages are decoded while they are read (earlydecode.go).
	early earlyConfig
}

// New returns a Store over pool. The schema must have been migrated (see
// Migrate).
func New(pool *pgxpool.Pool, cfg Config) *Store {
	if cfg.Serializer == nil {
		cfg.Serializer = serde.Passthrough{}
	}
	if cfg.MaxStreamEvents == 0 {
		cfg.MaxStreamEvents = DefaultMaxStreamEvents
	}
	if cfg.MaxAppendBatch <= 0 {
		cfg.MaxAppendBatch = DefaultMaxAppendBatch
	}
	if cfg.MaxReadBatch <= 0 {
		cfg.MaxReadBatch = DefaultMaxReadBatch
	}
	if cfg.MaxEventBytes == 0 {
		cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	if cfg.MaxBatchBytes == 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.NotifyInterval <= 0 {
		cfg.NotifyInterval = DefaultNotifyInterval
	}
	if cfg.FlushLockWait == 0 {
		cfg.FlushLockWait = DefaultFlushLockWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.Observer == nil {
		cfg.Observer = NewLogObserver(cfg.Logger)
	}
	s := &Store{pool: pool, q: db.New(pool), cfg: cfg, log: cfg.Logger, instance: uuid.NewString()}
	s.live.s = s
	if pool != nil {
		s.wire = newWireRoute(pool.Config().ConnConfig)
	}
	if !cfg.DisableNotify {
		s.notifier = newNotifier(pool, cfg.NotifyInterval, s.instance)
	}
	s.replicas = newReplicaSet(pool, cfg.Replicas, cfg.Logger)
	if !cfg.DisableCoalescing {
		s.coalescer = newCoalescer(s)
	}
	return s
}

// Pool returns the pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Serializer returns the store's serializer.
func (s *Store) Serializer() serde.Serializer { return s.cfg.Serializer }

// RetryPolicy returns the store's retry policy with its defaults filled
// in, so work built on the store (such as game recovery) can retry in the
// same way.
func (s *Store) RetryPolicy() RetryPolicy { return s.cfg.Retry }

// Close waits for background work (a pending wake-up notification, the
// standbys' health checks) to finish. It does not close the pools.
func (s *Store) Close() {
	s.closeMu.Do(func() {
		if s.notifier != nil {
			s.notifier.close()
		}
		s.replicas.close()
	})
}

// queries returns the sqlc queries bound to the transaction carried by ctx,
// if any, or to the pool, scoped to the guild that applies (see queriesFor
// in tx.go). It reports whether ctx carries a transaction.
func (s *Store) queries(ctx context.Context) (*db.Queries, bool) {
	return s.queriesFor(ctx)
}
