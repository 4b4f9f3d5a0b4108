package game

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gamebot/eventstore/store"
)

// RecoverAll recovers every game of guild guildID that is in progress,
// which is what the bot does at start-up. The games are the guild's active
// streams (archived streams are read-only and soft-deleted ones gone, so
// neither can be resumed) whose id starts with opts.Prefix; a game is in
// progress when its stream's last event is not game_completed (an empty
// stream counts, and fails with ErrGameNotStarted). opts.Concurrency games
// are recovered at once, each as Recover would, with the guild in ctx.
//
// It returns one Result per game in progress, in the order the streams
// were created, each with its own Err, and an error joining every game's
// error (nil when all recovered). A failure to list the streams returns no
// results. Cancelling ctx makes the games not yet recovered fail with the
// context's error.
func RecoverAll(ctx context.Context, s *store.Store, guildID string, opts RecoverOptions) ([]Result, error) {
	opts, err := opts.withDefaults(s)
	if err == nil {
		err = store.ValidateGuildID(guildID)
	}
	if err != nil {
		return nil, fmt.Errorf("recover games of guild %q: %w", guildID, err)
	}
	ctx = store.WithGuild(ctx, guildID)
	ids, err := listGames(ctx, s, guildID, opts.Prefix)
	if err != nil {
		return nil, fmt.Errorf("recover games of guild %q: %w", guildID, err)
	}
	results := make([]Result, len(ids))
	inProgress := make([]bool, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(opts.Concurrency, len(ids)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				results[i], inProgress[i] = recoverInProgress(ctx, s, ids[i], opts)
			}
		})
	}
	wg.Wait()
	var out []Result
	var errs []error
	for i, r := range results {
		if !inProgress[i] {
			continue
		}
		out = append(out, r)
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return out, errors.Join(errs...)
}

// listGames returns the ids of the guild's active streams that start with
// prefix, oldest first.
func listGames(ctx context.Context, s *store.Store, guildID, prefix string) ([]string, error) {
	var ids []string
	lo := store.ListOptions{GuildID: guildID, Prefix: prefix, Status: store.StatusActive}
	for {
		page, err := s.ListStreams(ctx, lo)
		if err != nil {
			return nil, err
		}
		for _, info := range page.Streams {
			ids = append(ids, info.StreamID)
		}
		if page.Next == "" {
			return ids, nil
		}
		lo.Cursor = page.Next
	}
}

// recoverInProgress recovers game gameID unless its last event is
// game_completed, and reports whether it did (or tried to).
func recoverInProgress(ctx context.Context, s *store.Store, gameID string, opts RecoverOptions) (Result, bool) {
	last, err := s.ReadBackward(ctx, gameID, store.End, 1)
	var de *store.DecodeError
	if err != nil && !errors.As(err, &de) {
		return Result{GameID: gameID, Err: err}, true
	}
	if len(last) == 1 && last[0].Type == completedType {
		return Result{}, false
	}
	res, err := recoverGame(ctx, s, gameID, opts)
	res.Err = err
	return res, true
}

// completedType is events.GameCompleted's event type.
const completedType = "game_completed"
