package reliability_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// EnvSoak names the environment variable that sets the soak's duration
// (a Go duration such as 5m); unset, the soak runs for quickSoak.
const EnvSoak = "EVENTSTORE_SOAK"

// quickSoak is the soak's duration inside `make test`.
const quickSoak = 20 * time.Second

// TestSoak runs eight writers over sixteen own and eight shared streams
// with every kind of expected version (stale ones included, so conflicts
// are frequent), three stream readers, the live feed reader and an
// in-memory and a persistent subscription (its consumer restarted every
// five seconds), with a few backends terminated every 500 ms. Afterwards
// every invariant of the fault scenarios holds, and the conflicts and
// acknowledged appends the writers saw equal the store's own counters.
func TestSoak(t *testing.T) {
	t.Parallel()
	duration := quickSoak
	if v := os.Getenv(EnvSoak); v != "" {
		var err error
		duration, err = time.ParseDuration(v)
		require.NoError(t, err, "%s=%q", EnvSoak, v)
	}
	r := newRig(t)
	scenario{
		fault:        "soak: 8 writers x 24 streams, 3 readers, 3 feed consumers, pg_terminate_backend every 500 ms",
		duration:     duration,
		stores:       retryingAndNot(),
		work:         workload{writers: 8, ownStreams: 2, sharedStreams: 8, maxBatch: 100, pad: 300, appendContext: timeoutContext(30 * time.Second), resend: 2, varied: true},
		readers:      3,
		restartEvery: 5 * time.Second,
		minFaults:    1,
		inject: func(t *testing.T) injection {
			return r.terminator(t, 500*time.Millisecond)
		},
	}.run(t, r)
}
