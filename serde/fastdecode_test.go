package serde_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

// DecodeSinkEmbed is embedded in decodeSink, so its fields are decodeSink's.
type DecodeSinkEmbed struct {
	E string `json:"e"`
	U uint   `json:"u"`
}

// decodeSinkInner is a nested struct of decodeSink.
type decodeSinkInner struct {
	A int8     `json:"a"`
	B []uint16 `json:"b"`
}

// strMap is a named map of strings, which the fast decoder decodes
// without reflection per member, like map[string]string.
type strMap map[string]string

// decodeSink has a field of every kind the fast decoder handles.
type decodeSink struct {
	DecodeSinkEmbed
	I        int                          `json:"i"`
	I8       int8                         `json:"i8"`
	I16      int16                        `json:"i16"`
	I32      int32                        `json:"i32"`
	I64      int64                        `json:"i64"`
	U8       uint8                        `json:"u8"`
	U16      uint16                       `json:"u16"`
	U32      uint32                       `json:"u32"`
	U64      uint64                       `json:"u64"`
	F32      float32                      `json:"f32"`
	F64      float64                      `json:"f64"`
	B        bool                         `json:"b"`
	S        string                       `json:"s"`
	P        *decodeSinkInner             `json:"p"`
	PS       *string                      `json:"ps"`
	L        []string                     `json:"l"`
	LL       [][]int                      `json:"ll"`
	M        map[string]decodeSinkInner   `json:"m"`
	MP       map[string]*int              `json:"mp"`
	Mode     mode                         `json:"mode"`
	ModeKeys map[mode]int                 `json:"mode_keys"`
	Modes    []mode                       `json:"modes"`
	T        *serde.Time                  `json:"t"`
	Ints     serde.Set[int]               `json:"ints"`
	Strs     serde.Set[string]            `json:"strs"`
	Sets     map[string]serde.Set[string] `json:"sets"`
	SM       strMap                       `json:"sm"`
	MS       map[string]string            `json:"ms"`
	Untagged int
	Omit     string `json:"omit,omitempty"`
	Skip     int    `json:"-"`
	hidden   int
}

func (decodeSink) EventType() string { return "decode_sink" }
func (decodeSink) EventVersion() int { return 1 }

// decodeSinkDoc is a decodeSink document with every field set.
const decodeSinkDoc = `{"e":"embedded","u":7,"i":-42,"i8":-128,"i16":32767,"i32":-2147483648,` +
	`"i64":-9223372036854775808,"u8":255,"u16":65535,"u32":4294967295,"u64":9223372036854775807,` +
	`"f32":1.5,"f64":-2.5e-3,"b":true,"s":"h\u00e9llo \"w\"\n\ud83d\ude00 \u0000 €",` +
	`"p":{"a":1,"b":[1,2,3]},"ps":"x","l":["a","","c"],"ll":[[1],[],[2,3]],` +
	`"m":{"k":{"a":-1,"b":[]},"":{"a":0,"b":[7]}},"mp":{"one":1,"zero":0},"mode":"race",` +
	`"mode_keys":{"knockout":1,"whatever":2},"modes":["race","two_player"],` +
	`"t":"2026-11-26T10:00:00.123456789+01:00","ints":[3,1,2],"strs":["b","a"],` +
	`"sets":{"x":["1","2"],"y":[]},"sm":{"a":"1","b\u00e9":"x\"y","":""},"ms":{},"Untagged":5,"omit":"o"}`

// fastFixture is one document of a registered type.
type fastFixture struct {
	tv   serde.TypeVersion
	data []byte
}

// fastSerializer returns a serializer knowing the GameBot events and
// decodeSink.
func fastSerializer(t testing.TB) *serde.JSON {
	t.Helper()
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(decodeSink{}))
	return serde.NewJSON(reg)
}

