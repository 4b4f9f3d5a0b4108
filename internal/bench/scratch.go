package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// twinSchema holds the baseline's twin of eventstore.events.
const twinSchema = "bench"

// scratch is the benchmark's own database.
type scratch struct {
	admin *pgxpool.Pool
	name  string
	pool  *pgxpool.Pool
}

// openScratch creates eventstore_bench_<random> on admin's server, migrates
// it and creates the baseline's twin table: the same columns, defaults,
// identity, constraints and indexes as eventstore.events.
func openScratch(ctx context.Context, admin *pgxpool.Pool) (_ *scratch, err error) {
	s := &scratch{admin: admin, name: "eventstore_bench_" + randomHex(6)}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("bench: create scratch database %s (the role needs CREATEDB): %w", s.name, err)
	}
	defer func() {
		if err != nil {
			_ = s.drop() // the first error is the one to report
		}
	}()
	cfg := admin.Config().Copy()
	cfg.ConnConfig.Database = s.name
	cfg.MaxConns = 24
	cfg.MinConns = 0
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("bench: connect to %s: %w", s.name, err)
	}
	if _, err = store.Migrate(ctx, s.pool); err != nil {
		return nil, fmt.Errorf("bench: migrate %s: %w", s.name, err)
	}
	ddl := `CREATE SCHEMA ` + twinSchema + `;
CREATE TABLE ` + twinSchema + `.events (LIKE eventstore.events INCLUDING ALL);`
	if _, err = s.pool.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("bench: create twin table: %w", err)
	}
	return s, nil
}

// drop closes the pool and drops the database, even when the run's context
// was cancelled.
func (s *scratch) drop() error {
	if s.pool != nil {
		s.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("bench: drop scratch database %s: %w", s.name, err)
	}
	return nil
}
