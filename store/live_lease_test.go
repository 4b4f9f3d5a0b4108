package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSubscriptionLeaseFencing: a claim bumps the lease token; a save or
// renewal carrying an older token changes nothing, so a consumer that lost
// its lease can never overwrite the new holder's checkpoint. A held lease
// is not granted to another holder until it expires or is released.
func TestSubscriptionLeaseFencing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := b.admin
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := b.pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	claim := func(holder string) (bool, int64) {
		t.Helper()
		var granted bool
		var token int64
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT c.granted, (c.sub).lease_token
			FROM eventstore.subscription_claim('fenced', 0, NULL, $1, NULL, 30) c`, holder).Scan(&granted, &token))
		return granted, token
	}
	save := func(token, pos int64) bool {
		t.Helper()
		var ok bool
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT eventstore.subscription_checkpoint_save(
			'fenced', 0, NULL, $1, '5', $2, 0, 1, 30)`, token, pos).Scan(&ok))
		return ok
	}
	stored := func() int64 {
		t.Helper()
		var pos int64
		require.NoError(t, b.pool.QueryRow(ctx,
			`SELECT checkpoint_position FROM eventstore.subscriptions WHERE name = 'fenced'`).Scan(&pos))
		return pos
	}
	exec(`SELECT * FROM eventstore.subscription_register('fenced', 0, 1, NULL, '0', 0, 0, '{}', NULL)`)

	grantedA, tokenA := claim("A")
	require.True(t, grantedA)
	require.True(t, save(tokenA, 10))
	grantedB, _ := claim("B")
	require.False(t, grantedB, "a held lease is not granted to another consumer")

	// A stalls past its lease; B claims it.
	exec(`UPDATE eventstore.subscriptions SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE name = 'fenced'`)
	grantedB, tokenB := claim("B")
	require.True(t, grantedB)
	require.Greater(t, tokenB, tokenA)

	require.False(t, save(tokenA, 99), "the old holder's save is refused")
	require.Equal(t, int64(10), stored())
	var renewed bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT eventstore.subscription_renew('fenced', 0, NULL, $1, 30)`, tokenA).Scan(&renewed))
	require.False(t, renewed, "the old holder cannot renew")
	require.True(t, save(tokenB, 20))
	require.Equal(t, int64(20), stored())

	// Released, the lease is granted at once.
	var released bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT eventstore.subscription_release('fenced', 0, NULL, $1)`, tokenB).Scan(&released))
	require.True(t, released)
	grantedA, _ = claim("A")
	require.True(t, grantedA)
}
