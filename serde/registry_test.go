package serde_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

// named is a non-struct Event.
type named string

func (named) EventType() string { return "named" }
func (named) EventVersion() int { return 1 }

// emptyType has an empty event type.
type emptyType struct{}

func (emptyType) EventType() string { return "" }
func (emptyType) EventVersion() int { return 1 }

// versionZero has version 0.
type versionZero struct{}

func (versionZero) EventType() string { return "version_zero" }
func (versionZero) EventVersion() int { return 0 }

// fieldDependent derives its type from a field, which Register refuses.
type fieldDependent struct{ Kind string }

func (f fieldDependent) EventType() string { return "dep_" + f.Kind }
func (fieldDependent) EventVersion() int   { return 1 }

// panicky panics when asked its type on a zero value.
type panicky struct{ p *string }

func (p panicky) EventType() string { return *p.p }
func (panicky) EventVersion() int   { return 1 }

func TestRegistryRegister(t *testing.T) {
	t.Parallel()
	kind := "x"
	tests := []struct {
		name    string
		protos  []serde.Event
		wantErr string // empty: success
	}{
		{name: "value", protos: []serde.Event{guessProcessed{}}},
		{name: "pointer", protos: []serde.Event{&guessProcessed{}}},
		{name: "nil pointer", protos: []serde.Event{(*guessProcessed)(nil)}},
		{name: "several", protos: []serde.Event{guessProcessed{}, (*guessProcessedV2)(nil), gameStarted{}}},
		{name: "nil", protos: []serde.Event{nil}, wantErr: "nil prototype"},
		{name: "not a struct", protos: []serde.Event{named("a")}, wantErr: "not a struct"},
		{name: "raw", protos: []serde.Event{serde.Raw{Type: "a", Version: 1}}, wantErr: "Raw cannot be registered"},
		{name: "empty type", protos: []serde.Event{emptyType{}}, wantErr: "empty event type"},
		{name: "version zero", protos: []serde.Event{versionZero{}}, wantErr: "version_zero v0: version must be at least 1"},
		{name: "duplicate in one call", protos: []serde.Event{guessProcessed{}, &guessProcessed{}}, wantErr: "guess_processed v1 is registered twice"},
		{name: "field dependent", protos: []serde.Event{fieldDependent{Kind: kind}}, wantErr: "depend on field values"},
		{name: "panicking methods", protos: []serde.Event{panicky{p: &kind}}, wantErr: "panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := serde.NewRegistry()
			err := reg.Register(tt.protos...)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Len(t, reg.Types(), len(tt.protos))
				return
			}
			require.ErrorIs(t, err, serde.ErrInvalidEventType)
			require.ErrorContains(t, err, tt.wantErr)
			require.Empty(t, reg.Types(), "a refused Register registers nothing")
		})
	}
}

func TestRegistryRegisterDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t)

	err := b.reg.Register(&guessProcessed{})
	require.ErrorIs(t, err, serde.ErrInvalidEventType)
	require.ErrorContains(t, err, "guess_processed v1 is already registered")

	// All or nothing: the valid prototype before the duplicate is not kept.
	err = b.reg.Register(unregistered{}, gameStarted{})
	require.ErrorIs(t, err, serde.ErrInvalidEventType)
	require.False(t, b.reg.Has("unregistered", 1))
}

func TestRegistryMustRegister(t *testing.T) {
	t.Parallel()
	reg := serde.NewRegistry()
	require.NotPanics(t, func() { reg.MustRegister(guessProcessed{}) })
	require.Panics(t, func() { reg.MustRegister(guessProcessed{}) })
}

func TestRegistryNew(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name    string
		typ     string
		version int
		want    serde.Event
	}{
		{name: "value registered", typ: "guess_processed", version: 1, want: guessProcessed{}},
		{name: "pointer registered", typ: "guess_processed", version: 2, want: &guessProcessedV2{}},
		{name: "other type", typ: "game_started", version: 1, want: gameStarted{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := b.reg.New(tt.typ, tt.version)
			require.NoError(t, err)
			require.Equal(t, tt.want, ev)
		})
	}

	t.Run("pointers are fresh", func(t *testing.T) {
		t.Parallel()
		a, err := b.reg.New("guess_processed", 2)
		require.NoError(t, err)
		c, err := b.reg.New("guess_processed", 2)
		require.NoError(t, err)
		require.NotSame(t, a, c)
	})

	t.Run("unregistered", func(t *testing.T) {
		t.Parallel()
		_, err := b.reg.New("guess_processed", 3)
		require.ErrorIs(t, err, serde.ErrInvalidEventType)
		require.ErrorContains(t, err, "guess_processed v3")
	})
}

func TestRegistryLookups(t *testing.T) {
	t.Parallel()
	b := setup(t)

	require.Equal(t, []serde.TypeVersion{
		{Type: "game_started", Version: 1},
		{Type: "guess_processed", Version: 1},
		{Type: "guess_processed", Version: 2},
	}, b.reg.Types())

	latest, ok := b.reg.Latest("guess_processed")
	require.True(t, ok)
	require.Equal(t, 2, latest)
	_, ok = b.reg.Latest("nope")
	require.False(t, ok)

	require.Equal(t, []int{1, 2}, b.reg.Versions("guess_processed"))
	require.Nil(t, b.reg.Versions("nope"))

	require.True(t, b.reg.Has("game_started", 1))
	require.False(t, b.reg.Has("game_started", 2))

	gt, ok := b.reg.GoType("guess_processed", 2)
	require.True(t, ok)
	require.Equal(t, "*serde_test.guessProcessedV2", gt.String())
	_, ok = b.reg.GoType("game_started", 9)
	require.False(t, ok)

	tv, ok := b.reg.TypeOf(&guessProcessed{})
	require.True(t, ok)
	require.Equal(t, serde.TypeVersion{Type: "guess_processed", Version: 1}, tv)
	require.Equal(t, "guess_processed v1", tv.String())
	_, ok = b.reg.TypeOf(unregistered{})
	require.False(t, ok)
	_, ok = b.reg.TypeOf(nil)
	require.False(t, ok)
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	errs := make(chan error, 17)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 100 {
				if _, err := b.reg.New("guess_processed", 1+j%2); err != nil {
					errs <- err
					return
				}
				_ = b.reg.Types()
				_, _ = b.reg.Latest("game_started")
				data, err := b.json.Marshal(gameStarted{GameID: fmt.Sprint(i, j), Mode: race})
				if err != nil {
					errs <- err
					return
				}
				if _, err := b.json.Unmarshal("game_started", 1, data); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Registering while others read is safe too.
	wg.Go(func() {
		if err := b.reg.Register(unregistered{}); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.True(t, b.reg.Has("unregistered", 1))
}
