package serde

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// TypeVersion names one schema version of one event type.
type TypeVersion struct {
	// Type is the event type, e.g. "guess_processed".
	Type string
	// Version is the schema version, starting at 1.
	Version int
}

// String returns "type vN", the form used in error messages.
func (tv TypeVersion) String() string { return fmt.Sprintf("%s v%d", tv.Type, tv.Version) }

// Registry maps (event type, version) to the Go type that holds that
// version's data, and back. Register everything at start-up; after that a
// Registry is safe for concurrent use (registering while reading is also
// safe, just rarely useful).
type Registry struct {
	mu     sync.RWMutex
	byKey  map[TypeVersion]entry
	byType map[reflect.Type]TypeVersion
}

// entry is one registration: the struct type and whether the prototype was
// a pointer to it.
type entry struct {
	elem reflect.Type
	ptr  bool
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{
		byKey:  make(map[TypeVersion]entry),
		byType: make(map[reflect.Type]TypeVersion),
	}
}

// Register registers each prototype's (EventType(), EventVersion()) to its Go
// type. A prototype is a struct value (GuessProcessed{}) or a pointer to a
// struct, which may be nil ((*GuessProcessed)(nil)); New and Unmarshal
// return the same kind: a value if a value was registered, a pointer if a
// pointer was. EventType and EventVersion must not depend on field values.
//
// Register is all or nothing: if any prototype is refused, none is
// registered. The error wraps ErrInvalidEventType; it is returned for a nil
// or non-struct prototype, a Raw, an empty type, a version below 1, a
// (type, version) or Go type that is already registered, or a duplicate
// within protos.
func (r *Registry) Register(protos ...Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	pending := make(map[TypeVersion]entry, len(protos))
	pendingTypes := make(map[reflect.Type]TypeVersion, len(protos))
	for _, p := range protos {
		tv, e, err := inspect(p)
		if err != nil {
			return err
		}
		if _, dup := r.byKey[tv]; dup {
			return fmt.Errorf("%w: %s is already registered", ErrInvalidEventType, tv)
		}
		if _, dup := pending[tv]; dup {
			return fmt.Errorf("%w: %s is registered twice", ErrInvalidEventType, tv)
		}
		if old, dup := r.byType[e.elem]; dup {
			return fmt.Errorf("%w: Go type %s is already registered as %s", ErrInvalidEventType, e.elem, old)
		}
		if old, dup := pendingTypes[e.elem]; dup {
			return fmt.Errorf("%w: Go type %s is registered twice (%s)", ErrInvalidEventType, e.elem, old)
		}
		pending[tv] = e
		pendingTypes[e.elem] = tv
	}
	for tv, e := range pending {
		r.byKey[tv] = e
		r.byType[e.elem] = tv
	}
	return nil
}

// MustRegister is Register that panics on error. Use it only for wiring at
// init time, where a bad registration is a programming error.
func (r *Registry) MustRegister(protos ...Event) {
	if err := r.Register(protos...); err != nil {
		panic(err)
	}
}

// New returns a new zero event of the Go type registered for (typ, version):
// a pointer to a new struct if a pointer was registered, a struct value
// otherwise. An unregistered (typ, version) is an error wrapping
// ErrInvalidEventType.
func (r *Registry) New(typ string, version int) (Event, error) {
	e, ok := r.lookup(TypeVersion{typ, version})
	if !ok {
		return nil, fmt.Errorf("%w: %s v%d is not registered", ErrInvalidEventType, typ, version)
	}
	return e.zero().Interface().(Event), nil
}

// Has reports whether (typ, version) is registered.
func (r *Registry) Has(typ string, version int) bool {
	_, ok := r.lookup(TypeVersion{typ, version})
	return ok
}

// GoType returns the Go type registered for (typ, version): the prototype's
// type, a struct or a pointer to one.
func (r *Registry) GoType(typ string, version int) (reflect.Type, bool) {
	e, ok := r.lookup(TypeVersion{typ, version})
	if !ok {
		return nil, false
	}
	if e.ptr {
		return reflect.PointerTo(e.elem), true
	}
	return e.elem, true
}

// TypeOf returns the (type, version) ev's Go type is registered under. A
// value and a pointer of the same struct type both match.
func (r *Registry) TypeOf(ev Event) (TypeVersion, bool) {
	if ev == nil {
		return TypeVersion{}, false
	}
	t := reflect.TypeOf(ev)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	tv, ok := r.byType[t]
	return tv, ok
}

// Latest returns the highest registered version of typ, and false if no
// version of typ is registered.
func (r *Registry) Latest(typ string) (int, bool) {
	vs := r.Versions(typ)
	if len(vs) == 0 {
		return 0, false
	}
	return vs[len(vs)-1], true
}

// Versions returns the registered versions of typ in ascending order (nil if
// none).
func (r *Registry) Versions(typ string) []int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var vs []int
	for tv := range r.byKey {
		if tv.Type == typ {
			vs = append(vs, tv.Version)
		}
	}
	slices.Sort(vs)
	return vs
}

// Types returns every registered (type, version), sorted by type and then
// version.
func (r *Registry) Types() []TypeVersion {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tvs := make([]TypeVersion, 0, len(r.byKey))
	for tv := range r.byKey {
		tvs = append(tvs, tv)
	}
	slices.SortFunc(tvs, func(a, b TypeVersion) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Version, b.Version))
	})
	return tvs
}

func (r *Registry) lookup(tv TypeVersion) (entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.byKey[tv]
	return e, ok
}

// zero returns a new zero value of the registered kind.
func (e entry) zero() reflect.Value {
	if e.ptr {
		return reflect.New(e.elem)
	}
	return reflect.New(e.elem).Elem()
}

// inspect checks a prototype and returns its (type, version) and entry.
func inspect(p Event) (tv TypeVersion, e entry, err error) {
	if p == nil {
		return tv, e, fmt.Errorf("%w: nil prototype", ErrInvalidEventType)
	}
	if _, ok := asRaw(p); ok {
		return tv, e, fmt.Errorf("%w: Raw cannot be registered", ErrInvalidEventType)
	}
	t := reflect.TypeOf(p)
	e.elem, e.ptr = t, false
	if t.Kind() == reflect.Pointer {
		e.elem, e.ptr = t.Elem(), true
	}
	if e.elem.Kind() != reflect.Struct {
		return tv, e, fmt.Errorf("%w: prototype %s is not a struct or a pointer to one", ErrInvalidEventType, t)
	}
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("%w: prototype %s: EventType or EventVersion panicked: %v", ErrInvalidEventType, t, rec)
		}
	}()
	// Ask a zero value, not p: a nil pointer prototype is allowed, and the
	// answer must not depend on field values (Unmarshal starts from zero).
	z := e.zero().Interface().(Event)
	tv = TypeVersion{z.EventType(), z.EventVersion()}
	if !isNil(p) && (p.EventType() != tv.Type || p.EventVersion() != tv.Version) {
		return tv, e, fmt.Errorf("%w: prototype %s: EventType/EventVersion depend on field values", ErrInvalidEventType, t)
	}
	if tv.Type == "" {
		return tv, e, fmt.Errorf("%w: prototype %s: empty event type", ErrInvalidEventType, t)
	}
	if tv.Version < 1 {
		return tv, e, fmt.Errorf("%w: prototype %s: %s: version must be at least 1", ErrInvalidEventType, t, tv)
	}
	return tv, e, nil
}

// isNil reports whether ev is nil or a nil pointer.
func isNil(ev Event) bool {
	if ev == nil {
		return true
	}
	v := reflect.ValueOf(ev)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