// decodeEvents returns hand-built events of all eight types and the
// events of simulated games in every mode.
func decodeEvents() []events.GameEvent {
	ts := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	base := func(mode events.Mode, round int) events.Base {
		b := events.NewBase("game-1", "guild-1", mode, round, ts)
		b.Metadata = map[string]string{"channel_id": "chan-1", "note": "caf\u00e9 \"quoted\"\n"}
		return b
	}
	evs := []events.GameEvent{
		events.GameStarted{
			Base:      base(events.ModeKnockout, 1),
			Teams:     map[string][]string{"red": {"p1", "p2"}, "blue": {"p3", "p4"}},
			TeamIDs:   serde.NewSet("red", "blue"),
			PlayerIDs: serde.NewSet("p1", "p2", "p3", "p4"),
			Roles: map[string]events.Role{
				"p1": events.RolePlayer1, "p2": events.RolePlayer2,
				"p3": events.RolePlayer1, "p4": events.RolePlayer2,
			},
			Config: events.GameConfig{MaxRounds: 3, MaxGuesses: 5, TimeLimitSeconds: 300, WordList: "default"},
		},
		events.RoundStarted{
			Base: base(events.ModeKnockout, 2),
			TeamStates: map[string]events.TeamState{
				"red":  {Score: 10, Matches: 1, Active: true},
				"blue": {Score: 0, Active: false},
			},
		},
		events.GuessProcessed{
			Base:            base(events.ModeKnockout, 1),
			TeamID:          "red",
			Player1Info:     events.PlayerInfo{PlayerID: "p1", Name: "Ann", Role: events.RolePlayer1},
			Player2Info:     events.PlayerInfo{PlayerID: "p2", Name: "Bob", Role: events.RolePlayer2},
			Player1Word:     "apple",
			Player2Word:     "apple",
			GuessSuccessful: true,
			GuessCount:      2,
			MatchScore:      8,
			GuessDurationMs: 4200,
		},
		events.GuessAbandoned{
			Base:        base(events.ModeKnockout, 1),
			TeamID:      "red",
			Player1Info: events.PlayerInfo{PlayerID: "p1"},
			Player2Info: events.PlayerInfo{PlayerID: "p2"},
			Reason:      events.AbandonTimeout,
			GuessCount:  1,
			LastGuess:   &events.LastGuess{PlayerID: "p2", Word: "river"},
		},
		events.TeamEliminated{
			Base:       base(events.ModeKnockout, 1),
			TeamID:     "blue",
			Reason:     events.EliminationMaxGuesses,
			FinalState: events.TeamState{Score: 0, GuessCount: 5},
			PlayerStats: map[string]events.PlayerStats{
				"p3": {Guesses: 5, Matches: 0},
				"p4": {Guesses: 5, Matches: 0, Abandoned: 1},
			},
		},
		events.GameCompleted{
			Base:           base(events.ModeKnockout, 3),
			Winners:        serde.NewSet("red"),
			FinalScores:    map[string]int{"red": 24, "blue": 6},
			GameDurationMs: 185000,
			TotalRounds:    3,
		},
		events.KnockoutRoundCompleted{
			Base:            base(events.ModeKnockout, 1),
			EliminatedTeams: serde.NewSet[string](),
			AdvancingTeams:  serde.NewSet("red", "green"),
		},
		events.RaceModeTimeExpired{
			Base:           base(events.ModeRace, 1),
			FinalMatches:   map[string]int{"red": 4, "blue": 0},
			GameDurationMs: 120000,
		},
	}
	for i, m := range events.Modes() {
		evs = append(evs, game.Simulate(game.SimConfig{Seed: uint64(i + 1), Mode: m})...)
	}
	return evs
}

// fastFixtures returns every GameBot event encoded by Marshal, each also
// in the text form PostgreSQL returns for jsonb, and the decodeSink document.
func fastFixtures(t testing.TB, j *serde.JSON) []fastFixture {
	t.Helper()
	var out []fastFixture
	for _, ev := range decodeEvents() {
		data, err := j.Marshal(ev)
		require.NoError(t, err)
		tv := serde.TypeVersion{Type: ev.EventType(), Version: ev.EventVersion()}
		out = append(out, fastFixture{tv, data}, fastFixture{tv, jsonbText(t, data)})
	}
	return append(out, fastFixture{serde.TypeVersion{Type: "decode_sink", Version: 1}, []byte(decodeSinkDoc)})
}

// jsonbText renders data the way PostgreSQL prints a jsonb value: keys
// ordered by length and then bytes, ", " and ": " between items.
func jsonbText(t testing.TB, data []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	var buf bytes.Buffer
	writeJSONB(t, &buf, v)
	return buf.Bytes()
}

