package serde_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

// stringMapSeeds are flat and not-quite-flat objects, in the store's and
// jsonb's spelling and in odd ones.
var stringMapSeeds = []string{
	`{}`, ` { } `, `{"a": "b"}`, `{"command_id":"c-1","user_id":"u 2"}`,
	`{"a": "b", "c": "d"}`, `{"k": "q\"uote \\ back\/slash \b\f\n\r\t"}`,
	`{"u": "\u00e9\u4e2d\ud83d\ude00"}`, `{"lone": "\ud83d"}`, `{"low": "\ude00x"}`,
	`{"nul": "\u0000"}`, `{"bad": "\x"}`, `{"n": 1}`, `{"o": {"p": "q"}}`, `{"a": null}`,
	`{"a": "b",}`, `{"a" "b"}`, `{"a": "b"} x`, `["a"]`, `"a"`, `{"é": "ü"}`,
	"{\"a\": \"\xff\"}", "{\"a\": \"b\tc\"}", `{"a": "b", "a": "c"}`, `{"a":"b"`, `{"a":`,
	`{"\u0041": "\u004A"}`, `{"a": "\uDBFF\uDFFF"}`, `{"a": "\uD800\u0041"}`, "\t{\"a\":\"b\"}\n",
}

// TestDecodeStringMapMatchesEncodingJSON checks DecodeStringMap against
// encoding/json on the seeds, and that the store's shapes take it.
func TestDecodeStringMapMatchesEncodingJSON(t *testing.T) {
	decoded := 0
	for _, in := range stringMapSeeds {
		if checkStringMap(t, []byte(in)) {
			decoded++
		}
	}
	require.Greater(t, decoded, 10)
	for _, in := range []string{`{"a": "b"}`, `{"command_id":"c-1","user_id":"u 2"}`, `{"u": "\u00e9\ud83d\ude00"}`, `{}`} {
		_, ok := serde.DecodeStringMap([]byte(in))
		require.True(t, ok, in)
	}
}

// TestDecodeStringMapCopiesOnce: the map owns its strings (changing the
// input afterwards changes nothing), and a flat object without escapes
// costs one string allocation whatever its size, besides the map itself.
func TestDecodeStringMapCopiesOnce(t *testing.T) {
	in := []byte(`{"command_id":"0193d2a1-7c4e-7a8b-9f00-1234567890ab","user_id":"318472993561247104","q":"a\"b"}`)
	got, ok := serde.DecodeStringMap(in)
	require.True(t, ok)
	for i := range in {
		in[i] = 'x'
	}
	require.Equal(t, map[string]string{"command_id": "0193d2a1-7c4e-7a8b-9f00-1234567890ab", "user_id": "318472993561247104", "q": `a"b`}, got)

	flat := func(pairs int) []byte {
		m := map[string]string{}
		for i := range pairs {
			m[fmt.Sprintf("key-%d", i)] = fmt.Sprintf("value-%d", i)
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	two, six := flat(2), flat(6)
	allocs := func(b []byte) float64 {
		return testing.AllocsPerRun(100, func() {
			if _, ok := serde.DecodeStringMap(b); !ok {
				panic("not decoded")
			}
		})
	}
	// The map with its first group, and one string; six pairs fit the
	// same group, so they cost no more than two.
	require.LessOrEqual(t, allocs(two), 3.0)
	require.Equal(t, allocs(two), allocs(six))
}

// FuzzDecodeStringMap: whenever DecodeStringMap accepts an input,
// encoding/json decodes it to the same map.
func FuzzDecodeStringMap(f *testing.F) {
	for _, s := range stringMapSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkStringMap(t, b) })
}

// checkStringMap compares DecodeStringMap with json.Unmarshal into a
// map[string]string and reports whether DecodeStringMap took the input.
// It may refuse what encoding/json accepts (duplicate keys, invalid
// UTF-8), never the other way round.
func checkStringMap(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := serde.DecodeStringMap(b)
	if !ok {
		return false
	}
	var want map[string]string
	require.NoError(t, json.Unmarshal(b, &want), "DecodeStringMap accepted %q", b)
	require.Equal(t, want, got, "input %q", b)
	return true
}

