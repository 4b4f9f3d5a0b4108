package store_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// exampleDatabase creates and migrates a scratch database on the test
// server for a runnable example, and returns a pool on it with a function
// that drops it again.
func exampleDatabase(ctx context.Context) (*pgxpool.Pool, func()) {
	admin, err := pgxpool.New(ctx, os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	name := "es_example_" + randomSuffix()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		panic(fmt.Sprintf("create example database (is TEST_DATABASE_URL set? run make test): %v", err))
	}
	pool, err := pgxpool.New(ctx, connString(admin, name))
	if err != nil {
		panic(err)
	}
	if _, err := store.Migrate(ctx, pool); err != nil {
		panic(err)
	}
	return pool, func() {
		pool.Close()
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
}
