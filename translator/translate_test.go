package translator_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/translator"
	"github.com/stretchr/testify/require"
)

// setField returns a migration that sets key to value and records the step
// in "trail".
func setField(key string, value any, mark string) translator.MigrationFunc {
	return func(obj map[string]any) (map[string]any, error) {
		obj[key] = value
		trail, _ := obj["trail"].(string)
		obj["trail"] = trail + mark
		return obj, nil
	}
}

func TestTranslateChain(t *testing.T) {
	t.Parallel()
	tr := translator.New()
	require.NoError(t, tr.RegisterType("t", 1, 2, 3))
	require.NoError(t, tr.RegisterMigration("t", 1, 2, setField("b", 2, ">2")))
	require.NoError(t, tr.RegisterMigration("t", 2, 3, setField("c", 3, ">3")))
	require.NoError(t, tr.RegisterMigration("t", 3, 2, func(obj map[string]any) (map[string]any, error) {
		delete(obj, "c")
		return obj, nil
	}))
	tests := []struct {
		name     string
		from, to int
		in       string
		want     string
	}{
		{name: "one step", from: 1, to: 2, in: `{"a":1}`, want: `{"a":1,"b":2,"trail":">2"}`},
		{name: "two steps in order", from: 1, to: 3, in: `{"a":1}`, want: `{"a":1,"b":2,"c":3,"trail":">2>3"}`},
		{name: "from the middle", from: 2, to: 3, in: `{"b":2}`, want: `{"b":2,"c":3,"trail":">3"}`},
		{name: "downgrade", from: 3, to: 2, in: `{"b":2,"c":3}`, want: `{"b":2}`},
		{name: "keys sorted, no HTML escaping", from: 3, to: 2, in: `{"z":"<&>","a":{"y":1,"x":2}}`, want: `{"a":{"x":2,"y":1},"z":"<&>"}`},
		{name: "big integers exact", from: 3, to: 2, in: `{"n":123456789012345678901234567890,"f":1.50}`, want: `{"f":1.50,"n":123456789012345678901234567890}`},
		{name: "same version untouched", from: 2, to: 2, in: ` {"z":1, "a":2} `, want: ` {"z":1, "a":2} `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tr.Translate("t", tt.from, tt.to, []byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestTranslateShortcut(t *testing.T) {
	t.Parallel()
	tr := translator.New()
	require.NoError(t, tr.RegisterType("t", 1, 2, 3, 4))
	require.NoError(t, tr.RegisterMigration("t", 1, 2, setField("v", 2, ">2")))
	require.NoError(t, tr.RegisterMigration("t", 2, 3, setField("v", 3, ">3")))
	require.NoError(t, tr.RegisterMigration("t", 3, 4, setField("v", 4, ">4")))
	require.NoError(t, tr.RegisterMigration("t", 1, 3, setField("v", 3, ">1-3")))

	got, err := tr.Translate("t", 1, 4, []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, `{"trail":">1-3>4","v":4}`, string(got))
}

func TestTranslateErrors(t *testing.T) {
	t.Parallel()
	cause := errors.New("word missing")
	tr := translator.New()
	require.NoError(t, tr.RegisterType("t", 1, 2, 3, 4, 9))
	require.NoError(t, tr.RegisterMigration("t", 1, 2, noop))
	require.NoError(t, tr.RegisterMigration("t", 2, 3, func(map[string]any) (map[string]any, error) { return nil, cause }))
	require.NoError(t, tr.RegisterMigration("t", 2, 4, func(map[string]any) (map[string]any, error) { return nil, nil }))
	require.NoError(t, tr.RegisterMigration("t", 4, 1, func(map[string]any) (map[string]any, error) { panic("boom") }))
	require.NoError(t, tr.RegisterMigration("t", 3, 1, func(map[string]any) (map[string]any, error) {
		return map[string]any{"f": func() {}}, nil
	}))

	t.Run("sentinels", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name     string
			typ      string
			from, to int
			in       string
			is       error
			message  string
		}{
			{name: "unknown type", typ: "x", from: 1, to: 2, in: `{}`, is: translator.ErrUnknownType, message: "unknown event type: x (v1 to v2)"},
			{name: "unknown version", typ: "t", from: 1, to: 5, in: `{}`, is: translator.ErrUnknownVersion, message: "t v5 (v1 to v5)"},
			{name: "no path", typ: "t", from: 1, to: 9, in: `{}`, is: translator.ErrNoPath, message: "no migration path: t v1 to v9"},
			{name: "input not JSON", typ: "t", from: 1, to: 2, in: `{`, is: translator.ErrMigrationFailed, message: "migration failed: t v1 to v2: input: not valid JSON"},
			{name: "input an array", typ: "t", from: 1, to: 2, in: `[]`, is: translator.ErrMigrationFailed, message: "input: not a JSON object"},
			{name: "input null", typ: "t", from: 1, to: 2, in: `null`, is: translator.ErrMigrationFailed, message: "input: not a JSON object"},
			{name: "input with trailing data", typ: "t", from: 1, to: 2, in: `{} x`, is: translator.ErrMigrationFailed, message: "input: not valid JSON"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := tr.Translate(tt.typ, tt.from, tt.to, []byte(tt.in))
				require.Nil(t, got)
				require.ErrorIs(t, err, tt.is)
				require.ErrorContains(t, err, tt.message)
			})
		}
	})

	t.Run("failing steps", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name     string
			from, to int
			path     []int
			step     int
			message  string
		}{
			{name: "error in second step", from: 1, to: 3, path: []int{1, 2, 3}, step: 1, message: "migration failed: t v1 to v3 (step 2: v2 to v3): word missing"},
			{name: "nil result", from: 2, to: 4, path: []int{2, 4}, step: 0, message: "migration failed: t v2 to v4 (step 1: v2 to v4): migration returned nil"},
			{name: "panic", from: 4, to: 2, path: []int{4, 1, 2}, step: 0, message: "migration failed: t v4 to v2 (step 1: v4 to v1): panic: boom"},
			{name: "unencodable result", from: 3, to: 1, path: []int{3, 1}, step: 0, message: "migration failed: t v3 to v1 (step 1: v3 to v1): encode result: json: unsupported type: func()"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := tr.Translate("t", tt.from, tt.to, []byte(`{"a":1}`))
				require.ErrorIs(t, err, translator.ErrMigrationFailed)
				var me *translator.MigrationError
				require.ErrorAs(t, err, &me)
				require.Equal(t, "t", me.Type)
				require.Equal(t, tt.from, me.From)
				require.Equal(t, tt.to, me.To)
				require.Equal(t, tt.path, me.Path)
				require.Equal(t, tt.step, me.Step)
				require.EqualError(t, err, tt.message)
			})
		}
	})

	t.Run("cause is kept", func(t *testing.T) {
		t.Parallel()
		_, err := tr.Translate("t", 1, 3, []byte(`{}`))
		require.ErrorIs(t, err, cause)
	})
}

