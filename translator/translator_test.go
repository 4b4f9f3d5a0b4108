package translator_test

import (
	"testing"

	"github.com/gamebot/eventstore/translator"
	"github.com/stretchr/testify/require"
)

// noop is a migration that returns its input.
func noop(obj map[string]any) (map[string]any, error) { return obj, nil }

func TestRegisterType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		typ      string
		versions []int
		want     []int
		is       error
		message  string
	}{
		{name: "one version", typ: "a", versions: []int{1}, want: []int{1}},
		{name: "unordered versions", typ: "a", versions: []int{3, 1, 2}, want: []int{1, 2, 3}},
		{name: "empty type", typ: "", versions: []int{1}, is: translator.ErrInvalidRegistration, message: "empty event type"},
		{name: "no versions", typ: "a", is: translator.ErrInvalidRegistration, message: "a: no versions"},
		{name: "version zero", typ: "a", versions: []int{1, 0}, is: translator.ErrInvalidRegistration, message: "a v0"},
		{name: "negative version", typ: "a", versions: []int{-2}, is: translator.ErrInvalidRegistration, message: "a v-2"},
		{name: "duplicate in one call", typ: "a", versions: []int{1, 2, 1}, is: translator.ErrDuplicate, message: "a v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := translator.New()
			err := tr.RegisterType(tt.typ, tt.versions...)
			if tt.is == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, tr.Versions(tt.typ))
				latest, ok := tr.Latest(tt.typ)
				require.True(t, ok)
				require.Equal(t, tt.want[len(tt.want)-1], latest)
				return
			}
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.message)
			require.Nil(t, tr.Versions(tt.typ), "a refused registration registers nothing")
		})
	}

	t.Run("adding versions later", func(t *testing.T) {
		t.Parallel()
		tr := translator.New()
		require.NoError(t, tr.RegisterType("a", 2))
		require.NoError(t, tr.RegisterType("a", 1, 5))
		require.Equal(t, []int{1, 2, 5}, tr.Versions("a"))
		latest, ok := tr.Latest("a")
		require.True(t, ok)
		require.Equal(t, 5, latest)

		err := tr.RegisterType("a", 3, 2)
		require.ErrorIs(t, err, translator.ErrDuplicate)
		require.Equal(t, []int{1, 2, 5}, tr.Versions("a"), "v3 is not kept when v2 is refused")
	})

	t.Run("unknown type", func(t *testing.T) {
		t.Parallel()
		tr := translator.New()
		_, ok := tr.Latest("nope")
		require.False(t, ok)
		require.Nil(t, tr.Versions("nope"))
	})
}

func TestRegisterMigration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		typ      string
		from, to int
		fn       translator.MigrationFunc
		is       error
		message  string
	}{
		{name: "upgrade", typ: "a", from: 1, to: 2, fn: noop},
		{name: "downgrade", typ: "a", from: 3, to: 1, fn: noop},
		{name: "unknown type", typ: "b", from: 1, to: 2, fn: noop, is: translator.ErrUnknownType, message: "unknown event type: b (v1 to v2)"},
		{name: "unknown from", typ: "a", from: 4, to: 2, fn: noop, is: translator.ErrUnknownVersion, message: "a v4 (v4 to v2)"},
		{name: "unknown to", typ: "a", from: 1, to: 9, fn: noop, is: translator.ErrUnknownVersion, message: "a v9 (v1 to v9)"},
		{name: "same version", typ: "a", from: 2, to: 2, fn: noop, is: translator.ErrInvalidRegistration, message: "a v2 to v2"},
		{name: "nil func", typ: "a", from: 1, to: 2, is: translator.ErrInvalidRegistration, message: "nil migration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := translator.New()
			require.NoError(t, tr.RegisterType("a", 1, 2, 3))
			err := tr.RegisterMigration(tt.typ, tt.from, tt.to, tt.fn)
			if tt.is == nil {
				require.NoError(t, err)
				path, err := tr.Path(tt.typ, tt.from, tt.to)
				require.NoError(t, err)
				require.Equal(t, []int{tt.from, tt.to}, path)
				return
			}
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.message)
		})
	}

	t.Run("duplicate edge", func(t *testing.T) {
		t.Parallel()
		tr := translator.New()
		require.NoError(t, tr.RegisterType("a", 1, 2))
		require.NoError(t, tr.RegisterMigration("a", 1, 2, noop))
		err := tr.RegisterMigration("a", 1, 2, noop)
		require.ErrorIs(t, err, translator.ErrDuplicate)
		require.ErrorContains(t, err, "migration a v1 to v2")
		require.NoError(t, tr.RegisterMigration("a", 2, 1, noop), "the reverse edge is a different edge")
	})
}