// writeJSONB writes v, decoded with UseNumber, in jsonb's text form.
func writeJSONB(t testing.TB, buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := slices.SortedFunc(maps.Keys(v), func(a, b string) int {
			return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
		})
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteString(", ")
			}
			writeJSONB(t, buf, k)
			buf.WriteString(": ")
			writeJSONB(t, buf, v[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteString(", ")
			}
			writeJSONB(t, buf, e)
		}
		buf.WriteByte(']')
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(v))
		buf.Truncate(buf.Len() - 1) // the newline
	}
}

// requireSameDecode checks that Unmarshal returns exactly what the
// encoding/json path returns for data.
func requireSameDecode(t testing.TB, j *serde.JSON, tv serde.TypeVersion, data []byte) {
	t.Helper()
	want, wantErr := j.UnmarshalSlow(tv.Type, tv.Version, data)
	got, gotErr := j.Unmarshal(tv.Type, tv.Version, data)
	if wantErr != nil {
		require.Error(t, gotErr, "%s %q: fast decoding succeeded with %#v", tv, data, got)
		require.Equal(t, wantErr.Error(), gotErr.Error(), "%s %q", tv, data)
		for _, target := range []error{serde.ErrDeserializationFailed, serde.ErrInvalidEventData, serde.ErrInvalidEventType} {
			require.Equal(t, errors.Is(wantErr, target), errors.Is(gotErr, target), "%s %q: %v", tv, data, target)
		}
		require.Nil(t, got)
		return
	}
	require.NoError(t, gotErr, "%s %q", tv, data)
	require.Equal(t, want, got, "%s %q", tv, data)
}

func TestFastDecodeEvents(t *testing.T) {
	t.Parallel()
	j := fastSerializer(t)
	for _, fx := range fastFixtures(t, j) {
		requireSameDecode(t, j, fx.tv, fx.data)
		// Whitespace everywhere JSON allows it changes nothing.
		spaced := bytes.NewBuffer(nil)
		require.NoError(t, json.Indent(spaced, fx.data, " \r\n", "\t"))
		requireSameDecode(t, j, fx.tv, spaced.Bytes())
	}
}

func TestFastDecodeTaken(t *testing.T) {
	t.Parallel()
	j := fastSerializer(t)
	for _, fx := range fastFixtures(t, j) {
		require.True(t, j.DecodesFast(fx.tv.Type, fx.tv.Version, fx.data), "%s %s", fx.tv, fx.data)
		before := serde.FastDecodes()
		_, err := j.Unmarshal(fx.tv.Type, fx.tv.Version, fx.data)
		require.NoError(t, err)
		require.Greater(t, serde.FastDecodes(), before, "Unmarshal did not use the fast decoder")
	}
}

// refused is an event type with one field of type T, which the fast
// decoder leaves to encoding/json.
type refused[T any] struct {
	F T `json:"f"`
}

func (refused[T]) EventType() string { return fmt.Sprintf("refused_%T", *new(T)) }
func (refused[T]) EventVersion() int { return 1 }

// Types the fast decoder does not handle.
type (
	decRecursiveSlice  []decRecursiveSlice
	decRecursiveStruct struct {
		Kids []decRecursiveStruct `json:"kids"`
	}
	decTextKey  string
	decWithText struct{ T decTextKey }
	decQuoted   struct {
		N int `json:"n,string"`
	}
	DecEmbedPtr  struct{ X int }
	decEmbedsPtr struct{ *DecEmbedPtr }
	DecShadowed  struct{ X int }
	decShadows   struct {
		DecShadowed
		X string
	}
)

func (k *decTextKey) UnmarshalText(b []byte) error { *k = decTextKey(b); return nil }

