package translator_test

import (
	"testing"

	"github.com/gamebot/eventstore/translator"
	"github.com/stretchr/testify/require"
)

// edge is one migration in a test graph.
type edge struct{ from, to int }

// graph returns a translator with type "t", the given versions, and a no-op
// migration for each edge.
func graph(t *testing.T, versions []int, edges ...edge) *translator.Translator {
	t.Helper()
	tr := translator.New()
	require.NoError(t, tr.RegisterType("t", versions...))
	for _, e := range edges {
		require.NoError(t, tr.RegisterMigration("t", e.from, e.to, noop))
	}
	return tr
}

func TestPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		versions []int
		edges    []edge
		from, to int
		want     []int
	}{
		{name: "same version", versions: []int{1}, from: 1, to: 1, want: []int{1}},
		{name: "one edge", versions: []int{1, 2}, edges: []edge{{1, 2}}, from: 1, to: 2, want: []int{1, 2}},
		{name: "chain", versions: []int{1, 2, 3}, edges: []edge{{1, 2}, {2, 3}}, from: 1, to: 3, want: []int{1, 2, 3}},
		{name: "shortcut taken", versions: []int{1, 2, 3, 4}, edges: []edge{{1, 2}, {2, 3}, {3, 4}, {1, 3}}, from: 1, to: 4, want: []int{1, 3, 4}},
		{name: "downgrade", versions: []int{1, 2, 3}, edges: []edge{{1, 2}, {2, 3}, {3, 2}, {2, 1}}, from: 3, to: 1, want: []int{3, 2, 1}},
		{name: "tie goes to the lower version", versions: []int{1, 2, 3, 4}, edges: []edge{{1, 3}, {1, 2}, {3, 4}, {2, 4}}, from: 1, to: 4, want: []int{1, 2, 4}},
		{name: "cycle", versions: []int{1, 2, 3, 4}, edges: []edge{{1, 2}, {2, 3}, {3, 1}, {3, 4}}, from: 2, to: 4, want: []int{2, 3, 4}},
		{name: "path through a higher version", versions: []int{1, 2, 3}, edges: []edge{{1, 3}, {3, 2}}, from: 1, to: 2, want: []int{1, 3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := graph(t, tt.versions, tt.edges...)
			for range 5 {
				got, err := tr.Path("t", tt.from, tt.to)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			}
		})
	}
}

func TestPathErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		typ      string
		from, to int
		is       error
		message  string
	}{
		{name: "unknown type", typ: "nope", from: 1, to: 2, is: translator.ErrUnknownType, message: "unknown event type: nope (v1 to v2)"},
		{name: "unknown from", typ: "t", from: 7, to: 2, is: translator.ErrUnknownVersion, message: "unknown event version: t v7 (v7 to v2)"},
		{name: "unknown to", typ: "t", from: 1, to: 7, is: translator.ErrUnknownVersion, message: "unknown event version: t v7 (v1 to v7)"},
		{name: "unreachable", typ: "t", from: 1, to: 5, is: translator.ErrNoPath, message: "no migration path: t v1 to v5"},
		{name: "wrong direction", typ: "t", from: 3, to: 1, is: translator.ErrNoPath, message: "no migration path: t v3 to v1"},
		{name: "cycle without exit", typ: "t", from: 4, to: 1, is: translator.ErrNoPath, message: "no migration path: t v4 to v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// 1 → 2 → 3 → 4 → 2 is a cycle that never leads back to 1; 5 is
			// isolated.
			tr := graph(t, []int{1, 2, 3, 4, 5}, edge{1, 2}, edge{2, 3}, edge{3, 4}, edge{4, 2})
			path, err := tr.Path(tt.typ, tt.from, tt.to)
			require.Nil(t, path)
			require.ErrorIs(t, err, tt.is)
			require.EqualError(t, err, tt.message)
		})
	}
}
