package serde_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
)

// nasty holds strings that exercise every escaping rule of encoding/json.
var nasty = []string{
	"",
	"plain",
	`quote " and backslash \ and slash /`,
	"controls \x00\x01\x07\b\t\n\v\f\r\x1b\x1f and DEL \x7f",
	"html <b>&amp;</b> 'single'",
	"separators \u2028 and \u2029 and \u2027\u202a",
	"non-ASCII naïve café 日本語 עברית e\u0301 🦊",
	"invalid UTF-8 \xff \xfe\xfd \xc3 \xe2\x80 \xed\xa0\x80 \xf4\x90\x80\x80 end\xe2",
	"replacement char \ufffd and BOM \ufeff",
}

// refEncode is the reference encoding: encoding/json without HTML escaping
// and without the trailing newline.
func refEncode(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// nastyBase returns base fields with nasty metadata.
func nastyBase(mode events.Mode, round int) events.Base {
	b := events.NewBase("game-\"1\"", "guild-\\1", mode, round,
		time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", -7*3600)))
	b.Metadata = map[string]string{}
	for i, s := range nasty {
		b.Metadata[s] = nasty[len(nasty)-1-i]
		b.Metadata[fmt.Sprintf("k%02d", i)] = s
	}
	return b
}

// gameBotEvents returns values of every GameBot event type with every field
// set, nasty strings everywhere, plus variants with nil and empty
// collections and omitted optional fields.
func gameBotEvents() []events.GameEvent {
	word := strings.Join(nasty, "|")
	teams := map[string][]string{}
	roles := map[string]events.Role{}
	for i, s := range nasty {
		teams["team "+s] = []string{"p1 " + s, "p2 " + s}
		roles["p1 "+s] = events.RolePlayer1
		if i%2 == 0 {
			roles["p2 "+s] = events.RolePlayer2
		}
	}
	teams["nil players"] = nil
	teams["no players"] = []string{}
	evs := []events.GameEvent{
		events.GameStarted{
			Base:      nastyBase(events.ModeKnockout, 1),
			Teams:     teams,
			TeamIDs:   serde.NewSet(nasty...),
			PlayerIDs: serde.NewSet("b", "a", word),
			Roles:     roles,
			Config:    events.GameConfig{MaxRounds: 3, MaxGuesses: -5, TimeLimitSeconds: math.MaxInt, WordList: word},
		},
		events.GameStarted{Base: events.Base{Mode: events.ModeRace}, Teams: map[string][]string{}, Roles: map[string]events.Role{}},
		events.GameStarted{Base: events.Base{Mode: events.ModeTwoPlayer, Metadata: map[string]string{}}},
		events.RoundStarted{
			Base: nastyBase(events.ModeRace, 2),
			TeamStates: map[string]events.TeamState{
				word: {Score: 10, GuessCount: 3, Matches: 1, Active: true},
				"":   {Score: math.MinInt, Active: false},
			},
		},
		events.RoundStarted{Base: nastyBase(events.ModeRace, 0)},
		events.GuessProcessed{
			Base:            nastyBase(events.ModeTwoPlayer, 1),
			TeamID:          word,
			Player1Info:     events.PlayerInfo{PlayerID: "p1", Name: word, Role: events.RolePlayer1},
			Player2Info:     events.PlayerInfo{PlayerID: "p2\n", Name: "Bob", Role: events.RolePlayer2},
			Player1Word:     nasty[3],
			Player2Word:     nasty[7],
			GuessSuccessful: true,
			GuessCount:      2,
			MatchScore:      8,
			GuessDurationMs: math.MinInt64,
		},
		events.GuessProcessed{Base: events.Base{Mode: events.ModeKnockout}},
		events.GuessAbandoned{
			Base:        nastyBase(events.ModeKnockout, 4),
			TeamID:      "red",
			Player1Info: events.PlayerInfo{PlayerID: "p1"},
			Player2Info: events.PlayerInfo{PlayerID: "p2", Name: nasty[5]},
			Reason:      events.AbandonInvalidWord,
			GuessCount:  1,
			LastGuess:   &events.LastGuess{PlayerID: "p2", Word: word},
		},
		events.GuessAbandoned{
			Base:   nastyBase(events.ModeKnockout, 4),
			Reason: events.AbandonTimeout,
		},
		events.TeamEliminated{
			Base:       nastyBase(events.ModeKnockout, 1),
			TeamID:     word,
			Reason:     events.EliminationMaxGuesses,
			FinalState: events.TeamState{Score: 7, GuessCount: 5},
			PlayerStats: map[string]events.PlayerStats{
				nasty[2]: {Guesses: 5, Matches: 0},
				nasty[7]: {Guesses: 5, Matches: 1, Abandoned: 1},
			},
		},
		events.TeamEliminated{Base: events.Base{Mode: events.ModeRace}, Reason: events.EliminationForfeit},
		events.GameCompleted{
			Base:           nastyBase(events.ModeKnockout, 3),
			Winners:        serde.NewSet(nasty[6], "red"),
			FinalScores:    map[string]int{"red": 24, "blue": -6, nasty[4]: 0},
			GameDurationMs: 185000,
			TotalRounds:    3,
		},
		events.GameCompleted{Base: events.Base{Mode: events.ModeKnockout}, FinalScores: map[string]int{}},
		events.KnockoutRoundCompleted{
			Base:            nastyBase(events.ModeKnockout, 1),
			EliminatedTeams: serde.NewSet("blue"),
			AdvancingTeams:  serde.NewSet(nasty...),
		},
		events.KnockoutRoundCompleted{Base: events.Base{Mode: events.ModeKnockout}},
		events.RaceModeTimeExpired{
			Base:           nastyBase(events.ModeRace, 1),
			FinalMatches:   map[string]int{"red": 4, "blue": 0, nasty[3]: math.MaxInt},
			GameDurationMs: 120000,
		},
		events.RaceModeTimeExpired{Base: events.Base{Mode: events.ModeRace}, FinalMatches: map[string]int{}},
	}
	return evs
}

// requireSame asserts that the fast encoder handles ev and agrees with the
// slow path byte for byte.
func requireSame(t *testing.T, ev any) {
	t.Helper()
	slow, err := serde.SlowEncode(ev)
	require.NoError(t, err)
	fast, ok := serde.FastEncode(ev)
	require.True(t, ok, "fast encoder gave up on %T", ev)
	require.Equal(t, string(slow), string(fast))
}

func TestFastEncodeGameBotEvents(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, ev := range gameBotEvents() {
		covered[ev.EventType()] = true
		t.Run(ev.EventType(), func(t *testing.T) {
			requireSame(t, ev)
		})
	}
	for _, ev := range events.All() {
		require.True(t, covered[ev.EventType()], "no fixture of %s", ev.EventType())
	}
}

// TestFastEncodeTaken checks that Marshal takes the fast path for every
// event of simulated games, and agrees with the slow path. It must not run
// in parallel: it counts fast encodes.
func TestFastEncodeTaken(t *testing.T) {
	j := serde.NewJSON(events.NewRegistry())
	var evs []events.GameEvent
	for _, mode := range events.Modes() {
		for seed := range uint64(4) {
			evs = append(evs, game.Simulate(game.SimConfig{Seed: seed, Mode: mode, MaxGuesses: 2})...)
		}
	}
	types := map[string]bool{}
	before := serde.FastEncodes()
	for _, ev := range evs {
		types[ev.EventType()] = true
		b, err := j.Marshal(ev)
		require.NoError(t, err)
		slow, err := serde.SlowEncode(ev)
		require.NoError(t, err)
		require.Equal(t, string(slow), string(b))
	}
	require.Equal(t, int64(len(evs)), serde.FastEncodes()-before, "Marshal did not take the fast path")
	require.Len(t, types, len(events.All()), "simulated games miss an event type")
}

// TestFastEncodeGivesUp checks that the fast encoder gives up when a
// MarshalJSON method fails, and that Marshal then returns the slow path's
// error.
func TestFastEncodeGivesUp(t *testing.T) {
	t.Parallel()
	ev := gameBotEvents()[0].(events.GameStarted)
	ev.Roles = map[string]events.Role{"p1": "captain"}
	_, ok := serde.FastEncode(ev)
	require.False(t, ok)
	_, err := serde.SlowEncode(ev)
	require.ErrorIs(t, err, serde.ErrInvalidEventData)
	require.Contains(t, err.Error(), "json: error calling MarshalJSON for type events.Role")

	// Validate does not look at the year, so this one reaches encoding.
	gp := events.GuessProcessed{
		Base:        events.NewBase("g", "guild", events.ModeRace, 1, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
		TeamID:      "t",
		Player1Info: events.PlayerInfo{PlayerID: "p1"},
		Player2Info: events.PlayerInfo{PlayerID: "p2"},
		Player1Word: "a",
		Player2Word: "b",
		GuessCount:  1,
	}
	require.NoError(t, gp.Validate())
	_, ok = serde.FastEncode(gp)
	require.False(t, ok)
	_, slowErr := serde.SlowEncode(gp)
	require.Error(t, slowErr)
	_, err = serde.NewJSON(events.NewRegistry()).Marshal(gp)
	require.ErrorIs(t, err, serde.ErrSerializationFailed)
	require.EqualError(t, err, "serialization failed: guess_processed v1: "+slowErr.Error())
	require.Contains(t, err.Error(), "year 10000 in UTC is outside 0000-9999")
}

// Types for TestFastEncodeTypes.
type (
	label   string
	level   int8
	textKey struct{ net.IP }
	inner   struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	hidden struct{ Visible, invisible int }
	node   struct {
		Next *node `json:"next"`
	}
	valueMarshaler   struct{ out string }
	pointerMarshaler struct{ X int }
	failMarshaler    struct{}
	rootMarshaler    struct{ X int }
	withPointer      struct{ *inner }
	withDuplicate    struct {
		inner
		A string `json:"a"`
	}
)

// MarshalJSON returns m.out as is.
func (m valueMarshaler) MarshalJSON() ([]byte, error) { return []byte(m.out), nil }

// MarshalJSON returns a string; only a *pointerMarshaler has it.
func (m *pointerMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"p"`), nil }

// MarshalJSON fails.
func (failMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("no") }

// MarshalJSON returns an object.
func (rootMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"r":1}`), nil }

func TestFastEncodeTypes(t *testing.T) {
	t.Parallel()
	one := 1
	tests := []struct {
		name string
		v    any
		fast bool
	}{
		{"scalars", struct {
			B    bool
			I    int
			I8   int8
			I16  int16
			I32  int32
			I64  int64
			U    uint
			U8   uint8
			U16  uint16
			U32  uint32
			U64  uint64
			P    uintptr
			S    string
			N    label
			L    level
			Ünï  int
			Tag  int `json:"renamed"`
			Dash int `json:"-,"`
			Skip int `json:"-"`
			Opt  int `json:",omitempty"`
			priv int
		}{true, math.MinInt, -8, -16, -32, math.MinInt64, math.MaxUint, 8, 16, 32, math.MaxUint64, 9, "s\n", "n\"", -3, 1, 2, 3, 4, 5, 6}, true},
		{"omitempty empty", struct {
			B  bool              `json:"b,omitempty"`
			I  int               `json:"i,omitempty"`
			U  uint              `json:"u,omitempty"`
			S  string            `json:"s,omitempty"`
			P  *int              `json:"p,omitempty"`
			M  map[string]int    `json:"m,omitempty"`
			E  map[string]int    `json:"e,omitempty"`
			L  []string          `json:"l,omitempty"`
			A  [0]int            `json:"a,omitempty"`
			St inner             `json:"st,omitempty"`
			T  serde.Time        `json:"t,omitempty"`
			Se serde.Set[string] `json:"se,omitempty"`
		}{E: map[string]int{}, L: []string{}}, true},
		{"omitempty set", struct {
			B bool           `json:"b,omitempty"`
			I int            `json:"i,omitempty"`
			P *int           `json:"p,omitempty"`
			M map[string]int `json:"m,omitempty"`
			A [1]int         `json:"a,omitempty"`
		}{true, -1, &one, map[string]int{"x": 1}, [1]int{}}, true},
		{"nil and empty collections", struct {
			NilSlice []int
			Empty    []int
			NilMap   map[string]string
			EmptyMap map[string]string
			NilPtr   *inner
			Ptr      *inner
			PtrPtr   **int
			Arr      [3]string
		}{Empty: []int{}, EmptyMap: map[string]string{}, Ptr: &inner{A: 1}}, true},
		{"nested", struct {
			Maps    map[label]map[string][]*inner
			Structs []inner
			Named   map[string]label
			Arrays  [2][2]level
		}{
			Maps:    map[label]map[string][]*inner{"z": {"b": {nil, {A: 2, B: "x"}}}, "a": nil, "": {}},
			Structs: []inner{{}, {A: 1, B: "\u2028"}},
			Named:   map[string]label{"k\x00": "v\xff", "a": ""},
			Arrays:  [2][2]level{{1, -1}, {127, -128}},
		}, true},
		{"embedded", struct {
			inner
			hidden
			Tagged inner `json:"tagged"`
			X      int
		}{inner{1, "b"}, hidden{2, 3}, inner{4, ""}, 5}, true},
		{"serde types", struct {
			Times   []serde.Time
			Strings serde.Set[string]
			Ints    serde.Set[int]
			Floats  serde.Set[float64]
			Named   serde.Set[label]
			Ptr     *serde.Time
			NilPtr  *serde.Time
		}{
			Times: []serde.Time{{}, serde.NewTime(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)),
				serde.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("Y", 5*3600+1800)))},
			Strings: serde.NewSet(nasty...),
			Ints:    serde.NewSet(3, -1, math.MaxInt, math.MinInt),
			Floats:  serde.NewSet(1.5, -0.0, 1e21),
			Named:   serde.NewSet[label]("b", "a\n"),
			Ptr:     &serde.Time{},
		}, true},
		{"marshalers", struct {
			Plain    valueMarshaler
			Spaced   valueMarshaler
			Escaped  valueMarshaler
			HTML     valueMarshaler
			Ptr      *valueMarshaler
			NilPtr   *valueMarshaler
			Map      map[string]valueMarshaler
			Time     time.Time
			Duration time.Duration
		}{
			Plain:   valueMarshaler{`"abc"`},
			Spaced:  valueMarshaler{" {\n \"a\" : [ 1 , 2 ] , \"b\":\"x y\" }\t"},
			Escaped: valueMarshaler{`"a\u00e9\n\ud83e\udd8a"`},
			HTML:    valueMarshaler{"\"<&>\u2028\""},
			Ptr:     &valueMarshaler{"12"},
			Map:     map[string]valueMarshaler{"b": {"true"}, "a": {"null"}},
			Time:    time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("Y", 3600)),
		}, true},
		{"float", struct{ F float64 }{1.5}, false},
		{"float32", struct{ F float32 }{1.5}, false},
		{"interface", struct{ I any }{1}, false},
		{"bytes", struct{ B []byte }{[]byte("x")}, false},
		{"text marshaler", struct{ IP net.IP }{net.IPv4(1, 2, 3, 4)}, false},
		{"embedded text marshaler", struct{ K textKey }{}, false},
		{"int map keys", struct{ M map[int]string }{map[int]string{1: "a"}}, false},
		{"string option", struct {
			I int `json:"i,string"`
		}{1}, false},
		{"omitzero", struct {
			I int `json:"i,omitzero"`
		}{1}, false},
		{"unusual tag name", struct {
			I int `json:"a b"`
		}{1}, false},
		{"recursive", node{Next: &node{}}, false},
		{"pointer marshaler", struct{ P pointerMarshaler }{}, false},
		{"embedded pointer", withPointer{&inner{A: 1}}, false},
		{"duplicate names", withDuplicate{inner{A: 1}, "x"}, false},
		{"root marshaler", rootMarshaler{}, false},
		{"invalid marshaler output", struct{ M valueMarshaler }{valueMarshaler{`{"a":}`}}, false},
		{"empty marshaler output", struct{ M valueMarshaler }{}, false},
		{"failing marshaler", struct{ M failMarshaler }{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fast, ok := serde.FastEncode(tt.v)
			require.Equal(t, tt.fast, ok, "fast path taken")
			if ok {
				slow, err := serde.SlowEncode(tt.v)
				require.NoError(t, err)
				require.Equal(t, string(slow), string(fast))
			}
		})
	}
}

