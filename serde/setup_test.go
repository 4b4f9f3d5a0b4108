package serde_test

import (
	"errors"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

// mode is a test enum, the way a domain package writes one.
type mode string

const (
	twoPlayer mode = "two_player"
	knockout  mode = "knockout"
	race      mode = "race"
)

func modes() []mode { return []mode{twoPlayer, knockout, race} }

func (m mode) MarshalJSON() ([]byte, error) { return serde.EncodeEnum(m, modes()...) }

func (m *mode) UnmarshalJSON(b []byte) (err error) {
	*m, err = serde.DecodeEnum(b, modes()...)
	return err
}

// guessProcessed is registered as a value, with a Validate method.
type guessProcessed struct {
	GameID    string            `json:"game_id"`
	Round     int               `json:"round"`
	Player    string            `json:"player"`
	Word      string            `json:"word"`
	Mode      mode              `json:"mode"`
	Players   serde.Set[string] `json:"players"`
	Timestamp serde.Time        `json:"timestamp"`
}

func (guessProcessed) EventType() string { return "guess_processed" }
func (guessProcessed) EventVersion() int { return 1 }

func (g guessProcessed) Validate() error {
	// A missing enum field leaves the zero value without calling
	// UnmarshalJSON, so Validate checks it.
	if err := serde.CheckEnum(g.Mode, modes()...); err != nil {
		return err
	}
	if g.Word == "" {
		return errors.New("word is empty")
	}
	if g.Round < 1 {
		return errors.New("round must be at least 1")
	}
	return nil
}

// guessProcessedV2 is registered as a pointer, with a pointer-receiver
// Validate and a map field.
type guessProcessedV2 struct {
	GameID     string         `json:"game_id"`
	Word       string         `json:"word"`
	DurationMS int64          `json:"duration_ms"`
	Scores     map[string]int `json:"scores"`
	Extra      map[string]any `json:"extra"`
	Timestamp  serde.Time     `json:"timestamp"`
}

func (*guessProcessedV2) EventType() string { return "guess_processed" }
func (*guessProcessedV2) EventVersion() int { return 2 }

func (g *guessProcessedV2) Validate() error {
	if g.DurationMS < 0 {
		return errors.New("duration_ms is negative")
	}
	return nil
}

// gameStarted is registered as a value.
type gameStarted struct {
	GameID    string         `json:"game_id"`
	Mode      mode           `json:"mode"`
	Teams     serde.Set[int] `json:"teams"`
	Words     []string       `json:"words"`
	StartedAt serde.Time     `json:"started_at"`
}

func (gameStarted) EventType() string { return "game_started" }
func (gameStarted) EventVersion() int { return 1 }

func (g gameStarted) Validate() error { return serde.CheckEnum(g.Mode, modes()...) }

// unregistered is an event no test registry knows.
type unregistered struct {
	X int `json:"x"`
}

func (unregistered) EventType() string { return "unregistered" }
func (unregistered) EventVersion() int { return 1 }

// testBundle is what setup returns.
type testBundle struct {
	reg  *serde.Registry
	json *serde.JSON
}

// setup returns a registry holding the test events and a JSON serializer
// on it.
func setup(t testing.TB) testBundle {
	t.Helper()
	reg := serde.NewRegistry()
	require.NoError(t, reg.Register(guessProcessed{}, (*guessProcessedV2)(nil), gameStarted{}))
	return testBundle{reg: reg, json: serde.NewJSON(reg)}
}
