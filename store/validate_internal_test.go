package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckNameASCII: the one-pass check of an all-ASCII name says what the
// check by runes says, on every ASCII name of up to three characters, with
// a length limit below, at and above its length.
func TestCheckNameASCII(t *testing.T) {
	t.Parallel()
	var names []string
	for a := range 128 {
		names = append(names, string(rune(a)))
		for b := range 128 {
			names = append(names, string([]byte{byte(a), byte(b)}))
		}
	}
	for _, mid := range []byte{'x', ' ', '\t', 0, 0x7f} {
		for _, end := range []byte{'x', ' ', '\n', 0x1f} {
			names = append(names, string([]byte{end, mid, 'y'}), string([]byte{'y', mid, end}))
		}
	}
	for _, name := range names {
		for maxLen := len(name) - 1; maxLen <= len(name)+1; maxLen++ {
			require.Equal(t, checkNameRunes(name, maxLen), checkName(name, maxLen), "%q, at most %d", name, maxLen)
		}
	}
	require.Equal(t, "", checkName("game-1187342254", MaxStreamIDLength))
	require.NotEqual(t, "", checkName(" game", MaxStreamIDLength))
}
