package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gamebot/eventstore/db"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// setGuildSQL scopes the current transaction to a guild: row-level security
// and the write functions' guild check read eventstore.guild_id (see
// sql/schema/00002_security.sql). is_local = true: the setting ends with the
// transaction, so a pooled connection never carries it into the next one.
const setGuildSQL = "SELECT set_config('eventstore.guild_id', $1, true)"

// rollbackTimeout bounds a rollback, which runs on a context that the
// caller's cancellation cannot cut short.
const rollbackTimeout = 10 * time.Second

type txKey struct{}

// txValue is the transaction carried by a context (see WithTx and InTx).
type txValue struct {
	tx pgx.Tx
	// owned: started by InTx, which commits it (and wakes subscribers).
	owned bool

	mu       sync.Mutex
	guild    string   // the transaction's guild, "" until one is used
	appended int      // events appended through the store
	written  []string // streams written, for read-your-writes (consistency.go)
}

// bindGuild fixes the transaction's guild at the first operation that has
// one, and refuses an operation of another guild afterwards.
func (v *txValue) bindGuild(guild string) error {
	if guild == "" {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch v.guild {
	case "":
		v.guild = guild
	case guild:
	default:
		return fmt.Errorf("%w: the transaction belongs to guild %q, the context's guild is %q", ErrGuildMismatch, v.guild, guild)
	}
	return nil
}

func (v *txValue) guildID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.guild
}

func (v *txValue) noteAppend(n int) {
	v.mu.Lock()
	v.appended += n
	v.mu.Unlock()
}

func (v *txValue) appendedEvents() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.appended
}

// WithTx returns a context whose store operations run inside tx, a
// transaction the caller began and will commit or roll back. Appends made
// this way become visible when the caller commits.
//
// The store scopes tx to the context's guild itself: every operation with a
// guild sends SELECT set_config('eventstore.guild_id', guild, true) in the
// same round trip as its query (Append in the same statement), so row-level security and the write
// functions' guild check apply (see docs/GUILDS.md). The first guild used
// in tx is its guild; an operation of another guild fails with
// ErrGuildMismatch. The store does not retry operations in a caller's
// transaction: after an error the caller rolls back and decides.
func WithTx(ctx context.Context, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, &txValue{tx: tx})
}

// TxFromContext returns the transaction that store operations made with ctx
// run in (one begun by InTx, or given to WithTx), for SQL of the caller's
// own in the same transaction. Inside InTx the transaction is already
// scoped to the context's guild.
func TxFromContext(ctx context.Context) (pgx.Tx, bool) {
	if v := txValueFrom(ctx); v != nil {
		return v.tx, true
	}
	return nil, false
}

// txFromContext returns the transaction carried by ctx, if any.
func txFromContext(ctx context.Context, _ *Store) pgx.Tx {
	if v := txValueFrom(ctx); v != nil {
		return v.tx
	}
	return nil
}

func txValueFrom(ctx context.Context) *txValue {
	if v, ok := ctx.Value(txKey{}).(*txValue); ok && v.tx != nil {
		return v
	}
	return nil
}

// InTx runs fn inside one transaction (read committed; see InTxWith). Store
// operations made with the context passed to fn join that transaction, so
// appends to several streams commit together or not at all; reads inside
// fn see fn's own appends. A call of InTx inside fn joins the outer
// transaction. InTx commits when fn returns nil and rolls back when fn
// returns an error or panics (the panic then continues).
//
// The transaction is scoped to the context's guild (SET LOCAL
// eventstore.guild_id), and an operation of another guild inside it fails
// with ErrGuildMismatch. A transaction that fails with a recoverable error
// (serialization failure, deadlock, lost connection, admin shutdown, too
// many connections) is rolled back and run again, fn included, as the
// store's RetryPolicy allows; fn must therefore be safe to run again (give
// events fixed ids when a re-run must not append new ones). A lost
// connection during COMMIT is not retried: the outcome is then unknown and
// the error matches ErrConnection. When fn returns nil although a statement
// in the transaction failed (fn ignored the error of SQL of its own, run
// through TxFromContext), PostgreSQL rolls the transaction back at COMMIT:
// InTx then returns ErrTransactionRolledBack, nothing of the transaction
// was stored, and fn is not run again. Cancelling ctx stops retrying at
// once.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.InTxWith(ctx, pgx.TxOptions{}, fn)
}