func TestFastDecodeRefusedTypes(t *testing.T) {
	t.Parallel()
	reg := serde.NewRegistry()
	require.NoError(t, reg.Register(
		refused[any]{}, refused[json.Number]{}, refused[json.RawMessage]{}, refused[[]byte]{},
		refused[decTextKey]{}, refused[map[decTextKey]int]{}, refused[decRecursiveSlice]{},
		refused[decRecursiveStruct]{}, refused[decWithText]{}, refused[decQuoted]{}, refused[decEmbedsPtr]{},
		refused[decShadows]{}, refused[[2]int]{}, refused[**int]{}, refused[complex64]{},
	))
	j := serde.NewJSON(reg)
	for _, tv := range reg.Types() {
		for _, d := range []string{`{}`, `{"f":"x"}`, `{"f":1}`, `{"f":[[]]}`, `{"f":{"kids":[]}}`, `{"f":{"T":"t"}}`,
			`{"f":{"n":"1"}}`, `{"f":{"X":1}}`, `{"f":{"x":"1"}}`, `{"f":{"k":1}}`, `{"f":"AQI="}`, `{"f":[1,2]}`} {
			require.False(t, j.DecodesFast(tv.Type, tv.Version, []byte(d)), "%s %s", tv, d)
			requireSameDecode(t, j, tv, []byte(d))
		}
	}
}

func TestFastDecodeRefusedEvent(t *testing.T) {
	t.Parallel()
	// guessProcessedV2 has a map[string]any field, so the fast decoder
	// leaves the whole type to encoding/json.
	b := setup(t)
	data := []byte(`{"word":"w","duration_ms":1,"scores":{"a":1},"extra":{}}`)
	require.False(t, b.json.DecodesFast("guess_processed", 2, data))
	ev, err := b.json.Unmarshal("guess_processed", 2, data)
	require.NoError(t, err)
	require.Equal(t, map[string]any{}, ev.(*guessProcessedV2).Extra)
}

