package store_test

import (
	"testing"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// TestSubscriptionStatementCanceledIsNotRetried: a subscription classifies
// errors as the rest of the store does. A read the server cancels
// (statement_timeout, SQLSTATE 57014) is not retried by the store's
// operations (another attempt would meet the same limit), so a subscription
// does not retry it forever either: it stops with ErrStatementCanceled.
func TestSubscriptionStatementCanceledIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)

	// The subscriber's sessions give up on any statement after 50 ms; a
	// lock held on the events table makes its feed read wait past that.
	cfg := b.pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "50"
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	sub := store.New(pool, store.Config{})
	t.Cleanup(sub.Close)

	tx, err := b.pool.Begin(b.admin)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(b.admin) }()
	_, err = tx.Exec(b.admin, "LOCK TABLE eventstore.events IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	var rec sink
	s, err := sub.Subscribe(b.ctx, fast(store.SubscriptionOptions{}), rec.handle)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	select {
	case <-s.Done():
	case <-time.After(deliveryLimit):
		t.Fatal("the subscription retried a cancelled statement instead of stopping")
	}
	require.ErrorIs(t, s.Wait(), store.ErrStatementCanceled)
	require.Zero(t, rec.len())
}
