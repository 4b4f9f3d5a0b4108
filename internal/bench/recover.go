package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/store"
)

// recoverEvents is the length of recover_game's game stream; a smoke run
// (Scale < 1) shortens it. The snapshot is taken at nine tenths of it.
const recoverEvents = 10_000

// recoverFixture appends, on first use, a simulated two-player game cut off
// after r.gameEvents events (a game still running, as a crash leaves it)
// and saves its snapshot at version r.snapshotAt. It returns the game id.
func (r *runner) recoverFixture(ctx context.Context) (string, error) {
	if r.recoverGameID != "" {
		return r.recoverGameID, nil
	}
	id := r.tag + "-recover"
	// 3000 two-player rounds make about 11,000 events.
	evs := game.Simulate(game.SimConfig{Seed: 42, GameID: id, GuildID: Guild, Rounds: 3000, StopAfter: r.gameEvents})
	if len(evs) != r.gameEvents {
		return "", fmt.Errorf("recover fixture: simulated %d events, want %d", len(evs), r.gameEvents)
	}
	r.logf("recover_game: appending a %d-event game", r.gameEvents)
	ctx = store.WithGuild(ctx, Guild)
	if _, err := game.AppendGame(ctx, r.typed, evs, readBatch); err != nil {
		return "", fmt.Errorf("recover fixture: %w", err)
	}
	st, err := game.Replay(evs[:r.snapshotAt])
	if err != nil {
		return "", fmt.Errorf("recover fixture: replay: %w", err)
	}
	kept, err := game.SaveSnapshot(ctx, r.typed, st, int64(r.snapshotAt))
	if err != nil {
		return "", fmt.Errorf("recover fixture: snapshot: %w", err)
	}
	if !kept {
		return "", fmt.Errorf("recover fixture: the store did not keep the snapshot at version %d", r.snapshotAt)
	}
	r.recoverGameID = id
	return id, nil
}

// recoverPasses and recoverSnapshotPasses are how many recoveries (and
// reads) a measured repeat of recover_game and recover_game_snapshot runs
// at scale 1.
const (
	recoverPasses         = 30
	recoverSnapshotPasses = 200
)

// recoverOurs recovers the game; it checks that the expected number of
// events was replayed.
func (r *runner) recoverOurs(ctx context.Context, s *store.Store, id string, full bool) (sample, error) {
	want := r.gameEvents
	if !full {
		want = r.gameEvents - r.snapshotAt
	}
	start := time.Now()
	res, err := game.Recover(ctx, s, id, game.RecoverOptions{FullReplay: full, BatchSize: readBatch})
	if err != nil {
		return sample{}, err
	}
	elapsed := time.Since(start)
	if res.Replayed != want || res.Version != int64(r.gameEvents) {
		return sample{}, fmt.Errorf("recover %s: replayed %d events up to version %d, want %d up to %d",
			id, res.Replayed, res.Version, want, r.gameEvents)
	}
	return sample{events: res.Replayed, elapsed: elapsed}, nil
}

// readGame reads the events recovery replays with the typed Stream iterator.
func readGame(ctx context.Context, s *store.Store, id string, from int64) (sample, error) {
	start := time.Now()
	n := 0
	for rec, err := range s.Stream(ctx, id, from, readBatch) {
		if err != nil {
			return sample{}, err
		}
		if _, ok := rec.Event.(events.GameEvent); !ok {
			return sample{}, fmt.Errorf("read %s: event %d decoded to %T, want a GameBot event", id, rec.Version, rec.Event)
		}
		n++
	}
	return sample{events: n, elapsed: time.Since(start)}, nil
}

func recoverGame(ctx context.Context, r *runner) (Result, error) {
	return r.recoverScenario(ctx, "recover_game", true)
}

func recoverGameSnapshot(ctx context.Context, r *runner) (Result, error) {
	return r.recoverScenario(ctx, "recover_game_snapshot", false)
}

func (r *runner) recoverScenario(ctx context.Context, name string, full bool) (Result, error) {
	id, err := r.recoverFixture(ctx)
	if err != nil {
		return Result{}, err
	}
	from := int64(1)
	if !full {
		from = int64(r.snapshotAt) + 1
	}
	// One recovery takes milliseconds: a repeat runs it passes times, for a
	// repeat of a few seconds (the warm-up, once).
	passes := r.scaled(recoverPasses, 1)
	if !full {
		passes = r.scaled(recoverSnapshotPasses, 1)
	}
	ours := func(ctx context.Context, rep int) (sample, error) {
		return repeatSample(passesFor(rep, passes), func() (sample, error) { return r.recoverOurs(ctx, r.typed, id, full) })
	}
	base := func(ctx context.Context, rep int) (sample, error) {
		return repeatSample(passesFor(rep, passes), func() (sample, error) { return readGame(ctx, r.typed, id, from) })
	}
	o, b, err := r.compare(ctx, name, ours, base)
	if err != nil {
		return Result{}, err
	}
	what := fmt.Sprintf("game.Recover of a %d-event game, full replay, batch 1000 (validation, causality, state checks)", r.gameEvents)
	baseWhat := fmt.Sprintf("read_stream of the same %d events (Store.Stream, typed, batch 1000)", r.gameEvents)
	if !full {
		what = fmt.Sprintf("game.Recover of the same game from its snapshot at version %d, then %d events", r.snapshotAt, r.gameEvents-r.snapshotAt)
		baseWhat = fmt.Sprintf("read_stream of the same %d events after the snapshot (Store.Stream, typed)", r.gameEvents-r.snapshotAt)
	}
	params := map[string]any{"game_events": r.gameEvents, "batch": readBatch, "full_replay": full, "passes": passes}
	if !full {
		params["snapshot_version"] = r.snapshotAt
	}
	// The issue sets no target for recovery: the ratio is reported only.
	return rateResult(params, measureOf(what, o), measureOf(baseWhat, b), nil), nil
}
