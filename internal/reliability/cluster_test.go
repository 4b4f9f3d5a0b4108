package reliability_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// devdbScript is the throwaway-cluster script, relative to this package.
const devdbScript = "../../internal/devdb/devdb.sh"

// cluster is a PostgreSQL server of one test's own, started with devdb.sh
// in a folder under /tmp and destroyed when the test ends. Tests that stop
// or restart the server use one, never the shared test server.
type cluster struct {
	dir string // EVENTSTORE_DEVDB_DIR
	url string // superuser URL
}

// startCluster starts a dedicated cluster.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	tmp, err := os.MkdirTemp("/tmp", "eventstore-reliability-")
	require.NoError(t, err)
	// The postgres OS user (the server runs as it when we are root) must
	// be able to enter the folder.
	require.NoError(t, os.Chmod(tmp, 0o755))
	c := &cluster{dir: filepath.Join(tmp, "cluster")}
	t.Cleanup(func() {
		if out, err := c.devdb("destroy"); err != nil {
			t.Errorf("devdb.sh destroy: %v\n%s", err, out)
		}
		_ = os.RemoveAll(tmp)
	})
	out, err := c.devdb("start")
	require.NoError(t, err, "devdb.sh start:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	c.url = strings.TrimSpace(lines[len(lines)-1])
	require.True(t, strings.HasPrefix(c.url, "postgres://"), "devdb.sh start printed %q", out)
	return c
}

// devdb runs devdb.sh on the cluster's folder (on a free port of its own).
func (c *cluster) devdb(args ...string) (string, error) {
	cmd := exec.Command(devdbScript, args...)
	env := []string{"EVENTSTORE_DEVDB_DIR=" + c.dir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTSTORE_DEVDB_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// restart restarts the server with `pg_ctl restart -m fast`: every session
// is terminated, the server shuts down and comes back on the same port.
func (c *cluster) restart(t *testing.T) error {
	t.Helper()
	args := []string{pgCtl(t), "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"),
		"-w", "-t", "60", "restart", "-m", "fast"}
	if os.Geteuid() == 0 {
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s", err, out)
	}
	return nil
}

// pgCtl finds pg_ctl the way devdb.sh does.
func pgCtl(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return p
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	require.NotEmpty(t, dirs, "pg_ctl not found")
	sort.Strings(dirs)
	return dirs[len(dirs)-1]
}

// database creates a database on the cluster, migrates it with the
// production migrations and returns its URL.
func (c *cluster) database(t *testing.T, name string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, c.url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	cfg, err := pgx.ParseConfig(c.url)
	require.NoError(t, err)
	dbURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = store.Migrate(ctx, pool)
	require.NoError(t, err)
	return dbURL
}
