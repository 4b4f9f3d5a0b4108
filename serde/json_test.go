package serde_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

func mustTime(t testing.TB, s string) serde.Time {
	t.Helper()
	ts, err := serde.ParseTime(s)
	require.NoError(t, err)
	return ts
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	berlin := time.FixedZone("CET", 3600)
	many := make([]string, 10_000)
	for i := range many {
		many[i] = fmt.Sprintf("player-%05d", i)
	}
	tests := []struct {
		name string
		ev   serde.Event
	}{
		{name: "nanosecond time", ev: guessProcessed{
			GameID: "g1", Round: 1, Player: "p1", Word: "apple", Mode: twoPlayer,
			Players:   serde.NewSet("p1", "p2"),
			Timestamp: mustTime(t, "2026-11-26T10:00:00.123456789Z"),
		}},
		{name: "non-UTC time", ev: guessProcessed{
			GameID: "g1", Round: 2, Word: "pear", Mode: knockout,
			Timestamp: serde.NewTime(time.Date(2026, 11, 26, 11, 0, 0, 1, berlin)),
		}},
		{name: "zero time and empty set", ev: guessProcessed{Round: 1, Word: "w", Mode: race}},
		{name: "large set", ev: guessProcessed{Round: 1, Word: "w", Mode: race, Players: serde.NewSet(many...)}},
		{name: "unicode", ev: guessProcessed{
			GameID: "игра-1", Round: 1, Player: "🦊 Ünïcødé", Word: "naïve café <b>&</b> \u2028 \"q\" \\ 日本語 עברית e\u0301",
			Mode: twoPlayer, Players: serde.NewSet("😀", "a", "Ω"),
		}},
		{name: "pointer type", ev: &guessProcessedV2{
			GameID: "g2", Word: "kiwi", DurationMS: 1500, Scores: map[string]int{"b": 2, "a": 1},
			Extra:     map[string]any{"big": json.Number("12345678901234567890"), "nested": map[string]any{"z": true, "y": nil}},
			Timestamp: mustTime(t, "2026-01-02T03:04:05Z"),
		}},
		{name: "set of ints", ev: gameStarted{
			GameID: "g3", Mode: race, Teams: serde.NewSet(3, -1, 2), Words: []string{"b", "a"},
			StartedAt: mustTime(t, "0001-01-01T00:00:00Z"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := b.json.Marshal(tt.ev)
			require.NoError(t, err)
			require.NoError(t, serde.CheckObject(data))

			got, err := b.json.Unmarshal(tt.ev.EventType(), tt.ev.EventVersion(), data)
			require.NoError(t, err)
			require.Equal(t, tt.ev, got)

			again, err := b.json.Marshal(got)
			require.NoError(t, err)
			require.Equal(t, string(data), string(again), "re-encoding a decoded event gives the same bytes")
		})
	}
}

func TestJSONEncoding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cet := time.FixedZone("CET", 3600)
	ev := guessProcessed{
		GameID: "g1", Round: 3, Player: "p<1>", Word: "apple", Mode: knockout,
		Players:   serde.NewSet("zed", "amy", "bob"),
		Timestamp: serde.Time{Time: time.Date(2026, 11, 26, 11, 0, 0, 123456789, cet)},
	}
	want := `{"game_id":"g1","round":3,"player":"p<1>","word":"apple","mode":"knockout",` +
		`"players":["amy","bob","zed"],"timestamp":"2026-11-26T10:00:00.123456789Z"}`

	data, err := b.json.Marshal(ev)
	require.NoError(t, err)
	require.Equal(t, want, string(data))

	t.Run("same event twice", func(t *testing.T) {
		t.Parallel()
		for range 10 {
			again, err := b.json.Marshal(ev)
			require.NoError(t, err)
			require.Equal(t, want, string(again))
		}
	})

	t.Run("set built in another order", func(t *testing.T) {
		t.Parallel()
		other := ev
		other.Players = serde.NewSet[string]()
		other.Players.Add("bob")
		other.Players.Add("zed", "amy", "bob")
		again, err := b.json.Marshal(other)
		require.NoError(t, err)
		require.Equal(t, want, string(again))
	})

	t.Run("pointer and value encode alike", func(t *testing.T) {
		t.Parallel()
		again, err := b.json.Marshal(&ev)
		require.NoError(t, err)
		require.Equal(t, want, string(again))
	})

	t.Run("map keys sorted", func(t *testing.T) {
		t.Parallel()
		scores := map[string]int{}
		for _, k := range []string{"m", "c", "x", "a", "q"} {
			scores[k] = len(k)
		}
		got, err := b.json.Marshal(&guessProcessedV2{Word: "w", Scores: scores})
		require.NoError(t, err)
		require.Contains(t, string(got), `"scores":{"a":1,"c":1,"m":1,"q":1,"x":1}`)
	})
}

