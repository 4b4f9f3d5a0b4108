package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

var errBoom = errors.New("boom")

// TestInTxCommitsAtomically: appends to two streams in one transaction are
// invisible outside it until it commits, then visible together, written by
// one transaction.
func TestInTxCommitsAtomically(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.store.InTx(b.ctx, func(ctx context.Context) error {
		if _, err := b.store.Append(ctx, "left", store.NoStream, rawEvents(2, 0)...); err != nil {
			return err
		}
		if _, err := b.store.Append(ctx, "right", store.NoStream, rawEvents(3, 10)...); err != nil {
			return err
		}
		// Inside: the transaction reads its own appends.
		recs, err := b.store.ReadForward(ctx, "right", 0, 10)
		require.NoError(t, err)
		require.Len(t, recs, 3)
		// Outside: nothing yet.
		_, err = b.store.ReadForward(b.ctx, "left", 0, 10)
		require.ErrorIs(t, err, store.ErrStreamNotFound)
		return nil
	})
	require.NoError(t, err)

	left, err := b.store.ReadForward(b.ctx, "left", 0, 10)
	require.NoError(t, err)
	right, err := b.store.ReadForward(b.ctx, "right", 0, 10)
	require.NoError(t, err)
	require.Len(t, left, 2)
	require.Len(t, right, 3)
	require.Equal(t, left[0].TransactionID, right[0].TransactionID, "one transaction wrote both")
	st := b.store.Stats()
	require.Equal(t, int64(1), st.Transactions)
	require.Equal(t, int64(5), st.EventsAppended)
}

// TestInTxRollsBack: a transaction that appended to two streams and then
// fails, or panics, stores nothing.
func TestInTxRollsBack(t *testing.T) {
	t.Parallel()
	appendBoth := func(t *testing.T, b *bundle, ctx context.Context) {
		t.Helper()
		_, err := b.store.Append(ctx, "left", store.NoStream, rawEvents(2, 0)...)
		require.NoError(t, err)
		_, err = b.store.Append(ctx, "right", store.NoStream, rawEvents(2, 0)...)
		require.NoError(t, err)
	}
	tests := []struct {
		name string
		run  func(t *testing.T, b *bundle)
	}{
		{"error", func(t *testing.T, b *bundle) {
			err := b.store.InTx(b.ctx, func(ctx context.Context) error {
				appendBoth(t, b, ctx)
				return errBoom
			})
			require.ErrorIs(t, err, errBoom)
		}},
		{"failed append", func(t *testing.T, b *bundle) {
			err := b.store.InTx(b.ctx, func(ctx context.Context) error {
				appendBoth(t, b, ctx)
				_, err := b.store.Append(ctx, "left", store.Exact(7), rawEvent("test_event", 9))
				return err
			})
			require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
		}},
		{"panic", func(t *testing.T, b *bundle) {
			require.PanicsWithValue(t, "kaboom", func() {
				_ = b.store.InTx(b.ctx, func(ctx context.Context) error {
					appendBoth(t, b, ctx)
					panic("kaboom")
				})
			})
		}},
		{"cancelled context", func(t *testing.T, b *bundle) {
			ctx, cancel := context.WithCancel(b.ctx)
			err := b.store.InTx(ctx, func(ctx context.Context) error {
				appendBoth(t, b, ctx)
				cancel()
				return ctx.Err()
			})
			require.ErrorIs(t, err, context.Canceled)
		}},
		{"swallowed SQL error", func(t *testing.T, b *bundle) {
			calls := 0
			err := b.store.InTx(b.ctx, func(ctx context.Context) error {
				calls++
				appendBoth(t, b, ctx)
				tx, ok := store.TxFromContext(ctx)
				require.True(t, ok)
				_, err := tx.Exec(ctx, `SELECT * FROM no_such_table`)
				require.Error(t, err)
				return nil // ignored: PostgreSQL has aborted the transaction, COMMIT rolls it back
			})
			require.ErrorIs(t, err, store.ErrTransactionRolledBack)
			require.Equal(t, 1, calls, "not retried")
		}},
		{"store operation after a swallowed error", func(t *testing.T, b *bundle) {
			var readErr error
			err := b.store.InTx(b.ctx, func(ctx context.Context) error {
				appendBoth(t, b, ctx)
				tx, _ := store.TxFromContext(ctx)
				_, _ = tx.Exec(ctx, `SELECT 1/0`)
				_, readErr = b.store.ReadForward(ctx, "left", 0, 10)
				return readErr
			})
			require.ErrorIs(t, readErr, store.ErrTransactionRolledBack, "SQLSTATE 25P02: the transaction is aborted")
			require.ErrorIs(t, err, store.ErrTransactionRolledBack)
		}},
		{"nested error", func(t *testing.T, b *bundle) {
			err := b.store.InTx(b.ctx, func(ctx context.Context) error {
				outer, _ := store.TxFromContext(ctx)
				require.NoError(t, b.store.InTx(ctx, func(ctx context.Context) error {
					inner, _ := store.TxFromContext(ctx)
					require.Same(t, outer, inner, "the nested call joins the outer transaction")
					appendBoth(t, b, ctx)
					return nil
				}))
				return errBoom
			})
			require.ErrorIs(t, err, errBoom)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tt.run(t, b)
			require.Zero(t, countRows(t, b, "left"))
			require.Zero(t, countRows(t, b, "right"))
			_, err := b.store.StreamInfo(b.ctx, "left")
			require.ErrorIs(t, err, store.ErrStreamNotFound)
			st := b.store.Stats()
			require.Zero(t, st.Transactions)
			require.Equal(t, int64(1), st.Rollbacks)
			// The pool is healthy afterwards.
			_, err = b.store.Append(b.ctx, "after", store.NoStream, rawEvent("test_event", 1))
			require.NoError(t, err)
		})
	}
}

