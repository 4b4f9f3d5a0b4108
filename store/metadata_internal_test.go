package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// metadataSeeds are flat and not-quite-flat objects, in the store's and
// jsonb's spelling and in odd ones.
var metadataSeeds = []string{
	`{}`, ` { } `, `{"a": "b"}`, `{"command_id":"c-1","user_id":"u 2"}`,
	`{"a": "b", "c": "d"}`, `{"k": "q\"uote \\ back\/slash \b\f\n\r\t"}`,
	`{"u": "\u00e9\u4e2d\ud83d\ude00"}`, `{"lone": "\ud83d"}`, `{"low": "\ude00x"}`,
	`{"nul": "\u0000"}`, `{"bad": "\x"}`, `{"n": 1}`, `{"o": {"p": "q"}}`, `{"a": null}`,
	`{"a": "b",}`, `{"a" "b"}`, `{"a": "b"} x`, `["a"]`, `"a"`, `{"é": "ü"}`,
	"{\"a\": \"\xff\"}", "{\"a\": \"b\tc\"}", `{"a": "b", "a": "c"}`, `{"a":"b"`, `{"a":`,
	`{"\u0041": "\u004A"}`, `{"a": "\uDBFF\uDFFF"}`, `{"a": "\uD800\u0041"}`,
}

// TestParseFlatObjectMatchesEncodingJSON checks the fast metadata parser
// against encoding/json on the seeds.
func TestParseFlatObjectMatchesEncodingJSON(t *testing.T) {
	parsed := 0
	for _, in := range metadataSeeds {
		if checkFlatObject(t, []byte(in)) {
			parsed++
		}
	}
	// The store's own shapes must take the fast path.
	for _, in := range []string{`{"a": "b"}`, `{"command_id":"c-1","user_id":"u 2"}`, `{"u": "\u00e9\ud83d\ude00"}`} {
		_, ok := parseFlatObject([]byte(in))
		require.True(t, ok, in)
	}
	require.Greater(t, parsed, 10)
}

// FuzzParseFlatObject: whenever the fast parser accepts an input,
// encoding/json decodes it to the same map.
func FuzzParseFlatObject(f *testing.F) {
	for _, s := range metadataSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFlatObject(t, b) })
}

// checkFlatObject compares parseFlatObject with json.Unmarshal into a
// map[string]string and reports whether the fast parser took the input.
// The fast parser may refuse what encoding/json accepts (invalid UTF-8,
// which encoding/json replaces), never the other way round.
func checkFlatObject(t *testing.T, b []byte) bool {
	t.Helper()
	got, ok := parseFlatObject(b)
	var want map[string]string
	err := json.Unmarshal(b, &want)
	if !ok {
		return false
	}
	require.NoError(t, err, "fast parser accepted %q", b)
	require.Equal(t, want, got, "input %q", b)
	return true
}

// FuzzEncodeMetadata: whatever encodeMetadata accepts decodes back to the
// same map, through encoding/json and through the store's own parser.
func FuzzEncodeMetadata(f *testing.F) {
	f.Add("command_id", "c-1", "user", "ünïcode ✓")
	f.Add("q\"uote", "back\\slash", "ctl\x01\x1f\n\r\t", "<html>&\u2028")
	f.Add("", "", "bad", "\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		b, err := encodeMetadata(m)
		if err != nil {
			return
		}
		var back map[string]string
		require.NoError(t, json.Unmarshal(b, &back), "%q", b)
		require.Equal(t, m, back)
		flat, ok := parseFlatObject(b)
		require.True(t, ok, "%q", b)
		require.Equal(t, m, flat)
	})
}
