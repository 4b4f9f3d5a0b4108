package translator

import (
	"errors"
	"fmt"
)

// Errors returned by a Translator. Each is wrapped with the type and
// versions involved, so errors.Is works on the result.
var (
	// ErrUnknownType reports an event type that was never registered.
	ErrUnknownType = errors.New("unknown event type")
	// ErrUnknownVersion reports a version that is not registered for its
	// type.
	ErrUnknownVersion = errors.New("unknown event version")
	// ErrNoPath reports that no chain of migrations leads from one version
	// to the other.
	ErrNoPath = errors.New("no migration path")
	// ErrDuplicate reports a version or migration that is already
	// registered.
	ErrDuplicate = errors.New("already registered")
	// ErrInvalidRegistration reports a registration with an empty type, a
	// version below 1, a migration from a version to itself or a nil
	// MigrationFunc.
	ErrInvalidRegistration = errors.New("invalid registration")
	// ErrMigrationFailed reports data that could not be translated: input
	// that is not a JSON object, or a failing migration step (then the
	// error is a *MigrationError).
	ErrMigrationFailed = errors.New("migration failed")
)

// MigrationError reports a migration step that failed while translating
// Type from version From to version To. Path is the whole route and Step
// the index of the failing edge in it: the edge Path[Step] → Path[Step+1].
// It matches ErrMigrationFailed and its cause with errors.Is.
type MigrationError struct {
	// Type is the event type.
	Type string
	// From is the version the data was translated from.
	From int
	// To is the version the data was translated to.
	To int
	// Path is every version on the route, From first and To last.
	Path []int
	// Step is the index of the failing edge in Path.
	Step int
	// Err is the cause: the migration's error, a panic in it, or output
	// that could not be encoded as a JSON object.
	Err error
}

// Error names the type, the whole translation and the failing step.
func (e *MigrationError) Error() string {
	step := ""
	if e.Step >= 0 && e.Step+1 < len(e.Path) {
		step = fmt.Sprintf(" (step %d: v%d to v%d)", e.Step+1, e.Path[e.Step], e.Path[e.Step+1])
	}
	return fmt.Sprintf("%s: %s v%d to v%d%s: %v", ErrMigrationFailed, e.Type, e.From, e.To, step, e.Err)
}

// Unwrap returns ErrMigrationFailed and the cause.
func (e *MigrationError) Unwrap() []error { return []error{ErrMigrationFailed, e.Err} }
