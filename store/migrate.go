package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gamebot/eventstore/sql/schema"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// The migration lock. Migrate and MigrateDown hold a row of the table
// goose_lock (goose's table locker; the table is created next to
// goose_db_version, in the migrating role's current schema, on first use)
// while they change the schema, so that the migrations of several processes
// run one at a time. Only roles that may write that table take part: the
// application role (eventstore_app) has no privilege on it, so, unlike with
// a PostgreSQL advisory lock, which any role can take, it cannot hold the
// lock and stall migrations.
const (
	// migrationLockTimeout is how long Migrate and MigrateDown wait for
	// the lock before they fail.
	migrationLockTimeout = 30 * time.Second
	// migrationLockRetry is the time between attempts to take the lock.
	migrationLockRetry = time.Second
	// migrationLockLease is how long the lock outlives a holder that
	// stopped renewing it (a crashed process). It is shorter than
	// migrationLockTimeout, so a migration started right after a crash
	// waits the lease out rather than failing.
	migrationLockLease = 15 * time.Second
	// migrationLockHeartbeat is how often the holder renews its lease.
	migrationLockHeartbeat = 3 * time.Second
	// migrationUnlockAttempts bounds the retries of releasing the lock; a
	// lock that could not be released ends with its lease.
	migrationUnlockAttempts = 3
)

// lockTiming says how a migration waits for the migration lock and keeps it.
type lockTiming struct {
	retry, timeout, lease, heartbeat time.Duration
}

func defaultLockTiming() lockTiming {
	return lockTiming{
		retry: migrationLockRetry, timeout: migrationLockTimeout,
		lease: migrationLockLease, heartbeat: migrationLockHeartbeat,
	}
}

// MigrationStatus describes one embedded migration.
type MigrationStatus struct {
	// Version is the migration's number (1 for 00001_init.sql).
	Version int64 `json:"version"`
	// Name is the migration's file name.
	Name string `json:"name"`
	// Applied reports whether the migration is applied.
	Applied bool `json:"applied"`
}

// Migrate applies every pending embedded migration. When there is something
// to apply, it takes the migration lock first (a row of the table
// goose_lock, which only the migrating role may write), so that concurrent
// callers, in this process or others, apply each migration once: many
// processes may call it at start-up. It waits about 30 seconds for the
// lock and then fails with an error naming the holder; a holder that died
// keeps the lock for at most 15 seconds. It returns the versions applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	return migrateUp(ctx, pool, defaultLockTiming())
}

func migrateUp(ctx context.Context, pool *pgxpool.Pool, timing lockTiming) ([]int64, error) {
	var applied []int64
	err := withProvider(pool, func(m migrator) error {
		// Nothing pending: done without the lock, as goose's Up does.
		pending, err := m.p.HasPending(ctx)
		if err != nil || !pending {
			return err
		}
		return m.locked(ctx, timing, func() error {
			res, err := m.p.Up(ctx)
			for _, r := range res {
				applied = append(applied, r.Source.Version)
			}
			return err
		})
	})
	if err != nil {
		return applied, fmt.Errorf("migrate up: %w", err)
	}
	return applied, nil
}

// MigrateDown rolls migrations back until version to is the newest applied
// (0 removes the whole schema), holding the migration lock like Migrate.
// It returns the versions rolled back.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, to int64) ([]int64, error) {
	var rolled []int64
	err := withProvider(pool, func(m migrator) error {
		return m.locked(ctx, defaultLockTiming(), func() error {
			res, err := m.p.DownTo(ctx, to)
			for _, r := range res {
				rolled = append(rolled, r.Source.Version)
			}
			return err
		})
	})
	if err != nil {
		return rolled, fmt.Errorf("migrate down to %d: %w", to, err)
	}
	return rolled, nil
}

// MigrateStatus lists every embedded migration and whether it is applied.
// It reads without the migration lock.
func MigrateStatus(ctx context.Context, pool *pgxpool.Pool) ([]MigrationStatus, error) {
	var out []MigrationStatus
	err := withProvider(pool, func(m migrator) error {
		st, err := m.p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			out = append(out, MigrationStatus{
				Version: s.Source.Version,
				Name:    s.Source.Path,
				Applied: s.State == goose.StateApplied,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return out, nil
}

// migrator is a goose provider over the embedded migrations and the
// database handle it runs on.
type migrator struct {
	p  *goose.Provider
	db *sql.DB
}

// withProvider runs fn with a migrator on pool. The provider has no locker
// of its own: the caller takes the migration lock (migrator.locked) before
// goose reserves a connection, so a migration waiting for the lock holds
// none of the pool's connections between attempts.
func withProvider(pool *pgxpool.Pool, fn func(migrator) error) error {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema.FS,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return err
	}
	return fn(migrator{p: p, db: sqlDB})
}

// locked runs fn holding the migration lock.
func (m migrator) locked(ctx context.Context, timing lockTiming, fn func() error) (err error) {
	unlock, err := lockMigrations(ctx, m.db, timing)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	return fn()
}

// lockMigrations takes the migration lock through db, trying every
// timing.retry for up to timing.timeout, and returns the function that
// releases it. While held, the lock's lease is renewed every
// timing.heartbeat.
func lockMigrations(ctx context.Context, db *sql.DB, timing lockTiming) (unlock func() error, err error) {
	l, err := lock.NewPostgresTableLocker(
		lock.WithTableLockTimeout(timing.retry, uint64(max(1, timing.timeout/timing.retry))),
		lock.WithTableUnlockTimeout(timing.retry, migrationUnlockAttempts),
		lock.WithTableLeaseDuration(timing.lease),
		lock.WithTableHeartbeatInterval(timing.heartbeat),
		lock.WithTableLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, err
	}
	if err := l.Lock(ctx, db); err != nil {
		return nil, lockError(ctx, db, timing, err)
	}
	return func() error {
		if err := l.Unlock(ctx, db); err != nil {
			return fmt.Errorf("release the migration lock (it ends with its lease, within %s): %w", timing.lease, err)
		}
		return nil
	}, nil
}

// lockError explains a failure to take the migration lock, naming the
// holder when there is one.
func lockError(ctx context.Context, db *sql.DB, timing lockTiming, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("wait for the migration lock: %w", err)
	}
	var holder string
	var until time.Time
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	qerr := db.QueryRowContext(qctx,
		`SELECT locked_by, lease_expires_at FROM `+lock.DefaultLockTableName+` WHERE lock_id = $1 AND locked`,
		lock.DefaultLockID).Scan(&holder, &until)
	if qerr != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return fmt.Errorf("the migration lock is held by %s (lease until %s): another migration is running, "+
		"or one that stopped holds it until its lease ends; gave up after %s: %w",
		holder, until.UTC().Format(time.RFC3339), timing.timeout, err)
}