// TestFastEncodeHelpers checks the fast paths inside EncodeEnum,
// Time.MarshalJSON and Set.MarshalJSON against encoding/json.
func TestFastEncodeHelpers(t *testing.T) {
	t.Parallel()
	for _, s := range nasty {
		checkHelpers(t, s, s, 0)
	}
	for _, sec := range []int64{math.MinInt64, -62135596800 - 1, -62135596800, 0, 1e9, 253402300799, 253402300800, math.MaxInt64} {
		checkHelpers(t, "a", "b", sec)
	}
}

// checkHelpers compares EncodeEnum, Time.MarshalJSON and Set.MarshalJSON
// with encoding/json for the inputs.
func checkHelpers(t *testing.T, a, b string, sec int64) {
	t.Helper()
	got, err := serde.EncodeEnum(label(a), label(b), label(a))
	require.NoError(t, err)
	require.Equal(t, string(refEncode(t, a)), string(got))
	if a != b {
		_, err = serde.EncodeEnum(label(a), label(b))
		require.ErrorIs(t, err, serde.ErrInvalidEventData)
		require.Equal(t, fmt.Sprintf("%v: %q is not one of %q", serde.ErrInvalidEventData, a, []label{label(b)}), err.Error())
	}

	set := serde.NewSet(a, b, a+b)
	got, err = set.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, string(refEncode(t, set.Sorted())), string(got))
	ints := serde.NewSet(len(a), -len(b), int(sec))
	got, err = ints.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, string(refEncode(t, ints.Sorted())), string(got))

	tm := serde.NewTime(time.Unix(sec, int64(len(a))*12345678%1e9))
	got, err = tm.MarshalJSON()
	if y := tm.Year(); y < 0 || y > 9999 {
		require.EqualError(t, err, fmt.Sprintf("time: year %d in UTC is outside 0000-9999", y))
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(refEncode(t, tm.UTC().Format(serde.TimeLayout))), string(got))
}

