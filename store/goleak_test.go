package store_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gamebot/eventstore/internal/testdb"
)

const pgxBackgroundRead = "github.com/jackc/pgx/v5/pgconn/internal/bgreader.(*BGReader).bgRead"

// pgxReader makes a leak check ignore pgx's background reader. pgconn starts
// one on a connection whose write takes longer than 15 ms (a loaded machine
// is enough), so that a write blocked on a full socket cannot deadlock with
// the server. The reader belongs to the connection, can outlive the
// statement that started it, and waits in a network read, so the top of its
// stack is the runtime's poll wait: only a filter that looks through the
// whole stack matches it.
var pgxReader = goleak.IgnoreAnyFunction(pgxBackgroundRead)

// gatedConn holds every write while its gate is armed, as a congested
// network would.
type gatedConn struct {
	net.Conn
	armed *atomic.Bool
	gate  chan struct{}
}

func (c gatedConn) Write(p []byte) (int, error) {
	if c.armed.Load() {
		<-c.gate
	}
	return c.Conn.Write(p)
}

// TestLeakCheckIgnoresPgxReader: a statement whose write is held starts
// pgx's background reader; a leak check with pgxReader passes over it and
// one without it does not.
func TestLeakCheckIgnoresPgxReader(t *testing.T) {
	base := testdb.New(t)
	cfg := base.Config().Copy()
	var armed atomic.Bool
	gate := make(chan struct{})
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := new(net.Dialer).DialContext(ctx, network, addr)
		return gatedConn{Conn: c, armed: &armed, gate: gate}, err
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer pool.Close()
	require.NoError(t, pool.Ping(t.Context()))
	ignore := goleak.IgnoreCurrent()

	armed.Store(true)
	var once sync.Once
	release := func() { once.Do(func() { armed.Store(false); close(gate) }) }
	defer release() // before pool.Close, which waits for the statement
	done := make(chan error, 1)
	go func() {
		var n int
		done <- pool.QueryRow(context.Background(), "SELECT 1").Scan(&n)
	}()
	deadline := timeAfter(deliveryLimit)
	for !goroutineRunning(pgxBackgroundRead) {
		require.False(t, deadline(), "pgx started no background reader")
		sleepShort()
	}
	// The statement's goroutine waits in the held write, and pgx's
	// slow-write timer for the write to end.
	held := goleak.IgnoreAnyFunction("github.com/gamebot/eventstore/store_test.gatedConn.Write")
	timer := goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgconn.connectOne.func2")
	require.NoError(t, goleak.Find(ignore, held, timer, pgxReader))
	require.ErrorContains(t, goleak.Find(ignore, held, timer), pgxBackgroundRead)
	release()
	require.NoError(t, <-done)
}

// goroutineRunning reports whether some goroutine has fn on its stack.
func goroutineRunning(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn+"(")
}
