package store

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gamebot/eventstore/sql/schema"
)

// CheckSchema reports whether the database has every function of the
// eventstore schema that this build's migrations create: nil when it has,
// else ErrSchemaOutdated naming the functions it lacks (or saying that it
// has no eventstore schema at all). Call it at start-up to fail at once on
// a database that was never migrated, or was migrated by an older build,
// rather than on the first call that needs what is missing (which fails
// with ErrSchemaOutdated too). Any role may call it: it reads only the
// catalog. It compares names; a migration that only changes a function's
// body is not told apart.
func (s *Store) CheckSchema(ctx context.Context) error {
	have, err := s.q.SchemaFunctionNames(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", mapError(err))
	}
	if len(have) == 0 {
		// Nothing at all: say whether the schema itself is missing.
		present, err := s.q.SchemaExists(ctx)
		if err != nil {
			return fmt.Errorf("check schema: %w", mapError(err))
		}
		if !present {
			return &dbError{kind: ErrSchemaOutdated, msg: "database schema outdated: the database has no eventstore schema " + migrateHint}
		}
	}
	slices.Sort(have) // the catalog returns them in no particular order
	var missing []string
	for _, name := range schemaFunctions() {
		if _, found := slices.BinarySearch(have, name); !found {
			missing = append(missing, "eventstore."+name)
		}
	}
	if len(missing) > 0 {
		return &dbError{kind: ErrSchemaOutdated, msg: fmt.Sprintf("database schema outdated: the database lacks %s %s",
			strings.Join(missing, ", "), migrateHint)}
	}
	return nil
}

var (
	// migrationFunction finds a function that an Up section creates or
	// drops.
	migrationFunction = regexp.MustCompile(`(?i)\b(CREATE\s+(?:OR\s+REPLACE\s+)?|DROP\s+)FUNCTION\s+(?:IF\s+EXISTS\s+)?eventstore\.(\w+)\s*\(`)
	// sqlLineComment is a "--" comment to the end of its line.
	sqlLineComment = regexp.MustCompile(`--[^\n]*`)
)

// schemaFunctions lists, sorted, the functions of the eventstore schema
// that the embedded migrations leave after their Up sections have run in
// order.
var schemaFunctions = sync.OnceValue(func() []string {
	names, err := fs.Glob(schema.FS, "*.sql")
	if err != nil {
		panic(err) // a constant pattern
	}
	slices.Sort(names) // goose's order: the numbered prefixes
	set := map[string]bool{}
	for _, name := range names {
		b, err := fs.ReadFile(schema.FS, name)
		if err != nil {
			panic(fmt.Sprintf("embedded migration %s: %v", name, err))
		}
		up := string(b)
		if i := strings.Index(up, "-- +goose Down"); i >= 0 {
			up = up[:i]
		}
		up = sqlLineComment.ReplaceAllString(up, "")
		for _, m := range migrationFunction.FindAllStringSubmatch(up, -1) {
			set[m[2]] = !strings.HasPrefix(strings.ToUpper(m[1]), "DROP")
		}
	}
	var out []string
	for name, present := range set {
		if present {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
})