func TestTranslateNumbersAreJSONNumbers(t *testing.T) {
	t.Parallel()
	tr := translator.New()
	require.NoError(t, tr.RegisterType("t", 1, 2, 3))
	var seen []string
	record := func(obj map[string]any) (map[string]any, error) {
		seen = append(seen, fmt.Sprintf("%T", obj["n"]))
		obj["n"] = 7 // a Go int; the next step still sees a json.Number
		return obj, nil
	}
	require.NoError(t, tr.RegisterMigration("t", 1, 2, record))
	require.NoError(t, tr.RegisterMigration("t", 2, 3, record))
	_, err := tr.Translate("t", 1, 3, []byte(`{"n":1}`))
	require.NoError(t, err)
	require.Equal(t, []string{"json.Number", "json.Number"}, seen)
}

// TestTranslateGuessProcessed upcasts a stored guess_processed v1 event to
// v2, which added duration_ms (default 0) and renamed "guess" to "word".
func TestTranslateGuessProcessed(t *testing.T) {
	t.Parallel()
	tr := translator.New()
	require.NoError(t, tr.RegisterType("guess_processed", 1, 2))
	require.NoError(t, tr.RegisterMigration("guess_processed", 1, 2, func(obj map[string]any) (map[string]any, error) {
		if _, ok := obj["duration_ms"]; !ok {
			obj["duration_ms"] = json.Number("0")
		}
		guess, ok := obj["guess"].(string)
		if !ok {
			return nil, errors.New(`"guess" is missing or not a string`)
		}
		delete(obj, "guess")
		obj["word"] = guess
		return obj, nil
	}))
	require.NoError(t, tr.RegisterMigration("guess_processed", 2, 1, func(obj map[string]any) (map[string]any, error) {
		delete(obj, "duration_ms")
		obj["guess"] = obj["word"]
		delete(obj, "word")
		return obj, nil
	}))

	storedV1 := `{"game_id":"game-42","round":3,"player_id":"123456789012345678","guess":"Äpfel","timestamp":"2026-11-26T10:00:00.123456789Z"}`
	wantV2 := `{"duration_ms":0,"game_id":"game-42","player_id":"123456789012345678","round":3,"timestamp":"2026-11-26T10:00:00.123456789Z","word":"Äpfel"}`

	got, err := tr.Translate("guess_processed", 1, 2, []byte(storedV1))
	require.NoError(t, err)
	require.Equal(t, wantV2, string(got))

	back, err := tr.Translate("guess_processed", 2, 1, got)
	require.NoError(t, err)
	require.JSONEq(t, storedV1, string(back))

	_, err = tr.Translate("guess_processed", 1, 2, []byte(`{"game_id":"game-42"}`))
	var me *translator.MigrationError
	require.ErrorAs(t, err, &me)
	require.ErrorContains(t, err, `guess_processed v1 to v2 (step 1: v1 to v2): "guess" is missing`)
}

func TestTranslateConcurrent(t *testing.T) {
	t.Parallel()
	tr := translator.New()
	require.NoError(t, tr.RegisterType("t", 1, 2, 3))
	require.NoError(t, tr.RegisterMigration("t", 1, 2, setField("b", 2, ">2")))
	require.NoError(t, tr.RegisterMigration("t", 2, 3, setField("c", 3, ">3")))

	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for j := range 100 {
				in := fmt.Sprintf(`{"i":%d,"j":%d}`, i, j)
				want := fmt.Sprintf(`{"b":2,"c":3,"i":%d,"j":%d,"trail":">2>3"}`, i, j)
				got, err := tr.Translate("t", 1, 3, []byte(in))
				if err != nil || string(got) != want {
					mu.Lock()
					failures = append(failures, fmt.Sprint(string(got), err))
					mu.Unlock()
					return
				}
				_, _ = tr.Latest("t")
				_ = tr.Versions("t")
			}
		})
	}
	// Registering while others translate is safe too.
	wg.Go(func() {
		if err := tr.RegisterType("other", 1, 2); err != nil {
			mu.Lock()
			failures = append(failures, err.Error())
			mu.Unlock()
		}
	})
	wg.Wait()
	require.Empty(t, failures, strings.Join(failures, "\n"))
}
