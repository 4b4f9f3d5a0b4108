package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/gamebot/eventstore/serde"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Validation errors: the input was refused before anything was written.
var (
	// ErrInvalidStreamID reports a stream id that breaks the name rule (see
	// ValidateStreamID): empty, longer than 255 characters, with control,
	// format or line separator characters, white space at either end, or
	// starting with "$".
	ErrInvalidStreamID = errors.New("invalid stream id")
	// ErrInvalidStartVersion reports a read start version that is negative
	// (or, for backward reads, below -1).
	ErrInvalidStartVersion = errors.New("invalid start version")
	// ErrInvalidBatchSize reports a read count or append batch outside the
	// allowed range (an empty append batch included).
	ErrInvalidBatchSize = errors.New("invalid batch size")
	// ErrInvalidExpectedVersion reports an ExpectedVersion that is none of
	// Any, NoStream, StreamExists or Exact(n >= 0).
	ErrInvalidExpectedVersion = errors.New("invalid expected version")
	// ErrInvalidGuildID reports a guild id that breaks the name rule (see
	// ValidateGuildID).
	ErrInvalidGuildID = errors.New("invalid guild id")
	// ErrEventTooLarge reports an event whose encoded data and metadata
	// exceed Config.MaxEventBytes; nothing was sent.
	ErrEventTooLarge = errors.New("event too large")
	// ErrBatchTooLarge reports an append whose encoded events together
	// exceed Config.MaxBatchBytes; nothing was sent.
	ErrBatchTooLarge = errors.New("batch too large")
	// ErrInvalidArgument reports any other argument the store refused.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Concurrency and stream-state errors.
var (
	// ErrWrongExpectedVersion reports that the stream was not at the expected
	// version. The error is a *VersionConflictError.
	ErrWrongExpectedVersion = errors.New("wrong expected version")
	// ErrStreamNotFound reports a stream that does not exist.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrStreamExists reports a stream that exists when NoStream was expected.
	ErrStreamExists = errors.New("stream exists")
	// ErrStreamDeleted reports a soft-deleted stream: it cannot be read or
	// appended to.
	ErrStreamDeleted = errors.New("stream deleted")
	// ErrStreamArchived reports an archived stream: it is read-only.
	ErrStreamArchived = errors.New("stream archived")
	// ErrStreamFull reports an append that would take a stream past its event
	// limit. The error is a *StreamFullError.
	ErrStreamFull = errors.New("stream full")
	// ErrDuplicateEvent reports an event id that is already stored elsewhere
	// (not as an identical re-append, which is idempotent).
	ErrDuplicateEvent = errors.New("duplicate event")
	// ErrEventImmutable reports an attempt to update or delete stored events.
	ErrEventImmutable = errors.New("events are immutable")
)

// Lifecycle errors: snapshots, archiving and hard deletion.
var (
	// ErrSnapshotNotFound reports a stream that has no snapshot.
	ErrSnapshotNotFound = errors.New("snapshot not found")
	// ErrSnapshotOutdated reports a snapshot stored with an older schema
	// version than the reader's; rebuild the state by a full replay. The
	// error is a *SnapshotSchemaError carrying the stored snapshot.
	ErrSnapshotOutdated = errors.New("snapshot outdated")
	// ErrSnapshotTooNew reports a snapshot stored with a newer schema
	// version than the reader knows (written by a newer release). The error
	// is a *SnapshotSchemaError.
	ErrSnapshotTooNew = errors.New("snapshot schema too new")
	// ErrSnapshotBeyondStream reports a snapshot that claims a version past
	// the stream's version.
	ErrSnapshotBeyondStream = errors.New("snapshot beyond stream version")
	// ErrSnapshotRequired reports an archive of a stream's early events
	// that no snapshot covers.
	ErrSnapshotRequired = errors.New("snapshot required")
	// ErrAdminRequired reports a maintenance operation (archive, hard
	// delete) attempted by a role that is not an administrator: the schema
	// owner, a superuser, a BYPASSRLS role or a member of eventstore_admin.
	ErrAdminRequired = errors.New("administrator required")
	// ErrConfirmationRequired reports a destructive operation (hard delete)
	// called without its explicit confirmation.
	ErrConfirmationRequired = errors.New("confirmation required")
)

// Guild errors.
var (
	// ErrGuildRequired reports a write whose context carries no guild (see
	// WithGuild), or a write by a restricted role (eventstore_app) in a
	// transaction without eventstore.guild_id (SQLSTATE ES015).
	ErrGuildRequired = errors.New("guild required")
	// ErrGuildMismatch reports a write to a stream owned by another guild
	// (or an id another guild holds), an event whose guild differs from the
	// context's, or a read filter naming another guild than the context's.
	ErrGuildMismatch = errors.New("guild mismatch")
)

// Infrastructure and domain errors. The serialization errors are the ones
// defined by package serde, so errors.Is works across both packages.
var (
	// ErrConnection reports a failure to reach PostgreSQL or a connection lost
	// mid-operation. Whether a write was applied is then unknown; retrying
	// the same events (same ids) is safe.
	ErrConnection = errors.New("connection error")
	// ErrTransactionConflict reports a transaction PostgreSQL rolled back
	// because of a serialization failure (SQLSTATE 40001) or a deadlock
	// (40P01). Nothing of it was stored; the store retries it (RetryPolicy).
	ErrTransactionConflict = errors.New("transaction conflict")
	// ErrTransactionRolledBack reports a transaction PostgreSQL rolled back
	// instead of committing because a statement in it had failed earlier:
	// COMMIT answered ROLLBACK (pgx.ErrTxCommitRollback), typically after fn
	// in InTx ignored the error of SQL of its own; or a statement was sent
	// after such a failure (SQLSTATE 25P02, in_failed_sql_transaction), when
	// the transaction can only be rolled back. Nothing of the transaction was
	// stored, or will be. It is not retried: the failed statement would
	// likely fail again.
	ErrTransactionRolledBack = errors.New("transaction rolled back")
	// ErrStatementCanceled reports a statement the server cancelled: it ran
	// past statement_timeout or waited past lock_timeout (SQLSTATE 57014,
	// 55P03), or an administrator cancelled it (pg_cancel_backend). The
	// statement failed as a whole: outside a transaction nothing of it was
	// stored; inside one, the transaction is aborted. It is not retried,
	// since another attempt would likely meet the same limit.
	ErrStatementCanceled = errors.New("statement canceled by the server")
	// ErrPermissionDenied reports SQL the connection's role may not run
	// (SQLSTATE 42501), such as a direct UPDATE of eventstore.events by the
	// application role, or a row that row-level security refuses.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrSchemaOutdated reports a database whose eventstore schema lacks
	// what this build of the store calls: a function, table or the schema
	// itself (SQLSTATE 42883, 42P01 or 3F000 naming the eventstore
	// schema). The database was never migrated, or was migrated by an
	// older build; apply the migrations (Migrate, or eventstore migrate
	// up). Store.CheckSchema finds the same at start-up.
	ErrSchemaOutdated = errors.New("database schema outdated")
	// ErrSerializationFailed reports an event that could not be encoded.
	ErrSerializationFailed = serde.ErrSerializationFailed
	// ErrDeserializationFailed reports stored data that could not be decoded.
	ErrDeserializationFailed = serde.ErrDeserializationFailed
	// ErrInvalidEventType reports an event type or version the serializer
	// does not know, or an event type Append refuses before any SQL runs:
	// empty, longer than 255 bytes, not valid UTF-8, or with a control
	// character (a NUL byte included).
	ErrInvalidEventType = serde.ErrInvalidEventType
	// ErrInvalidEventData reports event data that breaks the event's rules
	// or is not a JSON object.
	ErrInvalidEventData = serde.ErrInvalidEventData
)

// VersionConflictError reports an optimistic-concurrency failure. It matches
// ErrWrongExpectedVersion, and also ErrStreamNotFound (StreamExists was
// expected of a missing stream) or ErrStreamExists (NoStream was expected of
// an existing one).
type VersionConflictError struct {
	// Stream is the stream id.
	Stream string
	// Expected is what the caller expected.
	Expected ExpectedVersion
	// Actual is the stream's version, or -1 when the stream does not exist.
	Actual int64
}

// Error describes the conflict.
func (e *VersionConflictError) Error() string {
	actual := "no stream"
	if e.Actual >= 0 {
		actual = fmt.Sprintf("%d", e.Actual)
	}
	return fmt.Sprintf("wrong expected version: expected %s, actual %s", e.Expected, actual)
}

// Is matches ErrWrongExpectedVersion, and ErrStreamNotFound / ErrStreamExists
// where they describe the conflict.
func (e *VersionConflictError) Is(target error) bool {
	switch target {
	case ErrWrongExpectedVersion:
		return true
	case ErrStreamNotFound:
		return e.Actual < 0
	case ErrStreamExists:
		return e.Expected == NoStream && e.Actual >= 0
	}
	return false
}

// StreamFullError reports an append refused by a stream's event limit.
type StreamFullError struct {
	// Stream is the stream id.
	Stream string
	// Limit is the stream's maximum number of events.
	Limit int64
	// Version is the stream's current version.
	Version int64
	// Batch is the number of events that were refused.
	Batch int64
}

// Error says what happened and how to proceed.
func (e *StreamFullError) Error() string {
	return fmt.Sprintf("stream full: %d + %d events would exceed the limit of %d; "+
		"snapshot and archive the stream, or continue in a new stream", e.Version, e.Batch, e.Limit)
}

// Unwrap returns ErrStreamFull.
func (e *StreamFullError) Unwrap() error { return ErrStreamFull }

// Subscription and broadcast errors.
var (
	// ErrSubscriptionNotFound reports a persistent subscription that does
	// not exist, or whose row was deleted while a consumer ran.
	ErrSubscriptionNotFound = errors.New("subscription not found")
	// ErrSubscriptionNameTaken reports a persistent subscription name that
	// belongs to another guild (or, for a store-wide subscription, to a
	// guild): names are global, so pick another one (prefixing it with the
	// guild is a good habit). The error never says which guild holds it.
	ErrSubscriptionNameTaken = errors.New("subscription name taken")
	// ErrBroadcastOverflow reports a broadcast receiver that fell behind:
	// its queue stayed full, so it was disconnected rather than allowed to
	// miss events or hold the others back.
	ErrBroadcastOverflow = errors.New("broadcast receiver overflowed")
	// ErrBroadcasterClosed reports a broadcaster that was closed.
	ErrBroadcasterClosed = errors.New("broadcaster closed")
)

// HandlerError reports an event a subscription's handler failed to handle
// in every attempt (or that could not be decoded, when Err is a
// *DecodeError). The subscription's checkpoint stays before the event.
type HandlerError struct {
	// Subscription names the subscription.
	Subscription string
	// Event is the event that failed.
	Event Recorded
	// Attempts is the number of handler calls made (0 for a decode failure).
	Attempts int
	// Err is the handler's last error.
	Err error
}

// Error names the event and the number of attempts.
func (e *HandlerError) Error() string {
	return fmt.Sprintf("handle event %s at %q version %d (position %d) failed after %d attempts: %v",
		e.Event.Type, e.Event.StreamID, e.Event.Version, e.Event.GlobalPosition, e.Attempts, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// DecodeError reports a stored event that could not be decoded or
// translated. The raw record is kept, so nothing stored is ever lost.
type DecodeError struct {
	// Record is the stored event as read, with a nil Event.
	Record Recorded
	// Err is the serializer's or translator's error.
	Err error
}

// Error names the stream, version and type of the event.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode event %s v%d at %q version %d: %v",
		e.Record.Type, e.Record.StoredVersion, e.Record.StreamID, e.Record.Version, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// dbError is a database error mapped to one of our sentinels. It unwraps to
// both the sentinel and the original error (e.g. *pgconn.PgError).
type dbError struct {
	kind  error
	msg   string
	cause error
}

func (e *dbError) Error() string   { return e.msg }
func (e *dbError) Unwrap() []error { return []error{e.kind, e.cause} }

// sqlstate codes raised by the eventstore schema (listed in
// sql/schema/00001_tables_and_roles.sql and docs/ERRORS.md).
const (
	codeWrongExpectedVersion = "ES001"
	codeStreamNotFound       = "ES002"
	codeStreamExists         = "ES003"
	codeStreamDeleted        = "ES004"
	codeStreamArchived       = "ES005"
	codeStreamFull           = "ES006"
	codeDuplicateEvent       = "ES007"
	codeInvalidArgument      = "ES008"
	codeGuildMismatch        = "ES009"
	codeEventImmutable       = "ES010"
	codeSnapshotBeyondStream = "ES011"
	codeAdminRequired        = "ES012"
	codeConfirmationRequired = "ES013"
	codeSnapshotRequired     = "ES014"
	codeGuildRequired        = "ES015"
	// Subscriptions.
	codeSubscriptionNameTaken = "ES016"
	codeSubscriptionNotFound  = "ES017"
)

var codeKinds = map[string]error{
	codeStreamNotFound:  ErrStreamNotFound,
	codeStreamDeleted:   ErrStreamDeleted,
	codeStreamArchived:  ErrStreamArchived,
	codeDuplicateEvent:  ErrDuplicateEvent,
	codeGuildMismatch:   ErrGuildMismatch,
	codeEventImmutable:  ErrEventImmutable,
	codeInvalidArgument: ErrInvalidArgument,

	codeSnapshotBeyondStream: ErrSnapshotBeyondStream,
	codeAdminRequired:        ErrAdminRequired,
	codeConfirmationRequired: ErrConfirmationRequired,
	codeSnapshotRequired:     ErrSnapshotRequired,

	codeGuildRequired: ErrGuildRequired,

	codeSubscriptionNameTaken: ErrSubscriptionNameTaken,
	codeSubscriptionNotFound:  ErrSubscriptionNotFound,
}

var argumentKinds = map[string]error{
	"stream_id":         ErrInvalidStreamID,
	"guild_id":          ErrInvalidGuildID,
	"expected_version":  ErrInvalidExpectedVersion,
	"max_stream_events": ErrInvalidArgument,
}

// errConcurrentDuplicate marks an event id that a concurrent transaction
// stored while an append waited for its stream (the unique index refused
// it): running the append again decides whether it was a replay.
var errConcurrentDuplicate = errors.New("event id stored concurrently")

// errorDetail is the JSON DETAIL our functions attach to their errors.
type errorDetail struct {
	StreamID string `json:"stream_id"`
	Expected *int64 `json:"expected"`
	Actual   *int64 `json:"actual"`
	Argument string `json:"argument"`
	Value    any    `json:"value"`
	Limit    int64  `json:"limit"`
	Version  int64  `json:"version"`
	Batch    int64  `json:"batch"`
	Index    *int64 `json:"index"`
	Reason   string `json:"reason"`
}

// migrateHint ends the message of ErrSchemaOutdated.
const migrateHint = "(the database was never migrated, or by an older build: apply the migrations with store.Migrate, or eventstore migrate up)"

// mapError turns a database or driver error into one of the package's
// errors. It is the only place that knows SQLSTATE codes. Errors that are
// already ours, and context errors, pass through unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return mapPgError(pgErr)
	}
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		return &dbError{kind: ErrTransactionRolledBack,
			msg: "transaction rolled back: a statement in it had failed, so COMMIT rolled it back", cause: err}
	}
	if isConnectionError(err) {
		return &dbError{kind: ErrConnection, msg: "connection error: " + err.Error(), cause: err}
	}
	return err
}

