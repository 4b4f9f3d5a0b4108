package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

type txKey struct{}

type txValue struct {
	tx pgx.Tx
}

// WithTx returns a context whose store operations run inside tx, a
// transaction the caller began and will commit or roll back. Appends made
// this way become visible when the caller commits.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, &txValue{tx: tx})
}

// txFromContext returns the transaction carried by ctx, if any.
func txFromContext(ctx context.Context, _ *Store) pgx.Tx {
	if v, ok := ctx.Value(txKey{}).(*txValue); ok && v.tx != nil {
		return v.tx
	}
	return nil
}
