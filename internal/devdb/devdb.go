// Package devdb runs devdb.sh's throwaway PostgreSQL clusters for tests that
// need servers of their own: a primary with a streaming hot standby that the
// test may stop, start again or promote without disturbing the shared test
// server (see devdb.sh for how the servers are set up).
package devdb

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Pair is a primary and its hot standby, in a folder under /tmp of their
// own, destroyed when the test ends.
type Pair struct {
	dir string
	// PrimaryURL connects to the primary's postgres database as the
	// superuser.
	PrimaryURL string
	// StandbyURL connects to the standby's postgres database as the
	// superuser. It stays valid across StopStandby and StartStandby.
	StandbyURL string
}

// StartPair starts a primary and a hot standby streaming from it. Like the
// other replica tests, the test is skipped unless TEST_STANDBY_URL is set
// (`make test` runs them with devdb.sh run --standby).
func StartPair(t testing.TB) *Pair {
	t.Helper()
	if os.Getenv("TEST_STANDBY_URL") == "" {
		t.Skip("TEST_STANDBY_URL is not set: the replica tests run with `make test` (devdb.sh run --standby)")
	}
	tmp, err := os.MkdirTemp("/tmp", "eventstore-pair-")
	if err != nil {
		t.Fatal(err)
	}
	// The postgres OS user (the servers run as it when we are root) must
	// be able to enter the folder.
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Pair{dir: filepath.Join(tmp, "cluster")}
	t.Cleanup(func() {
		if out, err := p.run("destroy"); err != nil {
			t.Errorf("devdb.sh destroy: %v\n%s", err, out)
		}
		_ = os.RemoveAll(tmp)
	})
	p.PrimaryURL = p.mustURL(t, "start", "--standby")
	p.StandbyURL = p.mustURL(t, "standby-url")
	return p
}

// StopStandby stops the standby (fast shutdown); the primary keeps its WAL
// for it.
func (p *Pair) StopStandby(t testing.TB) {
	t.Helper()
	if out, err := p.run("standby-stop"); err != nil {
		t.Fatalf("devdb.sh standby-stop: %v\n%s", err, out)
	}
}

// StartStandby starts the stopped standby again, on the same port; it
// catches up from the primary.
func (p *Pair) StartStandby(t testing.TB) {
	t.Helper()
	if u := p.mustURL(t, "standby-start"); u != p.StandbyURL {
		t.Fatalf("the standby came back on %s, not %s", u, p.StandbyURL)
	}
}

// Promote stops the primary (a fast shutdown sends the standby every WAL
// record first) and promotes the standby, which is the primary from then
// on, still at StandbyURL.
func (p *Pair) Promote(t testing.TB) {
	t.Helper()
	p.mustURL(t, "promote")
}

func (p *Pair) mustURL(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.run(args...)
	if err != nil {
		t.Fatalf("devdb.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	u := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(u, "postgres://") {
		t.Fatalf("devdb.sh %s printed %q", strings.Join(args, " "), out)
	}
	return u
}

// run runs devdb.sh on the pair's folder.
func (p *Pair) run(args ...string) (string, error) {
	cmd := exec.Command(script(), args...)
	env := []string{"EVENTSTORE_DEVDB_DIR=" + p.dir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTSTORE_DEVDB_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// script is devdb.sh, beside this file.
func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "devdb.sh")
}
