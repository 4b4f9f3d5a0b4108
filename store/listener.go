package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Listener timing. A listener that waits this long without a notification
// pings its connection, so a silently dead connection is replaced even when
// no error reaches it; reconnects back off between the two bounds.
const (
	listenerHealthInterval = 30 * time.Second
	listenerPingTimeout    = 5 * time.Second
	reconnectMinBackoff    = 50 * time.Millisecond
	reconnectMaxBackoff    = 5 * time.Second
	dedicatedCloseTimeout  = 5 * time.Second
)

// listener holds a dedicated connection that LISTENs on NotifyChannel and
// turns every notification into a wake-up on wake. It reconnects when the
// connection dies and wakes its reader after every (re)connect, since
// notifications sent while it was not listening are lost. A wake-up is only
// a hint: readers also poll, so nothing depends on a notification arriving.
type listener struct {
	cfg       *pgx.ConnConfig
	log       *slog.Logger
	wake      chan struct{}
	ready     chan struct{}
	readyOnce sync.Once
	health    time.Duration
	self      string // notifications with this payload come from our own Store
}

// newListener returns a listener whose connections use the pool's
// connection settings.
func newListener(s *Store, log *slog.Logger) *listener {
	cfg := dedicatedConnConfig(s, "eventstore listener")
	// Deadline-only cancellation: a wait that times out leaves the idle
	// connection usable (no cancel request can hit a later statement).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	return &listener{
		cfg:    cfg,
		log:    log,
		wake:   make(chan struct{}, 1),
		ready:  make(chan struct{}),
		health: listenerHealthInterval,
		self:   s.instance,
	}
}

// dedicatedConnConfig returns a copy of the pool's connection settings for
// a connection outside the pool, named role in application_name so that
// pg_stat_activity shows what it is.
func dedicatedConnConfig(s *Store, role string) *pgx.ConnConfig {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if app := cfg.RuntimeParams["application_name"]; app != "" {
		role = app + " (" + role + ")"
	}
	cfg.RuntimeParams["application_name"] = role
	return cfg
}

// run listens until ctx is done, reconnecting with backoff.
func (l *listener) run(ctx context.Context) {
	backoff := reconnectMinBackoff
	for {
		started := time.Now()
		err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > reconnectMaxBackoff {
			backoff = reconnectMinBackoff
		}
		l.log.Warn("eventstore: listener connection lost, reconnecting", "error", err, "retry_in", backoff)
		if sleepCtx(ctx, backoff) != nil {
			return
		}
		backoff = min(2*backoff, reconnectMaxBackoff)
	}
}

// session connects, LISTENs and forwards notifications until the
// connection fails or ctx is done.
func (l *listener) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer closeDedicated(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	l.readyOnce.Do(func() { close(l.ready) })
	l.signal()
	for {
		wctx, cancel := context.WithTimeout(ctx, l.health)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n.Payload == l.self:
			// Our own Store's commit: it already woke us in process.
		case err == nil:
			l.signal()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, listenerPingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// signal wakes the reader without blocking; wake-ups coalesce.
func (l *listener) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// isReady reports whether the listener has listened at least once.
func (l *listener) isReady() bool {
	select {
	case <-l.ready:
		return true
	default:
		return false
	}
}

// closeDedicated closes a connection outside the pool, bounded in time.
func closeDedicated(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), dedicatedCloseTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
