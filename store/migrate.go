package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/gamebot/eventstore/sql/schema"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrationStatus describes one embedded migration.
type MigrationStatus struct {
	// Version is the migration's number (1 for 00001_init.sql).
	Version int64 `json:"version"`
	// Name is the migration's file name.
	Name string `json:"name"`
	// Applied reports whether the migration is applied.
	Applied bool `json:"applied"`
}

// Migrate applies every pending embedded migration. Concurrent callers are
// serialized by a PostgreSQL advisory lock, so many processes may call it
// at start-up. It returns the versions applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	var applied []int64
	err := withProvider(pool, func(p *goose.Provider) error {
		res, err := p.Up(ctx)
		for _, r := range res {
			applied = append(applied, r.Source.Version)
		}
		return err
	})
	if err != nil {
		return applied, fmt.Errorf("migrate up: %w", err)
	}
	return applied, nil
}

// MigrateDown rolls migrations back until version to is the newest applied
// (0 removes the whole schema). It returns the versions rolled back.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, to int64) ([]int64, error) {
	var rolled []int64
	err := withProvider(pool, func(p *goose.Provider) error {
		res, err := p.DownTo(ctx, to)
		for _, r := range res {
			rolled = append(rolled, r.Source.Version)
		}
		return err
	})
	if err != nil {
		return rolled, fmt.Errorf("migrate down to %d: %w", to, err)
	}
	return rolled, nil
}

// MigrateStatus lists every embedded migration and whether it is applied.
func MigrateStatus(ctx context.Context, pool *pgxpool.Pool) ([]MigrationStatus, error) {
	var out []MigrationStatus
	err := withProvider(pool, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range st {
			out = append(out, MigrationStatus{
				Version: m.Source.Version,
				Name:    m.Source.Path,
				Applied: m.State == goose.StateApplied,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return out, nil
}

// withProvider runs fn with a goose provider over the embedded migrations,
// holding a session advisory lock while migrating.
func withProvider(pool *pgxpool.Pool, fn func(*goose.Provider) error) error {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	return withProviderDB(sqlDB, fn)
}

func withProviderDB(sqlDB *sql.DB, fn func(*goose.Provider) error) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema.FS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return err
	}
	return fn(p)
}
