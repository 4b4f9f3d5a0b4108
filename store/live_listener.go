package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Listener timing. A listener that waits this long without a notification
// pings its connection, so a silently dead connection is replaced even when
// no error reaches it; reconnects back off per reconnectPolicy.
const (
	listenerHealthInterval = 30 * time.Second
	listenerPingTimeout    = 5 * time.Second
	dedicatedCloseTimeout  = 5 * time.Second
)

// listenerApp is the application_name (or its suffix) of the listener's
// connection in pg_stat_activity.
const listenerApp = "eventstore listener"

// listener holds the Store's one dedicated connection that LISTENs on
// NotifyChannel (see liveHub) and calls wake for every notification of
// another Store. It reconnects with backoff when the connection dies and
// calls wake after every (re)connect, since notifications sent while it was
// not listening are lost. A wake-up is only a hint: consumers also poll, so
// nothing depends on a notification arriving.
type listener struct {
	cfg       *pgx.ConnConfig
	log       *slog.Logger
	wake      func()
	ready     chan struct{} // closed after the first LISTEN
	readyOnce sync.Once
	health    time.Duration
	self      string        // notifications with this payload come from our own Store
	skipped   atomic.Int64  // own notifications skipped
	connected func(up bool) // optional: told when it starts and stops listening
}

// newListener returns a listener whose connections use the pool's
// connection settings.
func newListener(s *Store, ready chan struct{}, wake func()) *listener {
	cfg := dedicatedConnConfig(s, listenerApp)
	// Deadline-only cancellation: a wait that times out leaves the idle
	// connection usable (no cancel request can hit a later statement).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	return &listener{
		cfg:    cfg,
		log:    s.log,
		wake:   wake,
		ready:  ready,
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
	b := backoff{policy: reconnectPolicy()}
	for {
		started := time.Now()
		err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > b.policy.MaxDelay {
			b.reset() // it had been listening for a while: a fresh failure
		}
		wait := b.fail()
		l.log.Warn("eventstore: listener connection lost, reconnecting", "error", err, "retry_in", wait)
		if sleepCtx(ctx, wait) != nil {
			return
		}
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
	if l.connected != nil {
		l.connected(true)
		defer l.connected(false)
	}
	l.readyOnce.Do(func() { close(l.ready) })
	l.wake()
	for {
		wctx, cancel := context.WithTimeout(ctx, l.health)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n.Payload == l.self:
			// Our own Store's commit: it already woke us in process.
			l.skipped.Add(1)
		case err == nil:
			l.wake()
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

// closeDedicated closes a connection outside the pool, bounded in time.
func closeDedicated(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), dedicatedCloseTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