func mapPgError(pgErr *pgconn.PgError) error {
	var d errorDetail
	if strings.HasPrefix(pgErr.Code, "ES") && pgErr.Detail != "" {
		_ = json.Unmarshal([]byte(pgErr.Detail), &d)
	}
	switch pgErr.Code {
	case codeWrongExpectedVersion, codeStreamExists:
		return conflictFromDetail(pgErr, d)
	case codeStreamNotFound:
		if d.Expected != nil && ExpectedVersion(*d.Expected) == StreamExists {
			return conflictFromDetail(pgErr, d)
		}
	case codeStreamFull:
		full := &StreamFullError{Stream: d.StreamID, Limit: d.Limit, Version: d.Version, Batch: d.Batch}
		return &dbError{kind: full, msg: full.Error(), cause: pgErr}
	case codeInvalidArgument:
		kind, ok := argumentKinds[d.Argument]
		if !ok && d.Argument == "events" {
			kind = ErrInvalidEventData
			if d.Index == nil {
				kind = ErrInvalidBatchSize
			}
		} else if !ok {
			kind = ErrInvalidArgument
		}
		return &dbError{kind: kind, msg: pgErr.Message, cause: pgErr}
	case "23505": // unique_violation: the constraints are the backstop
		switch pgErr.ConstraintName {
		case "events_event_id_key":
			// Stored by a transaction that committed while this append
			// waited for the stream: outside a caller's transaction the
			// append runs again and then tells a replay from a duplicate.
			return &dbError{kind: ErrDuplicateEvent, msg: "duplicate event id (stored concurrently): " + pgErr.Detail,
				cause: errors.Join(errConcurrentDuplicate, pgErr)}
		case "events_stream_version_key":
			return &dbError{kind: ErrWrongExpectedVersion, msg: "wrong expected version: concurrent append", cause: pgErr}
		}
	case "23514", "23502": // check_violation, not_null_violation: the events table's own checks of a row
		if strings.HasPrefix(pgErr.TableName, "events") {
			return &dbError{kind: ErrInvalidEventData, msg: "invalid event: " + pgErr.Message, cause: pgErr}
		}
	case "22P02", "22P05", "22021", "2202E", "54000", "22003": // invalid text/json, \u0000 in jsonb, bad encoding, array/size limits, a JSON number numeric cannot hold
		return &dbError{kind: ErrInvalidEventData, msg: "invalid event data: " + pgErr.Message, cause: pgErr}
	case "57014", "55P03": // query_canceled (statement_timeout, pg_cancel_backend), lock_not_available (lock_timeout)
		return &dbError{kind: ErrStatementCanceled, msg: "statement canceled: " + pgErr.Message, cause: pgErr}
	case "25P02": // in_failed_sql_transaction: an earlier statement aborted the transaction
		return &dbError{kind: ErrTransactionRolledBack, msg: "transaction rolled back: " + pgErr.Message, cause: pgErr}
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return &dbError{kind: ErrTransactionConflict, msg: "transaction conflict: " + pgErr.Message, cause: pgErr}
	case "42501": // insufficient_privilege, row-level security violations included
		return &dbError{kind: ErrPermissionDenied, msg: "permission denied: " + pgErr.Message, cause: pgErr}
	case "42883", "42P01", "3F000": // undefined_function, undefined_table, invalid_schema_name
		if strings.Contains(pgErr.Message, "eventstore") {
			return &dbError{kind: ErrSchemaOutdated, msg: "database schema outdated: " + pgErr.Message + " " + migrateHint, cause: pgErr}
		}
	}
	if kind, ok := codeKinds[pgErr.Code]; ok {
		return &dbError{kind: kind, msg: pgErr.Message, cause: pgErr}
	}
	if isConnectionCode(pgErr.Code) {
		return &dbError{kind: ErrConnection, msg: "connection error: " + pgErr.Message, cause: pgErr}
	}
	return pgErr
}