// badMarshal is registered but cannot be encoded as a JSON object.
type badMarshal struct{ Fail string }

func (badMarshal) EventType() string { return "bad_marshal" }
func (badMarshal) EventVersion() int { return 1 }

func (b badMarshal) MarshalJSON() ([]byte, error) {
	switch b.Fail {
	case "array":
		return []byte(`[1]`), nil
	case "panic":
		panic("boom")
	}
	return nil, errors.New("cannot encode")
}

// impostor claims guess_processed v1 but is not the registered Go type.
type impostor struct{}

func (impostor) EventType() string { return "guess_processed" }
func (impostor) EventVersion() int { return 1 }

func TestJSONMarshalErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.MustRegister(badMarshal{})
	tests := []struct {
		name    string
		ev      serde.Event
		is      []error
		message string
	}{
		{name: "nil", ev: nil, is: []error{serde.ErrInvalidEventType}, message: "nil event"},
		{name: "nil pointer", ev: (*guessProcessedV2)(nil), is: []error{serde.ErrInvalidEventType}, message: "nil event"},
		{name: "unregistered", ev: unregistered{}, is: []error{serde.ErrInvalidEventType}, message: "unregistered v1 is not registered"},
		{name: "wrong Go type", ev: impostor{}, is: []error{serde.ErrInvalidEventType}, message: "guess_processed v1 is registered as serde_test.guessProcessed"},
		{name: "validate fails", ev: guessProcessed{Round: 1, Mode: race}, is: []error{serde.ErrInvalidEventData}, message: "guess_processed v1: word is empty"},
		{name: "pointer receiver validate", ev: &guessProcessedV2{DurationMS: -1}, is: []error{serde.ErrInvalidEventData}, message: "guess_processed v2: duration_ms is negative"},
		{name: "bad enum caught by Validate", ev: guessProcessed{Round: 1, Word: "w", Mode: "chess"}, is: []error{serde.ErrInvalidEventData}, message: `guess_processed v1: invalid event data: "chess" is not one of`},
		{name: "missing enum caught by Validate", ev: guessProcessed{Round: 1, Word: "w"}, is: []error{serde.ErrInvalidEventData}, message: `guess_processed v1: invalid event data: "" is not one of`},
		{name: "not an object", ev: badMarshal{Fail: "array"}, is: []error{serde.ErrSerializationFailed}, message: "bad_marshal v1: not a JSON object"},
		{name: "encoder error", ev: badMarshal{Fail: "error"}, is: []error{serde.ErrSerializationFailed}, message: "bad_marshal v1: json: error calling MarshalJSON"},
		{name: "panic", ev: badMarshal{Fail: "panic"}, is: []error{serde.ErrSerializationFailed}, message: "bad_marshal v1: panic: boom"},
		{name: "raw not an object", ev: serde.Raw{Type: "r", Version: 4, Data: []byte(`"{"`)}, is: []error{serde.ErrInvalidEventData}, message: "r v4: not a JSON object"},
		{name: "raw not JSON", ev: &serde.Raw{Type: "r", Version: 4, Data: []byte(`{`)}, is: []error{serde.ErrInvalidEventData}, message: "r v4: not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := b.json.Marshal(tt.ev)
			require.Nil(t, data)
			for _, target := range tt.is {
				require.ErrorIs(t, err, target)
			}
			require.ErrorContains(t, err, tt.message)
		})
	}
}

