package game_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
)

// corruption is a damaged stream as an operator would find it, written
// directly into the database, and the error recovery must report.
type corruption struct {
	name string
	// complete stores the whole game; otherwise it stops mid-game (in its
	// last round).
	complete bool
	// corrupt damages the stream of game id, whose n events are evs.
	corrupt func(t *testing.T, e *env, id string, evs []events.GameEvent)
	// want is the sentinel and rule of the error.
	want error
	rule string
	// at returns the stream version the error names, given n.
	at func(n int64) int64
	// resumable: SkipAndReport skips the event at `at` and goes on.
	resumable bool
	// missing: the event at `at` is gone, so the error names no event id.
	missing bool
}

// TestRecoverCorruption: each kind of damage produces its precise typed
// error naming the event, under the default policy; under SkipAndReport a
// resumable one is skipped and reported (with every later event its
// absence makes invalid) and the state is what applying the remaining
// events in memory gives, while one that is not resumable still fails.
func TestRecoverCorruption(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Config{})
	atEnd := func(n int64) int64 { return n + 1 }
	at := func(v int64) func(int64) int64 { return func(int64) int64 { return v } }
	copyLast := func(set map[string]string) func(*testing.T, *env, string, []events.GameEvent) {
		return func(t *testing.T, e *env, id string, evs []events.GameEvent) {
			e.copyEvent(t, id, int64(len(evs)), set)
		}
	}
	cases := []corruption{
		{
			name: "gap in stream versions",
			corrupt: func(t *testing.T, e *env, id string, _ []events.GameEvent) {
				e.admin(t, `DELETE FROM eventstore.events WHERE stream_id = $1 AND stream_version = 5`, id)
			},
			want: game.ErrSequenceGap, rule: game.RuleContiguous, at: at(5), missing: true,
		},
		{
			name: "events missing at the end",
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				e.admin(t, `DELETE FROM eventstore.events WHERE stream_id = $1 AND stream_version >= $2`, id, len(evs)-1)
			},
			want: game.ErrSequenceGap, rule: game.RuleStreamEnd, at: func(n int64) int64 { return n - 1 }, missing: true,
		},
		{
			name: "duplicated round",
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				e.copyEvent(t, id, lastVersionOf(evs, "round_started"), map[string]string{"data": latestTimestamp})
			},
			want: game.ErrInvalidEvent, rule: game.RuleRoundOrder, at: atEnd, resumable: true,
		},
		{
			name: "round number going backwards",
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				e.copyEvent(t, id, firstVersionOf(evs, "guess_processed"), map[string]string{"data": latestTimestamp})
			},
			want: game.ErrInvalidEvent, rule: game.RuleRoundOrder, at: atEnd, resumable: true,
		},
		{
			name: "event from another guild",
			corrupt: copyLast(map[string]string{
				"guild_id": `'guild-2'`, "data": `jsonb_set(data, '{guild_id}', '"guild-2"')`,
			}),
			want: game.ErrForeignEvent, rule: game.RuleSameGuild, at: atEnd, resumable: true,
		},
		{
			name:    "event data naming another guild",
			corrupt: copyLast(map[string]string{"data": `jsonb_set(data, '{guild_id}', '"guild-2"')`}),
			want:    game.ErrForeignEvent, rule: game.RuleSameGuild, at: atEnd, resumable: true,
		},
		{
			name:    "event of another game",
			corrupt: copyLast(map[string]string{"data": `jsonb_set(data, '{game_id}', '"game-other"')`}),
			want:    game.ErrForeignEvent, rule: game.RuleSameGame, at: atEnd, resumable: true,
		},
		{
			name:     "event after game_completed",
			complete: true,
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				e.copyEvent(t, id, lastVersionOf(evs, "guess_processed"), map[string]string{"correlation_id": "NULL"})
			},
			want: game.ErrInvalidEvent, rule: game.RuleGameOver, at: atEnd, resumable: true,
		},
		{
			name:    "undecodable JSON",
			corrupt: copyLast(map[string]string{"data": `'{"round_number": "two"}'`}),
			want:    serde.ErrDeserializationFailed, rule: game.RuleDecodable, at: atEnd, resumable: true,
		},
		{
			name: "undecodable JSON mid-stream",
			corrupt: func(t *testing.T, e *env, id string, _ []events.GameEvent) {
				e.admin(t, `UPDATE eventstore.events SET data = '[1, 2]' WHERE stream_id = $1 AND stream_version = 4`, id)
			},
			want: game.ErrCorruptEvent, rule: game.RuleDecodable, at: at(4), resumable: true,
		},
		{
			name:    "unknown event type",
			corrupt: copyLast(map[string]string{"event_type": `'word_spelled'`}),
			want:    serde.ErrInvalidEventType, rule: game.RuleDecodable, at: atEnd, resumable: true,
		},
		{
			name:    "unknown event version",
			corrupt: copyLast(map[string]string{"event_version": `7`}),
			want:    game.ErrCorruptEvent, rule: game.RuleDecodable, at: atEnd, resumable: true,
		},
		{
			name: "corrupt game_started",
			corrupt: func(t *testing.T, e *env, id string, _ []events.GameEvent) {
				e.admin(t, `UPDATE eventstore.events SET data = data - 'teams' || '{"teams": 3}' WHERE stream_id = $1 AND stream_version = 1`, id)
			},
			want: game.ErrCorruptEvent, rule: game.RuleDecodable, at: at(1),
		},
		{
			name: "causation id pointing forward",
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				n := int64(len(evs))
				e.admin(t, `UPDATE eventstore.events SET causation_id = $2 WHERE stream_id = $1 AND stream_version = $3`,
					id, e.eventID(t, id, n), n-2)
			},
			want: game.ErrCausality, rule: game.RuleCausation, at: func(n int64) int64 { return n - 2 }, resumable: true,
		},
		{
			name: "causation id naming the event itself",
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				e.admin(t, `UPDATE eventstore.events SET causation_id = event_id WHERE stream_id = $1 AND stream_version = $2`,
					id, len(evs))
			},
			want: game.ErrCausality, rule: game.RuleCausation, at: func(n int64) int64 { return n }, resumable: true,
		},
		{
			name:    "causation id of no event or command",
			corrupt: copyLast(map[string]string{"causation_id": "gen_random_uuid()"}),
			want:    game.ErrCausality, rule: game.RuleCausation, at: atEnd, resumable: true,
		},
		{
			name:    "new correlation id within a round",
			corrupt: copyLast(map[string]string{"causation_id": "NULL", "correlation_id": "gen_random_uuid()"}),
			want:    game.ErrCausality, rule: game.RuleCorrelation, at: atEnd, resumable: true,
		},
		{
			name: "correlation id of another round",
			corrupt: func(t *testing.T, e *env, id string, evs []events.GameEvent) {
				// The first event of the last round takes round 1's correlation id.
				e.admin(t, `UPDATE eventstore.events SET correlation_id =
						(SELECT correlation_id FROM eventstore.events WHERE stream_id = $1 AND stream_version = 1)
					WHERE stream_id = $1 AND stream_version >= $2`, id, lastVersionOf(evs, "round_started"))
			},
			want: game.ErrCausality, rule: game.RuleCorrelation, at: func(int64) int64 { return -1 }, resumable: true,
		},
	}
	for i, c := range cases {
		for _, policy := range []game.InvalidPolicy{game.FailOnInvalid, game.SkipAndReport} {
			t.Run(fmt.Sprintf("%s/%s", c.name, policy), func(t *testing.T) {
				t.Parallel()
				id := fmt.Sprintf("game-%d-%s", i, policy)
				cfg := game.SimConfig{Seed: uint64(500 + i), Mode: events.ModeKnockout, Teams: 3, GameID: id}
				if !c.complete {
					full := game.Simulate(cfg)
					cfg.StopAfter = len(full) - 2 // mid-way through the last round
				}
				evs := e.storeGame(t, cfg, 0)
				n := int64(len(evs))
				c.corrupt(t, e, id, evs)
				bad := c.at(n)
				if bad < 0 {
					bad = lastVersionOf(evs, "round_started")
				}

				res, err := game.Recover(e.ctx, e.store, id, game.RecoverOptions{OnInvalid: policy, BatchSize: 6})
				t.Logf("error: %v; skipped: %v", err, res.Skipped)
				if policy == game.SkipAndReport && c.resumable {
					require.NoError(t, err)
					want, refused := applyValid(evs, bad)
					require.Equal(t, want, res.State)
					versions := make([]int64, len(res.Skipped))
					for j, re := range res.Skipped {
						versions[j] = re.StreamVersion
						require.True(t, re.Resumable)
					}
					require.Equal(t, append([]int64{bad}, refused...), versions, "skipped events")
					requireRecoveryError(t, e, id, res.Skipped[0], c, bad)
					require.Equal(t, max(n, bad), res.Version)
					return
				}
				require.Error(t, err)
				require.Zero(t, res.State)
				var re *game.RecoveryError
				require.ErrorAs(t, err, &re)
				requireRecoveryError(t, e, id, re, c, bad)
			})
		}
	}
}

