package events

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// checker collects the first broken rule of one event.
type checker struct {
	typ string // the event's type and version, for FieldError
	ver int
	err error
}

// failf records a broken rule on field unless one is recorded already.
func (c *checker) failf(field, format string, args ...any) {
	if c.err != nil {
		return
	}
	c.err = &FieldError{
		EventType:    c.typ,
		EventVersion: c.ver,
		Field:        field,
		Reason:       fmt.Sprintf(format, args...),
	}
}

// require records "required" on field when s is blank.
func (c *checker) require(field, s string) {
	if strings.TrimSpace(s) == "" {
		c.failf(field, "required")
	}
}

// nonNegative records a broken rule on field when n < 0.
func (c *checker) nonNegative(field string, n int64) {
	if n < 0 {
		c.failf(field, "must not be negative, got %d", n)
	}
}

// ids records a broken rule when any member of ids is blank.
func (c *checker) ids(field string, ids []string) {
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			c.failf(key(field, id), "required")
		}
	}
}

// mode records a broken rule when the event's mode is not want.
func (c *checker) mode(got, want Mode) {
	if got.Valid() && got != want {
		c.failf("mode", "%s events are only valid in %s mode, got %s", c.typ, want, got)
	}
}

// key formats a map member's path, e.g. teams["red"].
func key(field, k string) string { return fmt.Sprintf("%s[%q]", field, k) }

// sortedKeys returns m's keys in ascending order, so checks over maps are
// deterministic.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
