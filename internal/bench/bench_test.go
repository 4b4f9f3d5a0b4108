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
