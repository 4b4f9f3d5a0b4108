package bench

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Guild is the guild every benchmark stream belongs to.
const Guild = "guild-bench-1187342254018523136"

// twinColumns are the columns a baseline writes, in the order of a row.
var twinColumns = []string{
	"stream_id", "stream_version", "event_id", "event_type", "event_version",
	"guild_id", "data", "metadata", "causation_id", "correlation_id",
}

// words are the guesses players type.
var words = []string{
	"lighthouse", "harbour", "anchor", "compass", "seagull", "driftwood", "lantern", "tide",
	"keel", "mariner", "beacon", "current", "reef", "voyage", "starboard", "galley",
}

// GuessEvent returns the i-th (from 0) guess of game gameID: a typed
// GuessProcessed with every field set, 580–590 bytes of JSON with a
// benchmark game id: the most common event of a GameBot game.
func GuessEvent(gameID string, i int) events.GuessProcessed {
	start := time.Date(2025, 3, 14, 18, 30, 0, 0, time.UTC)
	ok := i%5 == 4
	score := 0
	if ok {
		score = 10 + i%7
	}
	return events.GuessProcessed{
		Base: events.Base{
			GameID:      gameID,
			GuildID:     Guild,
			Mode:        events.ModeKnockout,
			RoundNumber: i/40 + 1,
			Timestamp:   serde.NewTime(start.Add(time.Duration(i) * 1543 * time.Millisecond)),
			Metadata: map[string]string{
				"channel_id": "1187342254018523999",
				"message_id": strconv.FormatInt(1219876543210000000+int64(i), 10),
			},
		},
		TeamID:          "team-" + strconv.Itoa(i%4+1),
		Player1Info:     events.PlayerInfo{PlayerID: "318472993561247" + strconv.Itoa(100+i%4*2), Name: "wordsmith_" + strconv.Itoa(i%4*2), Role: events.RolePlayer1},
		Player2Info:     events.PlayerInfo{PlayerID: "318472993561247" + strconv.Itoa(101+i%4*2), Name: "riddler_" + strconv.Itoa(i%4*2+1), Role: events.RolePlayer2},
		Player1Word:     words[i%len(words)],
		Player2Word:     words[(i*7+3)%len(words)],
		GuessSuccessful: ok,
		GuessCount:      i%5 + 1,
		MatchScore:      score,
		GuessDurationMs: int64(1800 + (i*389)%9000),
	}
}

// StoreEvent wraps the i-th guess of gameID as an event to append, with an
// id, metadata and a correlation id, as the bot appends them.
func StoreEvent(gameID string, i int) store.Event {
	return store.Event{
		ID:            uuid.Must(uuid.NewV7()),
		Data:          GuessEvent(gameID, i),
		Metadata:      map[string]string{"command_id": uuid.NewString(), "user_id": "318472993561247" + strconv.Itoa(100+i%8)},
		CorrelationID: uuid.Must(uuid.NewV7()),
	}
}

// call is one append: the events for the store and the identical,
// pre-serialized rows for the baseline.
type call struct {
	stream   string
	expected store.ExpectedVersion
	events   []store.Event
	rows     [][]any
}

// plan is the calls of each writer.
type plan [][]call

// events returns the number of events in p.
func (p plan) eventCount() int {
	n := 0
	for _, w := range p {
		for _, c := range w {
			n += len(c.events)
		}
	}
	return n
}

// planSpec describes an append workload.
type planSpec struct {
	tag             string // unique per repeat: streams are fresh
	writers         int
	callsPerWriter  int
	perCall         int
	eventsPerStream int  // a writer moves to a new stream after this many events
	shared          bool // every writer appends to one stream with Any
	rows            bool // also build the baseline rows
}

// newPlan builds the calls of spec. Rows are serialized with ser, exactly as
// the store will serialize the events.
func newPlan(spec planSpec, ser serde.Serializer) (plan, error) {
	p := make(plan, spec.writers)
	for w := range p {
		p[w] = make([]call, spec.callsPerWriter)
		var version int64
		stream := ""
		for c := range p[w] {
			if spec.shared {
				stream = spec.tag
			} else if stream == "" || version+int64(spec.perCall) > int64(spec.eventsPerStream) {
				stream = fmt.Sprintf("%s-w%d-c%d", spec.tag, w, c)
				version = 0
			}
			cl := call{stream: stream, expected: store.Exact(version), events: make([]store.Event, spec.perCall)}
			if spec.shared {
				cl.expected = store.Any
			}
			for i := range cl.events {
				cl.events[i] = StoreEvent(stream, int(version)+i)
			}
			if spec.rows {
				rows, err := eventRows(stream, version, cl.events, ser)
				if err != nil {
					return nil, err
				}
				cl.rows = rows
			}
			version += int64(spec.perCall)
			p[w][c] = cl
		}
	}
	return p, nil
}

// eventRows serializes evs as the rows the store would write for them at
// versions after+1…, in twinColumns order.
func eventRows(stream string, after int64, evs []store.Event, ser serde.Serializer) ([][]any, error) {
	rows := make([][]any, len(evs))
	for i, ev := range evs {
		data, err := ser.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("serialize %s: %w", ev.Data.EventType(), err)
		}
		meta := []byte("{}")
		if len(ev.Metadata) > 0 {
			if meta, err = json.Marshal(ev.Metadata); err != nil {
				return nil, fmt.Errorf("serialize metadata: %w", err)
			}
		}
		rows[i] = []any{
			stream, after + int64(i) + 1, pgUUID(ev.ID), ev.Data.EventType(), int32(ev.Data.EventVersion()),
			Guild, data, meta, pgUUID(ev.CausationID), pgUUID(ev.CorrelationID),
		}
	}
	return rows, nil
}

func pgUUID(u uuid.UUID) pgtype.UUID {
	return pgtype.UUID{Bytes: u, Valid: u != uuid.Nil}
}
