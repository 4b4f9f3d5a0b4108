package events_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

func TestAll(t *testing.T) {
	t.Parallel()
	var got []string
	for _, ev := range events.All() {
		require.Equal(t, 1, ev.EventVersion())
		require.Equal(t, reflect.Struct, reflect.TypeOf(ev).Kind(), "prototypes are values")
		got = append(got, ev.EventType())
	}
	require.Equal(t, []string{
		"game_started", "round_started", "guess_processed", "guess_abandoned", "team_eliminated",
		"game_completed", "knockout_round_completed", "race_mode_time_expired",
	}, got)
}

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	reg := events.NewRegistry()
	require.Len(t, reg.Types(), 8)
	for _, ev := range events.All() {
		require.True(t, reg.Has(ev.EventType(), 1), ev.EventType())
		typ, ok := reg.GoType(ev.EventType(), 1)
		require.True(t, ok)
		require.Equal(t, reflect.TypeOf(ev), typ)
	}
	require.NotSame(t, reg, events.NewRegistry(), "every call returns a fresh registry")
}

func TestRegisterTwiceFails(t *testing.T) {
	t.Parallel()
	reg := serde.NewRegistry()
	require.NoError(t, events.Register(reg))
	require.ErrorIs(t, events.Register(reg), serde.ErrInvalidEventType)
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	j := serde.NewJSON(events.NewRegistry())
	for _, ev := range validEvents() {
		t.Run(ev.EventType(), func(t *testing.T) {
			t.Parallel()
			b, err := j.Marshal(ev)
			require.NoError(t, err)
			got, err := j.Unmarshal(ev.EventType(), ev.EventVersion(), b)
			require.NoError(t, err)
			require.Equal(t, ev, got)
			again, err := j.Marshal(got)
			require.NoError(t, err)
			require.Equal(t, string(b), string(again), "encoding is deterministic")

			ptr := reflect.New(reflect.TypeOf(ev))
			ptr.Elem().Set(reflect.ValueOf(ev))
			fromPtr, err := j.Marshal(ptr.Interface().(serde.Event))
			require.NoError(t, err)
			require.Equal(t, string(b), string(fromPtr), "a pointer encodes like its value")
		})
	}
}

func TestGameStartedJSON(t *testing.T) {
	t.Parallel()
	b, err := serde.NewJSON(events.NewRegistry()).Marshal(validGameStarted())
	require.NoError(t, err)
	require.Equal(t, `{"game_id":"game-1","guild_id":"guild-1","mode":"knockout","round_number":1,`+
		`"timestamp":"2025-03-14T15:09:26.535897932Z","metadata":{"channel_id":"chan-1"},`+
		`"teams":{"blue":["p3","p4"],"red":["p1","p2"]},"team_ids":["blue","red"],`+
		`"player_ids":["p1","p2","p3","p4"],`+
		`"roles":{"p1":"player1","p2":"player2","p3":"player1","p4":"player2"},`+
		`"config":{"max_rounds":3,"max_guesses":5,"time_limit_seconds":300,"word_list":"default"}}`,
		string(b))
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	j := serde.NewJSON(events.NewRegistry())
	valid, err := j.Marshal(validGuessAbandoned())
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		edit    func(map[string]any)
		wantErr error
	}{
		{name: "unknown mode", edit: func(m map[string]any) { m["mode"] = "solo" }, wantErr: serde.ErrInvalidEventData},
		{name: "unknown reason", edit: func(m map[string]any) { m["reason"] = "bored" }, wantErr: serde.ErrInvalidEventData},
		{name: "unknown role", edit: func(m map[string]any) {
			m["player1_info"] = map[string]any{"player_id": "p1", "role": "boss"}
		}, wantErr: serde.ErrInvalidEventData},
		{name: "missing game_id", edit: func(m map[string]any) { delete(m, "game_id") }, wantErr: serde.ErrInvalidEventData},
		{name: "mode as a number", edit: func(m map[string]any) { m["mode"] = 2 }, wantErr: serde.ErrDeserializationFailed},
		{name: "unknown field", edit: func(m map[string]any) { m["score"] = 1 }, wantErr: serde.ErrDeserializationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			require.NoError(t, json.Unmarshal(valid, &m))
			tc.edit(m)
			b, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = j.Unmarshal("guess_abandoned", 1, b)
			require.ErrorIs(t, err, tc.wantErr, fmt.Sprint(err))
		})
	}
}

func TestMarshalRefusesInvalidEvents(t *testing.T) {
	t.Parallel()
	ev := validGameCompleted()
	ev.Winners = serde.Set[string]{}
	_, err := serde.NewJSON(events.NewRegistry()).Marshal(ev)
	require.ErrorIs(t, err, serde.ErrInvalidEventData)
}
