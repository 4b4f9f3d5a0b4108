// Package testdb gives each test its own freshly migrated PostgreSQL
// database, cloned from a template that the production migration code
// (store.Migrate) builds once per schema version.
//
// The server comes from TEST_DATABASE_URL (make test sets it, starting a
// throwaway cluster when needed). A test that needs a database fails, with
// a message saying how to provide one, when the variable is unset.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/gamebot/eventstore/sql/schema"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"
)

// EnvURL is the environment variable naming the test server (an admin role
// that may create databases and roles).
const EnvURL = "TEST_DATABASE_URL"

// ServerURL returns the admin URL of the test server, failing the test when
// it is not configured.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts a throwaway PostgreSQL, "+
			"or point %s at a server", EnvURL, EnvURL)
	}
	return u
}

// DB is one test's database.
type DB struct {
	// URL connects to the test database as its owner.
	URL string
	// Pool is a pool on URL, closed when the test ends.
	Pool *pgxpool.Pool
	// Config is the pgtestdb configuration of the database.
	Config pgtestdb.Config
}

// New returns a pool on a new, migrated database that is dropped when the
// test passes.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return NewDB(t).Pool
}

// NewDB is New with the database's URL and configuration.
func NewDB(t testing.TB) *DB {
	t.Helper()
	conf := serverConfig(t)
	inst := pgtestdb.Custom(t, conf, migrator{})
	pool := Connect(t, inst.URL())
	return &DB{URL: inst.URL(), Pool: pool, Config: *inst}
}

// EnvQueryExecMode names the environment variable that sets every test
// pool's pgx query exec mode, by the name pgx's connection strings give it
// (default_query_exec_mode: "exec", "simple_protocol", ...). `make
// test/exec-modes` runs the store's tests under the modes without pgx's
// statement cache, as a pool behind a transaction pooler is configured.
// Unset: pgx's default.
const EnvQueryExecMode = "TEST_QUERY_EXEC_MODE"

// Connect opens a pool on dbURL that is closed when the test ends.
func Connect(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	return ConnectWith(t, dbURL, nil)
}

// ConnectWith is Connect with configure, when not nil, applied to the
// pool's configuration first (after TEST_QUERY_EXEC_MODE).
func ConnectWith(t testing.TB, dbURL string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	if mode := os.Getenv(EnvQueryExecMode); mode != "" {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatalf("%s: %v", EnvQueryExecMode, err)
		}
		q := u.Query()
		q.Set("default_query_exec_mode", mode) // pgx refuses a name it does not know
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", dbURL, err)
	}
	cfg.MaxConns = 20
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", dbURL, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func serverConfig(t testing.TB) pgtestdb.Config {
	t.Helper()
	cc, err := pgx.ParseConfig(ServerURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	opts := url.Values{"sslmode": {"disable"}}
	return pgtestdb.Config{
		DriverName: "pgx",
		Host:       cc.Host,
		Port:       strconv.Itoa(int(cc.Port)),
		User:       cc.User,
		Password:   cc.Password,
		Database:   cc.Database,
		Options:    opts.Encode(),
		TestRole: &pgtestdb.Role{
			Username:     "eventstore_test_owner",
			Password:     "eventstore_test_owner",
			Capabilities: "NOSUPERUSER NOCREATEDB CREATEROLE",
		},
		ForceTerminateConnections: true,
	}
}

// migrator builds the template database with the production migrations.
type migrator struct{}

// Hash identifies the schema: a digest of every embedded migration file.
func (migrator) Hash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(schema.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schema.FS, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16], err
}

// Migrate runs store.Migrate on the template database.
func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := pgxpool.New(ctx, conf.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = store.Migrate(ctx, pool)
	return err
}