func FuzzFastEncode(f *testing.F) {
	for i, s := range nasty {
		f.Add(s, nasty[(i+3)%len(nasty)], "channel_id", s, uint8(i), int64(i)*1e17)
	}
	f.Add("a", "b", "", "", uint8(255), int64(-1))
	reg := events.NewRegistry()
	j := serde.NewJSON(reg)
	f.Fuzz(func(t *testing.T, a, b, key, val string, pick uint8, n int64) {
		checkHelpers(t, a, b, n)
		mode := events.Modes()[int(pick)%len(events.Modes())]
		if pick >= 250 {
			mode = events.Mode(a)
		}
		role := events.Roles()[int(pick/3)%len(events.Roles())]
		if pick%7 == 6 {
			role = events.Role(b)
		}
		base := events.NewBase(a+"g", b+"h", mode, int(n%5), time.Unix(0, n))
		if pick%5 != 0 {
			base.Metadata = map[string]string{key: val, val: key, a: b}
		}
		gp := events.GuessProcessed{
			Base:            base,
			TeamID:          val,
			Player1Info:     events.PlayerInfo{PlayerID: a, Name: b, Role: role},
			Player2Info:     events.PlayerInfo{PlayerID: b, Name: a},
			Player1Word:     key,
			Player2Word:     val,
			GuessSuccessful: n%2 == 0,
			GuessCount:      int(n),
			MatchScore:      int(pick),
			GuessDurationMs: n,
		}
		gs := events.GameStarted{
			Base:      base,
			Teams:     map[string][]string{a: {key, val}, b: nil, key: {}},
			TeamIDs:   serde.NewSet(a, b, key),
			PlayerIDs: serde.NewSet(key, val),
			Roles:     map[string]events.Role{key: role, val: events.RolePlayer2},
			Config:    events.GameConfig{MaxRounds: int(pick), MaxGuesses: int(n), WordList: val},
		}
		for _, ev := range []events.GameEvent{gp, gs} {
			slow, slowErr := serde.SlowEncode(ev)
			fast, ok := serde.FastEncode(ev)
			// For GameBot events the fast path gives up only on an error.
			require.Equal(t, slowErr == nil, ok, "slow error: %v", slowErr)
			if ok {
				require.Equal(t, string(slow), string(fast))
			}
			if ev.Validate() != nil {
				continue // Marshal fails before encoding
			}
			got, err := j.Marshal(ev)
			if slowErr != nil {
				require.EqualError(t, err, fmt.Sprintf("%v: %s v1: %v", serde.ErrSerializationFailed, ev.EventType(), slowErr))
				continue
			}
			require.NoError(t, err)
			require.Equal(t, string(slow), string(got))
		}
	})
}