// latestTimestamp is a copyEvent expression: the copied event's data with
// the timestamp of the stream's last event, so that the copy breaks no
// time order and the rule after it is the one that fails.
const latestTimestamp = `jsonb_set(data, '{timestamp}', (SELECT l.data->'timestamp' FROM eventstore.events l
	WHERE l.stream_id = $1 ORDER BY l.stream_version DESC LIMIT 1))`

// requireRecoveryError checks that re reports corruption c at version bad.
func requireRecoveryError(t *testing.T, e *env, id string, re *game.RecoveryError, c corruption, bad int64) {
	t.Helper()
	require.ErrorIs(t, re, c.want)
	require.Equal(t, c.rule, re.Rule, "%v", re)
	require.Equal(t, bad, re.StreamVersion, "%v", re)
	require.Equal(t, c.resumable, re.Resumable, "%v", re)
	require.Equal(t, id, re.GameID)
	if c.missing {
		require.Equal(t, uuid.Nil, re.EventID)
		return
	}
	require.Equal(t, e.eventID(t, id, bad), re.EventID)
	require.NotEmpty(t, re.EventType)
	require.Contains(t, re.Error(), fmt.Sprintf("event %d (%s %s)", bad, re.EventType, re.EventID))
}

// applyValid is SkipAndReport in memory: it applies evs in order, leaving
// out the event at version skip (if it is one of them) and every event
// Apply refuses, and returns the state and the refused events' versions.
func applyValid(evs []events.GameEvent, skip int64) (game.State, []int64) {
	var st game.State
	var refused []int64
	for i, ev := range evs {
		v := int64(i + 1)
		if v == skip {
			continue
		}
		next, err := game.Apply(st, ev)
		if err != nil {
			refused = append(refused, v)
			continue
		}
		st = next
	}
	return st, refused
}

// lastVersionOf returns the stream version of the last event of type typ.
func lastVersionOf(evs []events.GameEvent, typ string) int64 {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].EventType() == typ {
			return int64(i + 1)
		}
	}
	return 0
}

// firstVersionOf returns the stream version of the first event of type typ.
func firstVersionOf(evs []events.GameEvent, typ string) int64 {
	return int64(slices.IndexFunc(evs, func(ev events.GameEvent) bool { return ev.EventType() == typ }) + 1)
}