func TestJSONRaw(t *testing.T) {
	t.Parallel()
	b := setup(t)
	raw := serde.Raw{Type: "anything", Version: 7, Data: []byte(` {"b":1, "a":[2]} `)}
	for _, ev := range []serde.Event{raw, &raw} {
		data, err := b.json.Marshal(ev)
		require.NoError(t, err)
		require.Equal(t, string(raw.Data), string(data))
	}
}

func TestJSONUnmarshalErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	valid := `"round":1,"word":"w","mode":"race"`
	tests := []struct {
		name    string
		typ     string
		version int
		data    string
		is      []error
		message string
	}{
		{name: "unknown type", typ: "nope", version: 1, data: `{}`, is: []error{serde.ErrInvalidEventType}, message: "invalid event type: nope v1 is not registered"},
		{name: "unknown version", typ: "guess_processed", version: 9, data: `{}`, is: []error{serde.ErrInvalidEventType}, message: "guess_processed v9"},
		{name: "empty", data: ``, is: []error{serde.ErrDeserializationFailed}, message: "not valid JSON"},
		{name: "not JSON", data: `{"round":`, is: []error{serde.ErrDeserializationFailed}, message: "not valid JSON"},
		{name: "trailing data", data: `{` + valid + `} {}`, is: []error{serde.ErrDeserializationFailed}, message: "not valid JSON"},
		{name: "null", data: `null`, is: []error{serde.ErrDeserializationFailed}, message: "not a JSON object"},
		{name: "array", data: `[{` + valid + `}]`, is: []error{serde.ErrDeserializationFailed}, message: "not a JSON object"},
		{name: "string", data: `"{}"`, is: []error{serde.ErrDeserializationFailed}, message: "not a JSON object"},
		{name: "unknown field", data: `{` + valid + `,"wrod":"x"}`, is: []error{serde.ErrDeserializationFailed}, message: `json: unknown field "wrod"`},
		{name: "wrong field type", data: `{"round":"1","word":"w","mode":"race"}`, is: []error{serde.ErrDeserializationFailed}, message: "cannot unmarshal string"},
		{name: "bad enum", data: `{"round":1,"word":"w","mode":"chess"}`, is: []error{serde.ErrDeserializationFailed, serde.ErrInvalidEventData}, message: `"chess" is not one of ["two_player" "knockout" "race"]`},
		{name: "missing enum", data: `{"round":1,"word":"w"}`, is: []error{serde.ErrDeserializationFailed, serde.ErrInvalidEventData}, message: `"" is not one of`},
		{name: "enum not a string", data: `{"round":1,"word":"w","mode":3}`, is: []error{serde.ErrDeserializationFailed}, message: "enum: want a JSON string"},
		{name: "duplicate set member", data: `{` + valid + `,"players":["a","b","a"]}`, is: []error{serde.ErrDeserializationFailed, serde.ErrInvalidEventData}, message: `duplicate set member "a"`},
		{name: "set not an array", data: `{` + valid + `,"players":"a"}`, is: []error{serde.ErrDeserializationFailed}, message: "cannot unmarshal string"},
		{name: "time not RFC 3339", data: `{` + valid + `,"timestamp":"26/11/2026"}`, is: []error{serde.ErrDeserializationFailed}, message: "parsing time"},
		{name: "time a number", data: `{` + valid + `,"timestamp":1764151200}`, is: []error{serde.ErrDeserializationFailed}, message: "want an RFC 3339 string"},
		{name: "validate fails", data: `{"round":0,"word":"w","mode":"race"}`, is: []error{serde.ErrDeserializationFailed, serde.ErrInvalidEventData}, message: "deserialization failed: guess_processed v1: invalid event data: round must be at least 1"},
		{name: "pointer validate fails", version: 2, data: `{"duration_ms":-5}`, is: []error{serde.ErrDeserializationFailed, serde.ErrInvalidEventData}, message: "guess_processed v2: invalid event data: duration_ms is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			typ, version := tt.typ, tt.version
			if typ == "" {
				typ = "guess_processed"
			}
			if version == 0 {
				version = 1
			}
			ev, err := b.json.Unmarshal(typ, version, []byte(tt.data))
			require.Nil(t, ev)
			for _, target := range tt.is {
				require.ErrorIs(t, err, target)
			}
			require.ErrorContains(t, err, tt.message)
			require.ErrorContains(t, err, fmt.Sprintf("%s v%d", typ, version), "the message names type and version")
		})
	}
}

func TestJSONUnmarshalNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	data := `{"word":"w","extra":{"big":123456789012345678901234567890,"f":1.5}}`
	ev, err := b.json.Unmarshal("guess_processed", 2, []byte(data))
	require.NoError(t, err)
	g := ev.(*guessProcessedV2)
	require.Equal(t, json.Number("123456789012345678901234567890"), g.Extra["big"])

	out, err := b.json.Marshal(g)
	require.NoError(t, err)
	require.Contains(t, string(out), `"extra":{"big":123456789012345678901234567890,"f":1.5}`)
}

func TestJSONConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := guessProcessed{Round: 1, Word: "w", Mode: race, Players: serde.NewSet("a", "b", "c")}
	want, err := b.json.Marshal(ev)
	require.NoError(t, err)

	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 200 {
				got, err := b.json.Marshal(ev)
				back, err2 := b.json.Unmarshal("guess_processed", 1, got)
				if err != nil || err2 != nil || string(got) != string(want) || back.(guessProcessed).Word != "w" {
					mu.Lock()
					failures = append(failures, fmt.Sprint(err, err2, string(got)))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
}

func FuzzJSONUnmarshal(f *testing.F) {
	b := setup(f)
	seeds := []string{
		`{}`,
		`{"game_id":"g1","round":3,"player":"p","word":"apple","mode":"knockout","players":["amy","bob"],"timestamp":"2026-11-26T10:00:00.123456789Z"}`,
		`{"round":1,"word":"w","mode":"race","players":["a","a"]}`,
		`{"round":1,"word":"w","mode":"race","timestamp":"9999-12-31T23:59:59-01:00"}`,
		`{"word":"w","duration_ms":12,"scores":{"a":1},"extra":{"n":1e400,"s":[null,true,"\u00e9"]}}`,
		`{"game_id":"g","mode":"two_player","teams":[3,1,2],"words":null,"started_at":"2026-01-01T00:00:00+05:30"}`,
		`{"ROUND":1,"Word":"w","mode":"race"}`,
		`null`, `[]`, `"x"`, `{"round":`, "{\"word\":\"\xff\"}",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	targets := []serde.TypeVersion{
		{Type: "guess_processed", Version: 1},
		{Type: "guess_processed", Version: 2},
		{Type: "game_started", Version: 1},
		{Type: "guess_processed", Version: 3}, // not registered
	}
	f.Fuzz(func(t *testing.T, pick uint8, data []byte) {
		tv := targets[int(pick)%len(targets)]
		ev, err := b.json.Unmarshal(tv.Type, tv.Version, data)
		if err != nil {
			require.Nil(t, ev)
			require.True(t, errors.Is(err, serde.ErrDeserializationFailed) || errors.Is(err, serde.ErrInvalidEventType),
				"untyped error: %v", err)
			require.True(t, strings.Contains(err.Error(), tv.String()), "error does not name %s: %v", tv, err)
			return
		}
		require.Equal(t, tv.Type, ev.EventType())
		require.Equal(t, tv.Version, ev.EventVersion())

		// A decoded event is valid: it encodes, and decodes back to itself,
		// and its encoding is stable.
		out, err := b.json.Marshal(ev)
		require.NoError(t, err)
		back, err := b.json.Unmarshal(tv.Type, tv.Version, out)
		require.NoError(t, err)
		require.Equal(t, ev, back)
		again, err := b.json.Marshal(back)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
	})
}

func TestNewJSONNilRegistry(t *testing.T) {
	t.Parallel()
	s := serde.NewJSON(nil)
	_, err := s.Unmarshal("guess_processed", 1, []byte(`{}`))
	require.ErrorIs(t, err, serde.ErrInvalidEventType)
	_, err = s.Marshal(guessProcessed{Round: 1, Word: "w", Mode: race})
	require.ErrorIs(t, err, serde.ErrInvalidEventType)
}
