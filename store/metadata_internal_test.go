package store

import (
	"encoding/json"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

// FuzzEncodeMetadata: whatever encodeMetadata accepts decodes back to the
// same map, through encoding/json and through Metadata.Strings and Metadata.Get.
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
		flat, ok := serde.DecodeStringMap(b)
		require.True(t, ok, "%q", b)
		require.Equal(t, m, flat)
		if len(m) > 0 && string(b) != "{}" {
			require.Equal(t, m, Metadata(b).Strings())
			for k, v := range m {
				got, found := Metadata(b).Get(k)
				require.True(t, found, "%q in %q", k, b)
				require.Equal(t, v, got)
			}
		}
	})
}
