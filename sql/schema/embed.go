// Package schema holds the goose migrations that create the eventstore schema.
//
// The migrations are embedded so that the library, the CLI and the tests all
// apply exactly the same files through one code path (see store.Migrate).
package schema

import "embed"

// FS holds every migration file (00001_init.sql, …) at its root, as goose
// expects.
//
//go:embed *.sql
var FS embed.FS
