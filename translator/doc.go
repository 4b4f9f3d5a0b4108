// Package translator upgrades (and downgrades) stored event data between
// schema versions.
//
// Each event type has a set of registered versions; these are the nodes of
// a graph. Each registered migration is a directed edge from one version to
// another, a MigrationFunc that turns the JSON object of one version into
// the JSON object of the other. Translate finds the shortest path between
// two versions (breadth-first search, neighbours explored in ascending
// version order, so ties always resolve the same way) and applies the
// migrations along it in order:
//
//	tr := translator.New()
//	tr.RegisterType("guess_processed", 1, 2)
//	tr.RegisterMigration("guess_processed", 1, 2, addGuessDuration)
//	data, err := tr.Translate("guess_processed", 1, 2, stored)
//
// Migrations see JSON as encoding/json decodes it into map[string]any, with
// numbers as json.Number so integers of any size survive exactly. Output
// objects are encoded with sorted keys, so a translation is deterministic.
//
// Register everything at start-up; after that a Translator is safe for
// concurrent use. Errors wrap the sentinels in errors.go and name the type
// and versions involved; a failing migration step is a *MigrationError.
// See docs/VERSIONING.md.
package translator