// InTxWith is InTx with transaction options: the isolation level, read-only
// or deferrable. Options are ignored when ctx already carries a transaction
// (fn then joins it).
func (s *Store) InTxWith(ctx context.Context, opts pgx.TxOptions, fn func(ctx context.Context) error) error {
	if txValueFrom(ctx) != nil {
		return fn(ctx)
	}
	guild, _ := GuildFromContext(ctx)
	if guild != "" {
		if err := ValidateGuildID(guild); err != nil {
			return opError("transaction", "", err)
		}
	}
	for attempt := 1; ; attempt++ {
		actx := s.startAttempt(ctx, Observation{Op: OpTransaction, GuildID: guild, Attempt: attempt})
		start := time.Now()
		tv, commitSent, err := s.runTx(actx, opts, guild, attempt, fn)
		events, txGuild := 0, guild
		if tv != nil {
			events, txGuild = tv.appendedEvents(), tv.guildID()
		}
		ambiguous := commitSent && errors.Is(err, ErrConnection)
		if err == nil || ambiguous {
			s.noteTxCommit(tv)
		}
		retry := err != nil && !ambiguous && attempt < s.cfg.Retry.attempts() && ctx.Err() == nil && retryable(err, true)
		s.observe(actx, Observation{
			Op: OpTransaction, GuildID: txGuild, Duration: time.Since(start), Events: events,
			Err: err, Attempt: attempt, Retrying: retry,
		})
		if err == nil {
			if events > 0 {
				s.committed()
			}
			return nil
		}
		if !retry {
			return mapOwnError(err)
		}
		delay := s.cfg.Retry.Backoff(attempt)
		s.log.LogAttrs(ctx, slog.LevelInfo, "eventstore transaction retry",
			slog.String("guild_id", guild), slog.Int("attempt", attempt), slog.Duration("delay", delay),
			slog.String("error_class", string(Classify(err))), slog.String("error", err.Error()))
		if cerr := sleepCtx(ctx, delay); cerr != nil {
			return fmt.Errorf("transaction: %w (stopped retrying after attempt %d failed: %v)", cerr, attempt, err)
		}
	}
}

// mapOwnError maps an error fn returned from SQL of its own (a bare
// driver error) to the store's errors, and leaves the store's own errors,
// already mapped and wrapped with their operation, as they are.
func mapOwnError(err error) error {
	var mapped *dbError
	if errors.As(err, &mapped) {
		return err
	}
	return mapError(err)
}

// runTx runs one attempt of InTxWith. commitSent reports that COMMIT was
// sent, so that a connection error leaves the outcome unknown.
func (s *Store) runTx(ctx context.Context, opts pgx.TxOptions, guild string, attempt int, fn func(context.Context) error) (tv *txValue, commitSent bool, err error) {
	start := time.Now()
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, false, fmt.Errorf("begin transaction: %w", mapError(err))
	}
	tv = &txValue{tx: tx, owned: true, guild: guild}
	s.log.LogAttrs(ctx, slog.LevelDebug, "eventstore transaction begin",
		slog.String("guild_id", guild), slog.Int("attempt", attempt))
	defer func() {
		if p := recover(); p != nil {
			perr := fmt.Errorf("panic: %v", p)
			s.rollback(ctx, tv, attempt, start, perr)
			s.observe(ctx, Observation{
				Op: OpTransaction, GuildID: tv.guildID(), Duration: time.Since(start),
				Events: tv.appendedEvents(), Err: perr, Attempt: attempt,
			})
			panic(p)
		}
	}()
	if guild != "" {
		if _, err := tx.Exec(ctx, setGuildSQL, guild); err != nil {
			err = fmt.Errorf("begin transaction: set guild: %w", mapError(err))
			s.rollback(ctx, tv, attempt, start, err)
			return tv, false, err
		}
	}
	if err := fn(context.WithValue(ctx, txKey{}, tv)); err != nil {
		s.rollback(ctx, tv, attempt, start, err)
		return tv, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		err = mapError(err)
		if errors.Is(err, ErrConnection) {
			err = fmt.Errorf("commit transaction (outcome unknown): %w", err)
		} else {
			err = fmt.Errorf("commit transaction: %w", err)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "eventstore transaction commit failed",
			slog.String("guild_id", tv.guildID()), slog.Int("attempt", attempt),
			slog.Duration("duration", time.Since(start)), slog.String("error", err.Error()))
		return tv, true, err
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "eventstore transaction commit",
		slog.String("guild_id", tv.guildID()), slog.Int("attempt", attempt),
		slog.Int("events", tv.appendedEvents()), slog.Duration("duration", time.Since(start)))
	return tv, true, nil
}