// TestInTxGuildScope: the transaction carries its guild in
// eventstore.guild_id; an operation of another guild inside it is refused;
// the setting never outlives the transaction on a pooled connection.
func TestInTxGuildScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// One connection, so that the next user of it is observed.
	cfg := b.pool.Config().Copy()
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := store.New(pool, store.Config{})
	t.Cleanup(s.Close)

	err = s.InTx(b.ctx, func(ctx context.Context) error {
		tx, ok := store.TxFromContext(ctx)
		require.True(t, ok)
		var guild string
		require.NoError(t, tx.QueryRow(ctx, `SELECT current_setting('eventstore.guild_id')`).Scan(&guild))
		require.Equal(t, testGuild, guild)

		other := store.WithGuild(ctx, "guild-2")
		_, err := s.Append(other, "g2", store.Any, rawEvent("test_event", 1))
		require.ErrorIs(t, err, store.ErrGuildMismatch)
		_, err = s.ReadForward(other, "g2", 0, 1)
		require.ErrorIs(t, err, store.ErrGuildMismatch)
		_, err = s.Append(ctx, "g1", store.Any, rawEvent("test_event", 1))
		return err
	})
	require.NoError(t, err)

	_, err = s.ReadForward(b.ctx, "g1", 0, 10) // an autocommit read with a guild
	require.NoError(t, err)
	var guild string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT coalesce(current_setting('eventstore.guild_id', true), '')`).Scan(&guild))
	require.Empty(t, guild, "the guild setting ends with its transaction")
}

// TestInTxWithoutGuildTakesFirst: a transaction begun without a guild takes
// the guild of its first operation that has one; writes still need a guild
// in their context, and another guild is refused.
func TestInTxWithoutGuildTakesFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.store.InTx(t.Context(), func(ctx context.Context) error {
		gctx := store.WithGuild(ctx, "guild-x")
		if _, err := b.store.Append(gctx, "x-1", store.NoStream, rawEvent("test_event", 1)); err != nil {
			return err
		}
		tx, _ := store.TxFromContext(ctx)
		var guild string
		require.NoError(t, tx.QueryRow(ctx, `SELECT current_setting('eventstore.guild_id')`).Scan(&guild))
		require.Equal(t, "guild-x", guild)
		_, err := b.store.Append(ctx, "x-1", store.Exact(1), rawEvent("test_event", 2))
		require.ErrorIs(t, err, store.ErrGuildRequired)
		_, err = b.store.Append(store.WithGuild(ctx, "guild-y"), "y-1", store.NoStream, rawEvent("test_event", 1))
		require.ErrorIs(t, err, store.ErrGuildMismatch)
		// A read without a guild runs in the transaction's guild.
		recs, err := b.store.ReadForward(ctx, "x-1", 0, 10)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		_, err = b.store.Append(gctx, "x-1", store.Exact(1), rawEvent("test_event", 2))
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, countRows(t, b, "x-1"))
	require.Zero(t, countRows(t, b, "y-1"))
}

// TestWithTxCallerTransaction: an application appends in its own
// transaction; the store scopes it to the guild, and the caller's commit or
// rollback decides.
func TestWithTxCallerTransaction(t *testing.T) {
	t.Parallel()
	for _, commit := range []bool{true, false} {
		name := map[bool]string{true: "commit", false: "rollback"}[commit]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupApp(t)
			ctxA := store.WithGuild(t.Context(), guildA)
			tx, err := b.appPool.Begin(t.Context())
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(context.Background()) }()
			ctx := store.WithTx(ctxA, tx)

			_, err = b.app.Append(ctx, "a-1", store.NoStream, rawEvents(2, 0)...)
			require.NoError(t, err, "the application role appends in its own transaction")
			var guild string
			require.NoError(t, tx.QueryRow(ctx, `SELECT current_setting('eventstore.guild_id')`).Scan(&guild))
			require.Equal(t, guildA, guild)
			recs, err := b.app.ReadForward(ctx, "a-1", 0, 10)
			require.NoError(t, err)
			require.Len(t, recs, 2)
			_, err = b.app.Append(store.WithGuild(ctx, guildB), "b-1", store.NoStream, rawEvent("test_event", 1))
			require.ErrorIs(t, err, store.ErrGuildMismatch)
			require.Zero(t, b.countAll(t, "a-1"), "invisible until the caller commits")

			if commit {
				require.NoError(t, tx.Commit(t.Context()))
				require.Equal(t, 2, b.countAll(t, "a-1"))
			} else {
				require.NoError(t, tx.Rollback(t.Context()))
				require.Zero(t, b.countAll(t, "a-1"))
			}
		})
	}
}

// TestInTxAppRole: InTx on the application role's pool can write and read
// its guild only.
func TestInTxAppRole(t *testing.T) {
	t.Parallel()
	b := setupApp(t)
	seedGuilds(t, b)
	ctxA := store.WithGuild(t.Context(), guildA)
	err := b.app.InTx(ctxA, func(ctx context.Context) error {
		if _, err := b.app.Append(ctx, "a-1", store.Exact(2), rawEvent("test_event", 3)); err != nil {
			return err
		}
		if _, err := b.app.ReadForward(ctx, "b-1", 0, 10); !errors.Is(err, store.ErrStreamNotFound) {
			return err
		}
		tx, _ := store.TxFromContext(ctx)
		var foreign int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM eventstore.events WHERE guild_id = $1`, guildB).Scan(&foreign); err != nil {
			return err
		}
		require.Zero(t, foreign)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, b.countAll(t, "a-1"))
}

