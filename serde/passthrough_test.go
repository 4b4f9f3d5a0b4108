package serde_test

import (
	"encoding/json"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/stretchr/testify/require"
)

func TestPassthrough(t *testing.T) {
	t.Parallel()
	var p serde.Passthrough

	t.Run("any event", func(t *testing.T) {
		t.Parallel()
		data, err := p.Marshal(unregistered{X: 3})
		require.NoError(t, err)
		require.Equal(t, `{"x":3}`, string(data))
	})

	t.Run("raw as is", func(t *testing.T) {
		t.Parallel()
		raw := serde.Raw{Type: "t", Version: 2, Data: json.RawMessage(`{"b":1,"a":2}`)}
		data, err := p.Marshal(raw)
		require.NoError(t, err)
		require.Equal(t, `{"b":1,"a":2}`, string(data))
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		_, err := p.Marshal(serde.Raw{Type: "t", Version: 2, Data: json.RawMessage(`[]`)})
		require.ErrorIs(t, err, serde.ErrInvalidEventData)
		require.ErrorContains(t, err, "t v2")

		_, err = p.Marshal(nil)
		require.ErrorIs(t, err, serde.ErrInvalidEventType)

		_, err = p.Marshal(badMarshal{Fail: "array"})
		require.ErrorIs(t, err, serde.ErrSerializationFailed)
		require.ErrorContains(t, err, "bad_marshal v1: not a JSON object")
	})

	t.Run("unmarshal returns raw", func(t *testing.T) {
		t.Parallel()
		ev, err := p.Unmarshal("t", 5, []byte(`{"a":1}`))
		require.NoError(t, err)
		require.Equal(t, serde.Raw{Type: "t", Version: 5, Data: json.RawMessage(`{"a":1}`)}, ev)
		require.Equal(t, "t", ev.EventType())
		require.Equal(t, 5, ev.EventVersion())
	})
}
