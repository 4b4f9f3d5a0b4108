package translator

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// MigrationFunc turns the JSON object of one version of an event into the
// JSON object of another. obj is decoded with json.Number for numbers and
// belongs to the function, which may modify and return it. A nil result
// without an error is a failure.
type MigrationFunc func(obj map[string]any) (map[string]any, error)

// Translator holds, per event type, the registered versions and the
// migrations between them. The zero value is not usable; call New. After
// registration it is safe for concurrent use.
type Translator struct {
	mu    sync.RWMutex
	types map[string]*graph
}

// graph is one event type: its versions and its edges, edges[from][to].
type graph struct {
	versions map[int]struct{}
	edges    map[int]map[int]MigrationFunc
}

// New returns an empty Translator.
func New() *Translator {
	return &Translator{types: make(map[string]*graph)}
}

// RegisterType registers versions of typ; it may be called again to add
// more versions. An empty type, no versions or a version below 1 wrap
// ErrInvalidRegistration; a version registered before (or twice in one
// call) wraps ErrDuplicate. On error nothing is registered.
func (t *Translator) RegisterType(typ string, versions ...int) error {
	if typ == "" {
		return fmt.Errorf("%w: empty event type", ErrInvalidRegistration)
	}
	if len(versions) == 0 {
		return fmt.Errorf("%w: %s: no versions", ErrInvalidRegistration, typ)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.types[typ]
	seen := make(map[int]struct{}, len(versions))
	for _, v := range versions {
		if v < 1 {
			return fmt.Errorf("%w: %s v%d: version must be at least 1", ErrInvalidRegistration, typ, v)
		}
		_, again := seen[v]
		if g != nil {
			_, old := g.versions[v]
			again = again || old
		}
		if again {
			return fmt.Errorf("%w: %s v%d", ErrDuplicate, typ, v)
		}
		seen[v] = struct{}{}
	}
	if g == nil {
		g = &graph{versions: make(map[int]struct{}), edges: make(map[int]map[int]MigrationFunc)}
		t.types[typ] = g
	}
	maps.Copy(g.versions, seen)
	return nil
}

// RegisterMigration registers fn as the edge from version from to version
// to of typ. Upgrades (from < to) and downgrades (from > to) are both
// allowed; the two directions are separate edges. An unregistered type
// wraps ErrUnknownType, an unregistered version ErrUnknownVersion, from ==
// to or a nil fn ErrInvalidRegistration, and an edge registered before
// ErrDuplicate.
func (t *Translator) RegisterMigration(typ string, from, to int, fn MigrationFunc) error {
	if fn == nil {
		return fmt.Errorf("%w: %s v%d to v%d: nil migration", ErrInvalidRegistration, typ, from, to)
	}
	if from == to {
		return fmt.Errorf("%w: %s v%d to v%d: migration to the same version", ErrInvalidRegistration, typ, from, to)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g, err := t.graphFor(typ, from, to)
	if err != nil {
		return err
	}
	if _, dup := g.edges[from][to]; dup {
		return fmt.Errorf("%w: migration %s v%d to v%d", ErrDuplicate, typ, from, to)
	}
	if g.edges[from] == nil {
		g.edges[from] = make(map[int]MigrationFunc)
	}
	g.edges[from][to] = fn
	return nil
}

// Latest returns the highest registered version of typ, and false if typ is
// not registered.
func (t *Translator) Latest(typ string) (int, bool) {
	vs := t.Versions(typ)
	if len(vs) == 0 {
		return 0, false
	}
	return vs[len(vs)-1], true
}

// Versions returns the registered versions of typ in ascending order (nil
// if typ is not registered).
func (t *Translator) Versions(typ string) []int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	g := t.types[typ]
	if g == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(g.versions))
}

// graphFor returns typ's graph after checking that from and to are
// registered versions. The caller holds t.mu.
func (t *Translator) graphFor(typ string, from, to int) (*graph, error) {
	g := t.types[typ]
	if g == nil {
		return nil, fmt.Errorf("%w: %s (v%d to v%d)", ErrUnknownType, typ, from, to)
	}
	for _, v := range []int{from, to} {
		if _, ok := g.versions[v]; !ok {
			return nil, fmt.Errorf("%w: %s v%d (v%d to v%d)", ErrUnknownVersion, typ, v, from, to)
		}
	}
	return g, nil
}
