package serde

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Set is a set of ordered values whose JSON form is a sorted array, so a
// set encodes to the same bytes whatever order its members were added in.
// An empty set encodes as []. Decoding accepts the members in any order
// and null (as the empty set), and refuses duplicate members with an error
// wrapping ErrInvalidEventData: an encoded Set never holds duplicates, so
// one that does was not written by this package.
//
// The zero Set is empty and ready to use. Like a map, copies of a non-empty
// Set share their members; use Clone for an independent copy. A Set is not
// safe for concurrent writes. Two sets built from the same members are
// equal under reflect.DeepEqual (an empty Set holds no map at all).
type Set[T cmp.Ordered] struct {
	m map[T]struct{}
}

// NewSet returns a set holding items; duplicates are kept once.
func NewSet[T cmp.Ordered](items ...T) Set[T] {
	var s Set[T]
	s.Add(items...)
	return s
}

// Add adds items to s.
func (s *Set[T]) Add(items ...T) {
	if len(items) == 0 {
		return
	}
	if s.m == nil {
		s.m = make(map[T]struct{}, len(items))
	}
	for _, it := range items {
		s.m[it] = struct{}{}
	}
}

// Delete removes items from s; absent items are ignored.
func (s *Set[T]) Delete(items ...T) {
	for _, it := range items {
		delete(s.m, it)
	}
	if len(s.m) == 0 {
		s.m = nil
	}
}

// Has reports whether item is in s.
func (s Set[T]) Has(item T) bool {
	_, ok := s.m[item]
	return ok
}

// Len returns the number of members of s.
func (s Set[T]) Len() int { return len(s.m) }

// Sorted returns the members of s in ascending order; never nil.
func (s Set[T]) Sorted() []T {
	out := slices.AppendSeq(make([]T, 0, len(s.m)), maps.Keys(s.m))
	slices.Sort(out)
	return out
}

// Clone returns an independent copy of s.
func (s Set[T]) Clone() Set[T] {
	return Set[T]{m: maps.Clone(s.m)}
}

// Equal reports whether s and o have the same members.
func (s Set[T]) Equal(o Set[T]) bool {
	if len(s.m) != len(o.m) {
		return false
	}
	for k := range s.m {
		if _, ok := o.m[k]; !ok {
			return false
		}
	}
	return true
}

// MarshalJSON encodes s as a sorted JSON array.
func (s Set[T]) MarshalJSON() ([]byte, error) {
	if b, ok := s.appendJSON(nil); ok {
		return b, nil
	}
	return encodeJSON(s.Sorted())
}

// UnmarshalJSON decodes a JSON array (or null, the empty set) into s,
// replacing its members. A duplicate member is an error wrapping
// ErrInvalidEventData; on any error s is left unchanged.
func (s *Set[T]) UnmarshalJSON(data []byte) error {
	if s.decodeStrings(data) {
		return nil
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*s = Set[T]{}
		return nil
	}
	var items []T
	if err := json.Unmarshal(data, &items); err != nil {
		return err
	}
	var out Set[T]
	for _, it := range items {
		if out.Has(it) {
			return fmt.Errorf("%w: duplicate set member %#v", ErrInvalidEventData, it)
		}
		out.Add(it)
	}
	*s = out
	return nil
}