// fastMutations are replacements applied to the fixtures: each makes a
// document the fast decoder must give up on, or decode just like
// encoding/json.
var fastMutations = [][2]string{
	{`"game_id":"game-1"`, `"game_id":null`},
	{`"game_id":"game-1"`, `"game_id":"g\u00e9\n\t\"\\\/\b\f\r\u0000x"`},
	{`"game_id":"game-1"`, `"game_id":"\ud83d\ude00 \uD83D\uDE00"`},
	{`"game_id":"game-1"`, `"game_id":"\ud83d"`},
	{`"game_id":"game-1"`, `"game_id":"\ude00"`},
	{`"game_id":"game-1"`, `"game_id":"\ud83dx"`},
	{`"game_id":"game-1"`, `"game_id":"\ud83d\u0041"`},
	{`"game_id":"game-1"`, "\"game_id\":\"\xff\""},
	{`"game_id":"game-1"`, "\"game_id\":\"\xc0\x80\""},
	{`"game_id":"game-1"`, "\"game_id\":\"\xed\xa0\x80\""},
	{`"game_id":"game-1"`, "\"game_id\":\"\xef\xbf\xbd\u00e9\""},
	{`"game_id":"game-1"`, "\"game_id\":\"tab\there\""},
	{`"game_id":"game-1"`, `"game_id":"\x"`},
	{`"game_id":"game-1"`, `"game_id":"\u12"`},
	{`"game_id":"game-1"`, `"game_id":1`},
	{`"game_id":"game-1"`, `"game\u005fid":"game-1"`},
	{`"game_id":"game-1"`, `"Game_ID":"game-1"`},
	{`"game_id":"game-1"`, `"game_id":"game-1","game_id":"game-2"`},
	{`"game_id":"game-1"`, `"game_id":"game-1","extra":1`},
	{`"game_id":"game-1"`, `"game_id":"game-1",`},
	{`"game_id":"game-1"`, `"game_id" "game-1"`},
	{`"game_id":"game-1"`, `"game_id":"game-1" , "Mode":"race"`},
	{`"round_number":1`, `"round_number":1.0`},
	{`"round_number":1`, `"round_number":1e2`},
	{`"round_number":1`, `"round_number":1E+0`},
	{`"round_number":1`, `"round_number":-0`},
	{`"round_number":1`, `"round_number":-1`},
	{`"round_number":1`, `"round_number":01`},
	{`"round_number":1`, `"round_number":+1`},
	{`"round_number":1`, `"round_number":1.`},
	{`"round_number":1`, `"round_number":-`},
	{`"round_number":1`, `"round_number":9223372036854775807`},
	{`"round_number":1`, `"round_number":9223372036854775808`},
	{`"round_number":1`, `"round_number":-9223372036854775808`},
	{`"round_number":1`, `"round_number":-9223372036854775809`},
	{`"round_number":1`, `"round_number":99999999999999999999`},
	{`"round_number":1`, `"round_number":"1"`},
	{`"round_number":1`, `"round_number":true`},
	{`"round_number":1`, `"round_number":[]`},
	{`"mode":"knockout"`, `"mode":"solo"`},
	{`"mode":"knockout"`, `"mode":"kn\u006fckout"`},
	{`"mode":"knockout"`, `"mode":" knockout"`},
	{`"mode":"knockout"`, `"mode":5`},
	{`"mode":"knockout"`, `"mode":null`},
	{`"mode":"knockout"`, `"mode":{"a":[1,"x",true,false,{}]}`},
	{`"timestamp":"2025-03-14T15:09:26.535897932Z"`, `"timestamp":"2025-03-14T16:09:26+01:00"`},
	{`"timestamp":"2025-03-14T15:09:26.535897932Z"`, `"timestamp":"\u0032025-03-14T15:09:26Z"`},
	{`"timestamp":"2025-03-14T15:09:26.535897932Z"`, `"timestamp":"yesterday"`},
	{`"timestamp":"2025-03-14T15:09:26.535897932Z"`, `"timestamp":"0000-01-01T00:00:00+01:00"`},
	{`"timestamp":"2025-03-14T15:09:26.535897932Z"`, `"timestamp":null`},
	{`"timestamp":"2025-03-14T15:09:26.535897932Z"`, `"timestamp":12`},
	{`"metadata":{`, `"metadata":{"k":"1","k":"2",`},
	{`"metadata":{`, `"metadata":{"\u006b":"v","\ud83d\ude00":"",`},
	{`"metadata":{`, `"metadata":{"k":null,`},
	{`"metadata":{`, `"metadata":{"k":1,`},
	{`"metadata":{"channel_id":"chan-1","note":"café \"quoted\"\n"}`, `"metadata":{}`},
	{`"metadata":{"channel_id":"chan-1","note":"café \"quoted\"\n"}`, `"metadata":null`},
	{`"metadata":{"channel_id":"chan-1","note":"café \"quoted\"\n"}`, `"metadata":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`},
	{`"winners":["red"]`, `"winners":["red","red"]`},
	{`"winners":["red"]`, `"winners":[]`},
	{`"winners":["red"]`, `"winners":null`},
	{`"winners":["red"]`, `"winners":[1]`},
	{`"winners":["red"]`, `"winners":["\u0072ed",  "blue"  ]`},
	{`"winners":["red"]`, `"winners":{}`},
	{`"winners":["red"]`, `"winners":["red",]`},
	{`"winners":["red"]`, `"winners":["red" "blue"]`},
	{`"guess_successful":true`, `"guess_successful":1`},
	{`"guess_successful":true`, `"guess_successful":"true"`},
	{`"guess_successful":true`, `"guess_successful":tru`},
	{`"guess_successful":true`, `"guess_successful":trueish`},
	{`"last_guess":{`, `"last_guess":null,"x":{`},
	{`"last_guess":{"player_id":"p2","word":"river"}`, `"last_guess":null`},
	{`"last_guess":{"player_id":"p2","word":"river"}`, `"last_guess":{}`},
	{`"teams":{"blue":["p3","p4"]`, `"teams":{"blue":[]`},
	{`"teams":{"blue":["p3","p4"]`, `"teams":{"blue":null`},
	{`"teams":{"blue":["p3","p4"]`, `"teams":{"blue":["p3",null]`},
	{`"roles":{`, `"roles":{"p9":"player3",`},
	{`"team_states":{`, `"team_states":{"x":{"score":1,"score":2},`},
	{`"final_scores":{`, `"final_scores":{"x":1.5,`},
}