// TestInTxLogs: start, commit and rollback are logged with the guild.
func TestInTxLogs(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, store.Config{Logger: logger})

	require.NoError(t, b.store.InTx(b.ctx, func(ctx context.Context) error {
		_, err := b.store.Append(ctx, "logged", store.NoStream, rawEvent("test_event", 1))
		return err
	}))
	require.ErrorIs(t, b.store.InTx(b.ctx, func(context.Context) error { return errBoom }), errBoom)

	out := buf.String()
	for _, want := range []string{
		`msg="eventstore transaction begin" guild_id=guild-1 attempt=1`,
		`msg="eventstore transaction commit" guild_id=guild-1 attempt=1 events=1`,
		`msg="eventstore transaction rollback" guild_id=guild-1 attempt=1`,
		`cause=boom`,
	} {
		require.Contains(t, out, want)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) lines(substr string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// BenchmarkAppendOne measures a single-event Append in autocommit mode: one
// round trip carrying the guild setting and the append. Compare with
// BenchmarkPlainInsert.
func BenchmarkAppendOne(b *testing.B) {
	s := store.New(testdb.New(b), store.Config{DisableNotify: true})
	defer s.Close()
	ctx := store.WithGuild(b.Context(), testGuild)
	ev := rawEvent("test_event", 1)
	for b.Loop() {
		if _, err := s.Append(ctx, "bench", store.Any, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainInsert is the baseline of BenchmarkAppendOne: a single-row
// INSERT of the same shape in its own (autocommit) transaction.
func BenchmarkPlainInsert(b *testing.B) {
	pool := testdb.New(b)
	_, err := pool.Exec(b.Context(), `CREATE TABLE plain (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		event_id uuid UNIQUE, stream_id text, event_type text, data jsonb, created_at timestamptz DEFAULT now())`)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := pool.Exec(b.Context(), `INSERT INTO plain (event_id, stream_id, event_type, data) VALUES ($1, $2, $3, $4)`,
			uuid.New(), "bench", "test_event", []byte(`{"n": 1}`)); err != nil {
			b.Fatal(err)
		}
	}
}
