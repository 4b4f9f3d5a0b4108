package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFixtureSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		scale float64
		want  int
	}{
		{"default scale: the full 10,000 events", 1, 10_000},
		{"bigger scales keep the stream limit", 25, 10_000},
		{"smoke run shrinks", 0.25, 2_500},
		{"never below 1000", 0.001, 1_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &runner{opts: Options{Scale: tc.scale}}
			require.Equal(t, tc.want, r.fixtureSize(10_000))
		})
	}
}

// TestReadPasses: the raw reads, about twice as fast a pass, make twice
// the typed reads' passes a repeat; a smoke run still makes one.
func TestReadPasses(t *testing.T) {
	t.Parallel()
	r := &runner{opts: Options{Scale: 1}}
	require.Equal(t, readStreamPasses, r.readPasses(readStreamPasses, true))
	require.Equal(t, 2*readStreamPasses, r.readPasses(readStreamPasses, false))
	require.Equal(t, 2*feedPasses, r.readPasses(feedPasses, false))
	r = &runner{opts: Options{Scale: 0.01}}
	require.Equal(t, 1, r.readPasses(feedPasses, true))
	require.Equal(t, 1, r.readPasses(feedPasses, false))
}

func TestSelectScenarios(t *testing.T) {
	t.Parallel()
	all, err := selectScenarios(nil)
	require.NoError(t, err)
	require.Len(t, all, len(Scenarios()))

	some, err := selectScenarios([]string{"read_stream", "append_single"})
	require.NoError(t, err)
	require.Equal(t, "append_single", some[0].name, "run order is the fixed order, not the flag's")
	require.Equal(t, "read_stream", some[1].name)

	_, err = selectScenarios([]string{"append_single", "nope"})
	require.ErrorContains(t, err, `unknown scenario "nope"`)
}