func conflictFromDetail(pgErr *pgconn.PgError, d errorDetail) error {
	c := &VersionConflictError{Stream: d.StreamID, Actual: -1}
	if d.Expected != nil {
		c.Expected = ExpectedVersion(*d.Expected)
	}
	if d.Actual != nil {
		c.Actual = *d.Actual
	}
	return &dbError{kind: c, msg: c.Error(), cause: pgErr}
}

// isConnectionCode reports SQLSTATEs that mean the connection or server went
// away: class 08 (connection exception), admin/crash shutdown, cannot connect
// now, too many connections.
func isConnectionCode(code string) bool {
	return strings.HasPrefix(code, "08") ||
		code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
}

func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return true
	case errors.Is(err, pgx.ErrTxClosed):
		return false
	}
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "broken pipe") || strings.Contains(s, "closed pool")
}

// opError wraps err once with the operation and stream:
// `append to stream "game-42": …`.
func opError(op, stream string, err error) error {
	if err == nil {
		return nil
	}
	if stream == "" {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s %q: %w", op, stream, err)
}

// MapError maps an error from SQL run outside the store (for example a
// direct call of eventstore.append_events in the caller's own transaction)
// to the store's errors, so errors.Is(err, ErrWrongExpectedVersion) and the
// others work on it too.
func MapError(err error) error { return mapError(err) }
