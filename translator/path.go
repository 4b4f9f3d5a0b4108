package translator

import (
	"fmt"
	"maps"
	"slices"
)

// Path returns the shortest chain of versions from from to to, both
// included ([from] when they are equal). Among shortest chains, the one
// found by exploring neighbours in ascending version order wins, so the
// answer never changes between calls. Cycles are fine. An unregistered
// type wraps ErrUnknownType, an unregistered version ErrUnknownVersion, and
// an unreachable to ErrNoPath; messages name the type, from and to.
func (t *Translator) Path(typ string, from, to int) ([]int, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, path, err := t.path(typ, from, to)
	return path, err
}

// path is Path for a caller that holds t.mu; it also returns the graph.
func (t *Translator) path(typ string, from, to int) (*graph, []int, error) {
	g, err := t.graphFor(typ, from, to)
	if err != nil {
		return nil, nil, err
	}
	path := g.shortest(from, to)
	if path == nil {
		return nil, nil, fmt.Errorf("%w: %s v%d to v%d", ErrNoPath, typ, from, to)
	}
	return g, path, nil
}

// shortest runs a breadth-first search from from and returns the path to
// to, or nil if to is unreachable. Each version is visited once, so the
// search ends on any graph.
func (g *graph) shortest(from, to int) []int {
	prev := map[int]int{from: from}
	queue := []int{from}
	for len(queue) > 0 && !has(prev, to) {
		v := queue[0]
		queue = queue[1:]
		for _, n := range slices.Sorted(maps.Keys(g.edges[v])) {
			if !has(prev, n) {
				prev[n] = v
				queue = append(queue, n)
			}
		}
	}
	if !has(prev, to) {
		return nil
	}
	path := []int{to}
	for v := to; v != from; {
		v = prev[v]
		path = append(path, v)
	}
	slices.Reverse(path)
	return path
}

func has(m map[int]int, k int) bool {
	_, ok := m[k]
	return ok
}
