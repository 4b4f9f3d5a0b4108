package game

import (
	"context"
	"fmt"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// AppendGame stores the events of one game (such as Simulate returns) in a
// new stream named by the game id, batch events per Append (all in one
// when batch <= 0), and returns the last append's result. The stream must
// not exist yet. Without a guild in ctx, the first event's guild is used.
//
// The events get the causal links Recover checks: each has a new UUIDv7
// id; the first is caused by a command whose id it names in its metadata
// (CommandIDKey), every later one by the event before it; the events of a
// round (by round_number) share one new correlation id.
//
// Errors: store.ErrInvalidArgument for an empty list or a nil event,
// ErrForeignEvent for events of different games (nothing was sent), and
// the errors of store.Append (a failed batch leaves the earlier ones
// stored).
func AppendGame(ctx context.Context, s *store.Store, evs []events.GameEvent, batch int) (store.AppendResult, error) {
	recs, err := chainEvents(evs)
	if err != nil {
		return store.AppendResult{}, err
	}
	gameID := evs[0].GameBase().GameID
	if _, ok := store.GuildFromContext(ctx); !ok {
		ctx = store.WithGuild(ctx, evs[0].GameBase().GuildID)
	}
	if batch <= 0 {
		batch = len(recs)
	}
	var res store.AppendResult
	expected := store.NoStream
	for start := 0; start < len(recs); start += batch {
		end := min(start+batch, len(recs))
		if res, err = s.Append(ctx, gameID, expected, recs[start:end]...); err != nil {
			return res, err
		}
		expected = store.Exact(res.Version)
	}
	return res, nil
}

// chainEvents wraps evs as store events with ids, causation and
// correlation ids as AppendGame describes.
func chainEvents(evs []events.GameEvent) ([]store.Event, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("append game: %w: no events", store.ErrInvalidArgument)
	}
	recs := make([]store.Event, len(evs))
	rounds := make(map[int]uuid.UUID)
	var gameID string
	for i, ev := range evs {
		if _, ok := concrete(ev); !ok {
			return nil, fmt.Errorf("append game: %w: event %d is %T, not a GameBot event", store.ErrInvalidArgument, i+1, ev)
		}
		b := ev.GameBase()
		if i == 0 {
			gameID = b.GameID
		} else if b.GameID != gameID {
			return nil, fmt.Errorf("append game %q: %w: event %d (%s) belongs to game %q",
				gameID, ErrForeignEvent, i+1, ev.EventType(), b.GameID)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("append game %q: event id: %w", gameID, err)
		}
		corr, ok := rounds[b.RoundNumber]
		if !ok {
			if corr, err = uuid.NewV7(); err != nil {
				return nil, fmt.Errorf("append game %q: correlation id: %w", gameID, err)
			}
			rounds[b.RoundNumber] = corr
		}
		recs[i] = store.Event{ID: id, Data: ev, CorrelationID: corr}
		if i == 0 {
			cmd, err := uuid.NewV7()
			if err != nil {
				return nil, fmt.Errorf("append game %q: command id: %w", gameID, err)
			}
			recs[i].CausationID = cmd
			recs[i].Metadata = map[string]string{CommandIDKey: cmd.String()}
		} else {
			recs[i].CausationID = recs[i-1].ID
		}
	}
	return recs, nil
}