// FuzzAppendJSONString: the output is what encoding/json writes with HTML
// escaping off.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"uote \\ ctl\x01\x1f\n\r\t", "<html>&\u2028\u2029", "bad \xff utf-8", "ünïcode ✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		got := serde.AppendJSONString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(got, &back))
		require.Equal(t, string(unescapeHTML(want)), string(got))
	})
}

// unescapeHTML undoes json.Marshal's HTML escaping of <, > and &.
func unescapeHTML(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+4]) == "00" {
			switch string(b[i+4 : i+6]) {
			case "3c":
				out, i = append(out, '<'), i+5
				continue
			case "3e":
				out, i = append(out, '>'), i+5
				continue
			case "26":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		if b[i] == '\\' && i+1 < len(b) {
			out = append(out, b[i], b[i+1])
			i++
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// lookupSeeds add nested values, nulls and numbers to the flat seeds.
var lookupSeeds = append([]string{
	`{"actor": {"id": "42", "roles": ["host", "player"]}, "n": 5, "ratio": 0.25, "ok": true, "none": null, "s": "text"}`,
	`{"a": [1, {"b": "c"}], "k": false}`, `{"a": {"b": null}, "k": "v"}`, `{"k": 1e3}`, `{"k": -0.5, "k2": "x"}`,
	`{"k": tru}`, `{"k": [1,]}`, `{"k\u0000": "nul key"}`,
}, stringMapSeeds...)

// TestLookupMemberMatchesEncodingJSON checks LookupMember against
// encoding/json on the seeds, for every key of each and a missing one.
func TestLookupMemberMatchesEncodingJSON(t *testing.T) {
	found := 0
	for _, in := range lookupSeeds {
		for _, key := range []string{"a", "k", "s", "n", "none", "actor", "missing", "A", "\u00e9", "k\x00", ""} {
			if checkLookupMember(t, []byte(in), key) {
				found++
			}
		}
	}
	require.Greater(t, found, 15)
	text, ok, wellFormed := serde.LookupMember([]byte(lookupSeeds[0]), "actor")
	require.True(t, ok && wellFormed)
	require.Equal(t, `{"id": "42", "roles": ["host", "player"]}`, text)
}

// TestLookupMemberAllocations: a string member without escapes costs one
// allocation (the string), a missing member none.
func TestLookupMemberAllocations(t *testing.T) {
	in := []byte(`{"command_id": "0193d2a1-7c4e-7a8b-9f00-1234567890ab", "user_id": "318472993561247104"}`)
	require.LessOrEqual(t, testing.AllocsPerRun(100, func() {
		if v, found, ok := serde.LookupMember(in, "user_id"); !ok || !found || v != "318472993561247104" {
			panic("not found")
		}
	}), 1.0)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, found, ok := serde.LookupMember(in, "missing"); !ok || found {
			panic("found")
		}
	}))
}

// FuzzLookupMember: whenever LookupMember reads an input, encoding/json
// decodes it and agrees on the member.
func FuzzLookupMember(f *testing.F) {
	for _, s := range lookupSeeds {
		f.Add([]byte(s), "k")
	}
	f.Fuzz(func(t *testing.T, b []byte, key string) { checkLookupMember(t, b, key) })
}

// checkLookupMember compares LookupMember with json.Unmarshal into a
// map[string]json.RawMessage and reports whether the member was found.
// LookupMember may refuse what encoding/json accepts (duplicate keys,
// invalid UTF-8, deep nesting), never the other way round.
func checkLookupMember(t *testing.T, b []byte, key string) bool {
	t.Helper()
	text, found, ok := serde.LookupMember(b, key)
	if !ok {
		return false
	}
	var members map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &members), "LookupMember accepted %q", b)
	require.NotNil(t, members, "LookupMember accepted %q", b)
	raw, has := members[key]
	require.Equal(t, has, found, "input %q, key %q", b, key)
	if !has {
		return false
	}
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		require.NoError(t, json.Unmarshal(raw, &s))
		require.Equal(t, s, text, "input %q, key %q", b, key)
	} else {
		require.Equal(t, string(raw), text, "input %q, key %q", b, key)
	}
	return true
}
