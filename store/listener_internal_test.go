package store

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// TestListenerSkipsOwnStore: the listener of a Store ignores the
// notifications that Store sent (its subscriptions were woken in process)
// and wakes on any other. LISTEN needs no schema, only a database of the
// test's own (notifications stay within a database); the package's test
// harness imports store, so the test makes one itself.
func TestListenerSkipsOwnStore(t *testing.T) {
	t.Parallel()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`")
	}
	admin, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	name := "eventstore_listener_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	_, err = admin.Exec(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		_ = admin.Close(context.Background())
	})
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := New(pool, Config{DisableNotify: true})
	t.Cleanup(s.Close)
	l := newListener(s, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	select {
	case <-l.ready:
	case <-time.After(20 * time.Second):
		t.Fatal("listener not ready")
	}
	<-l.wake // the wake-up after connecting

	notify := func(payload string) {
		_, err := pool.Exec(t.Context(), "SELECT pg_notify($1, $2)", NotifyChannel, payload)
		require.NoError(t, err)
	}
	woken := func(within time.Duration) bool {
		select {
		case <-l.wake:
			return true
		case <-time.After(within):
			return false
		}
	}
	notify(s.instance)
	require.False(t, woken(300*time.Millisecond), "woken by its own Store's notification")
	notify("")
	require.True(t, woken(20*time.Second), "not woken by an empty payload (psql's NOTIFY)")
	notify(New(pool, Config{DisableNotify: true}).instance)
	require.True(t, woken(20*time.Second), "not woken by another Store's notification")
}
