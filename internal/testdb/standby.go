package testdb

import (
	"context"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvStandbyURL is the environment variable naming a hot standby of the
// TEST_DATABASE_URL server (`make test` starts one: devdb.sh run --standby).
const EnvStandbyURL = "TEST_STANDBY_URL"

// replayTimeout bounds the wait for the standby to replay a new database.
const replayTimeout = time.Minute

// StandbyServerURL returns the admin URL of the test server's hot standby.
// The test is skipped when it is not configured (a TEST_DATABASE_URL given
// without TEST_STANDBY_URL).
func StandbyServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvStandbyURL)
	if u == "" {
		t.Skipf("%s is not set: replica tests need a hot standby of %s; `make test` (devdb.sh run --standby) starts both",
			EnvStandbyURL, EnvURL)
	}
	return u
}

// Replicated is one test's database on the primary and the same database
// on the hot standby.
type Replicated struct {
	*DB
	// StandbyURL connects to the test database on the standby, as its owner.
	StandbyURL string
	// Standby is a pool on StandbyURL, closed when the test ends.
	Standby *pgxpool.Pool
}

// NewReplicated is NewDB with the database's twin on the standby, which has
// replayed its creation when NewReplicated returns.
func NewReplicated(t testing.TB) *Replicated {
	t.Helper()
	standbyServer := StandbyServerURL(t)
	d := NewDB(t)
	WaitReplayed(t, d.Pool, standbyServer)
	su := OnServer(t, d.URL, standbyServer)
	return &Replicated{DB: d, StandbyURL: su, Standby: Connect(t, su)}
}

// OnServer returns dbURL with the host and port of serverURL: the same
// database and role on another server of the cluster.
func OnServer(t testing.TB, dbURL, serverURL string) string {
	t.Helper()
	sc, err := pgx.ParseConfig(serverURL)
	if err != nil {
		t.Fatalf("parse %s: %v", serverURL, err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", dbURL, err)
	}
	u.Host = net.JoinHostPort(sc.Host, strconv.Itoa(int(sc.Port)))
	return u.String()
}

// WaitReplayed waits until the standby at standbyURL has replayed every
// write that had committed on primary when it was called.
func WaitReplayed(t testing.TB, primary *pgxpool.Pool, standbyURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	var lsn string
	if err := primary.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		t.Fatalf("primary WAL position: %v", err)
	}
	conn, err := pgx.Connect(ctx, standbyURL)
	if err != nil {
		t.Fatalf("connect to the standby: %v", err)
	}
	defer conn.Close(context.Background())
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&ok); err != nil {
			t.Fatalf("standby replay position: %v", err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the standby did not replay %s within %s", lsn, replayTimeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