// fastDocuments returns the fixtures and their mutations, wrapped and
// cut in ways that make them invalid.
func fastDocuments(t testing.TB, j *serde.JSON) []fastFixture {
	t.Helper()
	var out []fastFixture
	for i, fx := range fastFixtures(t, j) {
		out = append(out, fx)
		doc := string(fx.data)
		for _, m := range fastMutations {
			if strings.Contains(doc, m[0]) {
				out = append(out, fastFixture{fx.tv, []byte(strings.Replace(doc, m[0], m[1], 1))})
			}
		}
		if i > 20 {
			continue // the simulated games add nothing new below
		}
		for _, d := range []string{
			" " + doc + "\n\t\r ", doc + "x", doc + "{}", doc + ",", "\ufeff" + doc, "[" + doc + "]",
			doc[:len(doc)-1], doc[:len(doc)/2], strings.Replace(doc, ":", " : ", -1),
			strings.Replace(doc, ",", "\v,", 1),
		} {
			out = append(out, fastFixture{fx.tv, []byte(d)})
		}
	}
	gp := serde.TypeVersion{Type: "guess_processed", Version: 1}
	for _, d := range []string{``, ` `, `{}`, `null`, `[]`, `"x"`, `1`, `{`, `}`, `{"game_id":}`, `{"":1}`} {
		out = append(out, fastFixture{gp, []byte(d)})
	}
	return out
}

func TestFastDecodeMutations(t *testing.T) {
	t.Parallel()
	j := fastSerializer(t)
	fast := 0
	for _, fx := range fastDocuments(t, j) {
		requireSameDecode(t, j, fx.tv, fx.data)
		if j.DecodesFast(fx.tv.Type, fx.tv.Version, fx.data) {
			fast++
		}
	}
	require.Positive(t, fast)
}

func FuzzFastDecode(f *testing.F) {
	j := fastSerializer(f)
	tvs := []serde.TypeVersion{{Type: "decode_sink", Version: 1}}
	for _, ev := range events.All() {
		tvs = append(tvs, serde.TypeVersion{Type: ev.EventType(), Version: ev.EventVersion()})
	}
	for _, fx := range fastDocuments(f, j) {
		f.Add(uint8(slices.Index(tvs, fx.tv)), fx.data)
	}
	f.Fuzz(func(t *testing.T, pick uint8, data []byte) {
		requireSameDecode(t, j, tvs[int(pick)%len(tvs)], data)
	})
}

