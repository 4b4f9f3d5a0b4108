package serde

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkTimeLayout requires parseTimeLayout to agree with UnmarshalText on
// s: what the fast path accepts, UnmarshalText accepts as the same Time;
// and when wellFormed (s has TimeLayout's shape, only digits where it has
// digits), what UnmarshalText accepts the fast path accepts too.
func checkTimeLayout(t *testing.T, s string, wellFormed bool) {
	t.Helper()
	fast, fastOK := parseTimeLayout([]byte(s))
	var slow Time
	slowErr := slow.UnmarshalText([]byte(s))
	if fastOK {
		require.NoError(t, slowErr, "%q: the fast path accepted what UnmarshalText refuses", s)
		require.Equal(t, slow, fast, "%q", s)
	}
	if wellFormed && slowErr == nil {
		require.True(t, fastOK, "%q: the fast path refused a time in TimeLayout", s)
	}
}

// TestParseTimeLayoutAgreesWithUnmarshalText: the decoder's fast path for
// a Time (a string in TimeLayout) gives what Time's UnmarshalText gives:
// the same value for every time it accepts, and it accepts every valid
// time in TimeLayout, over every day of every month of common, leap and
// century years, every hour, minute and second around their limits,
// random instants from year 0 to 9999, and every one-byte change of a
// time.
func TestParseTimeLayoutAgreesWithUnmarshalText(t *testing.T) {
	for _, year := range []int{0, 1, 4, 100, 400, 1900, 1970, 2000, 2023, 2024, 2100, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				checkTimeLayout(t, fmt.Sprintf("%04d-%02d-%02dT12:34:56.123456789Z", year, month, day), true)
			}
		}
	}
	for hour := 0; hour <= 25; hour++ {
		for minute := 0; minute <= 61; minute += 1 {
			for _, sec := range []int{0, 1, 58, 59, 60, 61, 99} {
				checkTimeLayout(t, fmt.Sprintf("2024-02-29T%02d:%02d:%02d.000000000Z", hour, minute, sec), true)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() / 2 // UnixNano's range is smaller than 0–9999
	for range 20000 {
		var tt time.Time
		if rng.IntN(2) == 0 {
			tt = time.Unix(0, lo+rng.Int64N(-2*lo)).UTC()
		} else {
			tt = time.Date(rng.IntN(10000), time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), rng.IntN(60),
				rng.IntN(60), rng.IntN(1e9), time.UTC)
		}
		s := tt.Format(TimeLayout)
		checkTimeLayout(t, s, true)
		fast, ok := parseTimeLayout([]byte(s))
		require.True(t, ok, s)
		require.Equal(t, NewTime(tt), fast, s)
	}
	base := "2024-02-29T23:59:59.999999999Z"
	for i := range len(base) {
		for _, c := range []byte("0129-:.TtZz +\x00\xff") {
			b := []byte(base)
			b[i] = c
			checkTimeLayout(t, string(b), false)
		}
		checkTimeLayout(t, base[:i]+base[i+1:], false)
		checkTimeLayout(t, base[:i]+"0"+base[i:], false)
	}
	for _, s := range []string{"", "2024-02-29T23:59:59Z", "2024-02-29T23:59:59.999999999+00:00",
		"2024-02-29t23:59:59.999999999z", "-001-02-28T23:59:59.999999999Z", "+2024-02-29T23:59:59.99999999Z"} {
		checkTimeLayout(t, s, false)
	}
}

// FuzzParseTimeLayout: whatever the fast path accepts, UnmarshalText
// accepts as the same Time.
func FuzzParseTimeLayout(f *testing.F) {
	f.Add("2024-02-29T23:59:59.999999999Z")
	f.Add("2023-02-29T23:59:59.999999999Z")
	f.Add("0000-01-01T00:00:00.000000000Z")
	f.Fuzz(func(t *testing.T, s string) {
		checkTimeLayout(t, s, false)
	})
}