// rollback rolls tv back on a context that the caller's cancellation cannot
// cut short, and logs why.
func (s *Store) rollback(ctx context.Context, tv *txValue, attempt int, start time.Time, cause error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	attrs := []slog.Attr{
		slog.String("guild_id", tv.guildID()), slog.Int("attempt", attempt),
		slog.Duration("duration", time.Since(start)), slog.String("cause", cause.Error()),
	}
	if err := tv.tx.Rollback(rctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		// The connection is gone; the server has rolled back already.
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "eventstore transaction rollback", attrs...)
}

// queriesFor returns sqlc queries for ctx: bound to the transaction ctx
// carries, if any, or to the pool. When a guild applies (the context's, or
// else the transaction's), every statement is sent in one batch behind
// setGuildSQL: one round trip, and in autocommit mode one implicit
// transaction, so the guild setting covers exactly that statement.
func (s *Store) queriesFor(ctx context.Context) (*db.Queries, bool) {
	d := s.dbFor(ctx)
	if d == db.DBTX(s.pool) {
		return s.q, false
	}
	return db.New(d), txValueFrom(ctx) != nil
}

// dbFor returns the db.DBTX behind queriesFor's queries.
func (s *Store) dbFor(ctx context.Context) db.DBTX {
	guild, _ := GuildFromContext(ctx)
	tv := txValueFrom(ctx)
	if tv != nil && guild == "" {
		guild = tv.guildID()
	}
	switch {
	case tv != nil && guild != "":
		return guildDB{b: tv.tx, guild: guild}
	case tv != nil:
		return tv.tx
	case guild != "":
		return guildDB{b: s.pool, guild: guild}
	}
	return s.pool
}

// scopeGuild returns the guild that scopes ctx's reads: the context's, else
// the transaction's, else "" (no guild: the whole store, which row-level
// security narrows to nothing for the application role). Reads pass it to
// SQL as well, so that a guild scopes them whatever role connects.
func (s *Store) scopeGuild(ctx context.Context) string {
	if guild, ok := GuildFromContext(ctx); ok && guild != "" {
		return guild
	}
	if tv := txValueFrom(ctx); tv != nil {
		return tv.guildID()
	}
	return ""
}

// scopeTo narrows a read's guild filter to the guild that scopes ctx: with
// a guild in scope, filter must be empty (it becomes that guild) or the
// same guild (ErrGuildMismatch otherwise); without one, filter applies as
// given.
func (s *Store) scopeTo(ctx context.Context, filter string) (string, error) {
	scope := s.scopeGuild(ctx)
	switch {
	case scope == "" || filter == scope:
		return filter, nil
	case filter == "":
		return scope, nil
	}
	return "", fmt.Errorf("%w: the filter's guild %q is not the context's guild %q", ErrGuildMismatch, filter, scope)
}

// plainQueries returns the queries on ctx's transaction (inTx true) or on
// the pool, without setting the guild: for statements that set it
// themselves, and for calls without one.
func (s *Store) plainQueries(ctx context.Context) (q *db.Queries, inTx bool) {
	if tv := txValueFrom(ctx); tv != nil {
		return s.q.WithTx(tv.tx), true
	}
	return s.q, false
}

// batchSender is a pool, connection or transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// guildDB is a db.DBTX that sends each statement in one batch after
// setGuildSQL.
type guildDB struct {
	b     batchSender
	guild string
}

func (g guildDB) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	batch := &pgx.Batch{}
	batch.Queue(setGuildSQL, g.guild)
	batch.Queue(sql, args...)
	br := g.b.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	return br, nil
}

// Exec implements db.DBTX.
func (g guildDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := g.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query implements db.DBTX.
func (g guildDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := g.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow implements db.DBTX.
func (g guildDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	br, err := g.send(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return &batchRow{row: br.QueryRow(), br: br}
}

// batchRows closes its batch when the rows are done.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.finish()
	return false
}

func (r *batchRows) finish() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Close() { r.finish() }

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow closes its batch once scanned.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r *batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