func TestFastDecodeConcurrent(t *testing.T) {
	t.Parallel()
	j := fastSerializer(t)
	fxs := fastFixtures(t, j)
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := range 200 {
				fx := fxs[(w+i)%len(fxs)]
				if _, err := j.Unmarshal(fx.tv.Type, fx.tv.Version, fx.data); err != nil {
					errs <- fmt.Errorf("%s: %w", fx.tv, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

// refDecodeEnum is DecodeEnum for mode as it was before its fast path.
func refDecodeEnum(data []byte) (mode, error) {
	var s string
	if d := bytes.TrimSpace(data); len(d) == 0 || d[0] != '"' || json.Unmarshal(d, &s) != nil {
		return "", fmt.Errorf("enum: want a JSON string, got %.40q", data)
	}
	v := mode(s)
	if err := serde.CheckEnum(v, modes()...); err != nil {
		return "", err
	}
	return v, nil
}

// refTime is Time.UnmarshalJSON, into t, as it was before its fast path.
func refTime(t serde.Time, data []byte) (serde.Time, error) {
	if bytes.Equal(data, []byte("null")) {
		return t, nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return t, errors.New("time: want an RFC 3339 string")
	}
	err := t.UnmarshalText([]byte(s))
	return t, err
}

// refSet is Set.UnmarshalJSON, into s, as it was before its fast path.
func refSet(s serde.Set[string], data []byte) (serde.Set[string], error) {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return serde.Set[string]{}, nil
	}
	var items []string
	if err := json.Unmarshal(data, &items); err != nil {
		return s, err
	}
	var out serde.Set[string]
	for _, it := range items {
		if out.Has(it) {
			return s, fmt.Errorf("%w: duplicate set member %#v", serde.ErrInvalidEventData, it)
		}
		out.Add(it)
	}
	return out, nil
}

// requireSameResult checks that two (value, error) results agree.
func requireSameResult[T any](t *testing.T, data []byte, want T, wantErr error, got T, gotErr error) {
	t.Helper()
	if wantErr != nil {
		require.EqualError(t, gotErr, wantErr.Error(), "%q", data)
		require.Equal(t, errors.Is(wantErr, serde.ErrInvalidEventData), errors.Is(gotErr, serde.ErrInvalidEventData))
	} else {
		require.NoError(t, gotErr, "%q", data)
	}
	require.Equal(t, want, got, "%q", data)
}

// FuzzFastDecodeHelpers checks the fast paths of DecodeEnum,
// Time.UnmarshalJSON and Set.UnmarshalJSON against the code they
// accelerate (which encoding/json also runs, so FuzzFastDecode cannot).
func FuzzFastDecodeHelpers(f *testing.F) {
	for _, s := range []string{
		`"race"`, `"knockout"`, `"solo"`, `"ra\u0063e"`, ` "race" `, `"race`, `race"`, `""`, `"`, `null`, `5`,
		"\"\xff\"", "\"tab\t\"", `"2026-11-26T10:00:00.123456789Z"`, `"2026-11-26T10:00:00+01:00"`,
		`"0000-01-01T00:00:00+01:00"`, `"\u0032026-11-26T10:00:00Z"`, `["a","b"]`, `[]`, ` [ "a" , "b" ] `,
		`["a","a"]`, `["\u0061","a"]`, `["a",null]`, `["a",1]`, `["a",]`, `["a"] x`, `[["a"]]`, `{}`,
		"[\"\xed\xa0\x80\"]", `["\ud83d"]`, `["\ud83d\ude00","é"]`, "\v[\"a\"]", ` null `,
	} {
		f.Add([]byte(s))
	}
	start := mustTime(f, "2001-02-03T04:05:06Z")
	f.Fuzz(func(t *testing.T, data []byte) {
		wantMode, wantErr := refDecodeEnum(data)
		gotMode, gotErr := serde.DecodeEnum(data, modes()...)
		requireSameResult(t, data, wantMode, wantErr, gotMode, gotErr)

		wantTime, wantErr := refTime(start, data)
		gotTime := start
		gotErr = gotTime.UnmarshalJSON(data)
		requireSameResult(t, data, wantTime, wantErr, gotTime, gotErr)

		keep := serde.NewSet("keep")
		wantSet, wantErr := refSet(keep, data)
		gotSet := serde.NewSet("keep")
		gotErr = gotSet.UnmarshalJSON(data)
		requireSameResult(t, data, wantSet, wantErr, gotSet, gotErr)
	})
}

// TestFastDecodeAllocations: a typical GameBot event (a guess with its two
// players and two metadata entries, as PostgreSQL renders it) decodes with
// a bounded number of allocations. Its strings are slices of one copy of
// the document, not one allocation each; validating it allocates nothing;
// and the decoded event owns its strings: overwriting the input afterwards
// changes nothing.
func TestFastDecodeAllocations(t *testing.T) {
	j := fastSerializer(t)
	ev := events.GuessProcessed{
		Base: events.Base{
			GameID: "game-1187342254", GuildID: "guild-1", Mode: events.ModeKnockout, RoundNumber: 2,
			Timestamp: serde.NewTime(time.Date(2025, 3, 14, 18, 30, 0, 0, time.UTC)),
			Metadata:  map[string]string{"channel_id": "1187342254018523999", "message_id": "1219876543210000007"},
		},
		TeamID:      "team-3",
		Player1Info: events.PlayerInfo{PlayerID: "318472993561247104", Name: "wordsmith_4", Role: events.RolePlayer1},
		Player2Info: events.PlayerInfo{PlayerID: "318472993561247105", Name: "riddler_5", Role: events.RolePlayer2},
		Player1Word: "lantern", Player2Word: "harbor", GuessCount: 3, GuessDurationMs: 4512,
	}
	data := jsonbText(t, must(j.Marshal(ev)))
	require.True(t, j.DecodesFast("guess_processed", 1, data))
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := j.Unmarshal("guess_processed", 1, data); err != nil {
			panic(err)
		}
	})
	// The value, the scanner, the copy of the document, the metadata map
	// (two allocations), and the value boxed into the Event interface
	// (27 before strings were sliced from one copy and validation stopped
	// allocating).
	require.LessOrEqual(t, allocs, 6.0)

	got, err := j.Unmarshal("guess_processed", 1, data)
	require.NoError(t, err)
	for i := range data {
		data[i] = 'x'
	}
	require.Equal(t, ev, got)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
