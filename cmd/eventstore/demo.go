package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/game"
	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// demoOptions configures the demo.
type demoOptions struct {
	games        int
	guilds       int
	workers      int
	seed         uint64
	raceRate     float64
	inProgress   float64
	progressBars bool
	replica      bool
}

// demoSummary is what the demo measured.
type demoSummary struct {
	RunID            string         `json:"run_id"`
	Games            int            `json:"games"`
	Guilds           int            `json:"guilds"`
	Modes            map[string]int `json:"modes"`
	Events           int64          `json:"events"`
	AppendSeconds    float64        `json:"append_seconds"`
	EventsPerSecond  float64        `json:"events_per_second"`
	ConflictsRetried int64          `json:"conflicts_retried"`
	Broadcast        int64          `json:"broadcast_events"`
	Announced        int64          `json:"games_announced"`
	Completed        int            `json:"games_completed"`
	InProgress       int            `json:"games_in_progress"`
	Recovered        int            `json:"games_recovered"`
	Verified         int            `json:"games_verified"`
	RecoverSeconds   float64        `json:"recover_seconds"`
	// With --replica: the standby and the statements of reads served there
	// and by the primary, in all and during recovery.
	Replica              string `json:"replica,omitempty"`
	StandbyReads         int64  `json:"standby_reads,omitempty"`
	PrimaryReads         int64  `json:"primary_reads,omitempty"`
	RecoveryStandbyReads int64  `json:"recovery_standby_reads,omitempty"`
	RecoveryPrimaryReads int64  `json:"recovery_primary_reads,omitempty"`
	// StandbyWaitSeconds is how long recovery waited for the standby to
	// replay the appends.
	StandbyWaitSeconds float64 `json:"standby_wait_seconds,omitempty"`
}

func demoCommand() *command {
	var o demoOptions
	return &command{
		name:  "demo",
		usage: "[--games N] [--guilds M] [--workers W] [--seed S] [--replica [--replica-url URL]] [--metrics-addr HOST:PORT]",
		short: "simulate concurrent GameBot games, broadcast them live, then recover and verify every game",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			fs.IntVar(&o.games, "games", 150, "number of games to simulate (all three modes)")
			fs.IntVar(&o.guilds, "guilds", 6, "number of guilds the games are spread over")
			fs.IntVar(&o.workers, "workers", 8, "concurrent bot workers appending events")
			fs.Uint64Var(&o.seed, "seed", 1, "random seed for the simulated games")
			fs.Float64Var(&o.raceRate, "race-rate", 0.05, "share of commands a second bot instance races to handle (optimistic-concurrency conflicts)")
			fs.Float64Var(&o.inProgress, "in-progress", 0.1, "share of games left in progress (as after a crash)")
			fs.BoolVar(&o.progressBars, "progress", true, "show a progress bar on stderr")
			metricsFlag(fs, c)
			fs.BoolVar(&o.replica, "replica", false, "recovery and broadcast read from a hot standby: --replica-url, else $STANDBY_DATABASE_URL")
			addReplicaFlag(fs, c)
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 0 {
				return usagef("demo takes no arguments")
			}
			if o.games < 1 || o.guilds < 1 || o.workers < 1 || o.raceRate < 0 || o.raceRate > 1 || o.inProgress < 0 || o.inProgress > 1 {
				return usagef("--games, --guilds and --workers must be at least 1; rates between 0 and 1")
			}
			if err := c.listenMetrics("demo"); err != nil {
				return err
			}
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			if _, err := store.Migrate(ctx, pool); err != nil {
				return err
			}
			if o.replica && len(c.replicaURLs) == 0 {
				u := c.env.Getenv("STANDBY_DATABASE_URL")
				if u == "" {
					return usagef("--replica needs --replica-url or $STANDBY_DATABASE_URL")
				}
				c.replicaURLs = []string{u}
			}
			s, err := c.openStoreWith(ctx, store.Config{Serializer: serde.NewJSON(events.NewRegistry())})
			if err != nil {
				return err
			}
			defer s.Close()
			if len(c.replicaURLs) > 0 {
				// Every read waits for the standby to have replayed the
				// migrations (a fresh standby may not have yet).
				tok, err := s.ConsistencyToken(ctx)
				if err != nil {
					return err
				}
				ctx = store.WithConsistency(ctx, tok)
			}
			sum, err := runDemo(ctx, s, o, c.env.Stderr)
			if err != nil {
				return err
			}
			if c.json {
				enc := json.NewEncoder(c.env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(sum); err != nil {
					return err
				}
			} else {
				printDemoSummary(c.env.Stdout, sum)
			}
			if sum.Verified != sum.Games {
				return fmt.Errorf("%d of %d games failed verification", sum.Games-sum.Verified, sum.Games)
			}
			return nil
		},
	}
}

// demoGame is one simulated game and what the simulator says its state is.
type demoGame struct {
	id     string
	guild  string
	events []events.GameEvent
	want   game.State
}

func runDemo(ctx context.Context, s *store.Store, o demoOptions, progress io.Writer) (demoSummary, error) {
	runID := uuid.NewString()[:8]
	sum := demoSummary{RunID: runID, Games: o.games, Guilds: o.guilds, Modes: map[string]int{}}
	rng := rand.New(rand.NewPCG(o.seed, 0x5eed))
	modes := events.Modes()
	games := make([]demoGame, o.games)
	var total int64
	for i := range games {
		mode := modes[i%len(modes)]
		cfg := game.SimConfig{
			Seed:    o.seed*1000 + uint64(i),
			Mode:    mode,
			GameID:  fmt.Sprintf("demo-%s-%s-%03d", runID, mode, i),
			GuildID: fmt.Sprintf("guild-%02d", i%o.guilds),
			Start:   time.Now().UTC().Add(-time.Hour),
		}
		evs := game.Simulate(cfg)
		if rng.Float64() < o.inProgress && len(evs) > 3 {
			cfg.StopAfter = 2 + rng.IntN(len(evs)-2)
			evs = evs[:cfg.StopAfter]
		}
		want, err := game.Replay(evs)
		if err != nil {
			return sum, fmt.Errorf("simulated game %s does not replay: %w", cfg.GameID, err)
		}
		games[i] = demoGame{id: cfg.GameID, guild: cfg.GuildID, events: evs, want: want}
		sum.Modes[string(mode)]++
		total += int64(len(evs))
		if want.Completed() {
			sum.Completed++
		} else {
			sum.InProgress++
		}
	}

	// The announcer: a live subscription from the current end of the feed
	// feeds a broadcaster, whose receiver checks that every game's events
	// arrive in version order and announces finished games.
	live, err := startAnnouncer(ctx, s, "demo-"+runID+"-")
	if err != nil {
		return sum, err
	}
	defer live.stop()

	var appended, conflicts atomic.Int64
	stopBar := startProgress(progress, o.progressBars, "appending", &appended, total)
	start := time.Now()
	err = forEachGame(ctx, games, o.workers, func(ctx context.Context, i int, g demoGame) error {
		c, err := playGame(ctx, s, g, rand.New(rand.NewPCG(o.seed, uint64(i))), o.raceRate, &appended)
		conflicts.Add(c)
		return err
	})
	sum.AppendSeconds = time.Since(start).Seconds()
	stopBar()
	if err != nil {
		return sum, err
	}
	sum.Events = appended.Load()
	sum.ConflictsRetried = conflicts.Load()
	if sum.AppendSeconds > 0 {
		sum.EventsPerSecond = float64(sum.Events) / sum.AppendSeconds
	}
	stopBar = startProgress(progress, o.progressBars, "broadcast", &live.delivered, sum.Events)
	err = live.waitFor(ctx, sum.Events, 30*time.Second)
	stopBar()
	sum.Broadcast, sum.Announced = live.delivered.Load(), live.announced.Load()
	if err != nil {
		return sum, err
	}

	if len(s.Stats().Replicas) > 0 {
		// Recovery is to read from the standby: let it catch up with the
		// appends first (it may trail a busy primary by more than the
		// store waits per read).
		waited, err := waitStandbyCaughtUp(ctx, s, 30*time.Second)
		if err != nil {
			return sum, err
		}
		sum.StandbyWaitSeconds = waited.Seconds()
	}
	var recovered atomic.Int64
	standbyBefore, primaryBefore := readCounts(s)
	stopBar = startProgress(progress, o.progressBars, "recovering", &recovered, int64(len(games)))
	start = time.Now()
	var mu sync.Mutex
	var failures []error
	_ = forEachGame(ctx, games, o.workers, func(ctx context.Context, _ int, g demoGame) error {
		got, err := recoverGame(store.WithGuild(ctx, g.guild), s, g.id)
		recovered.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures = append(failures, fmt.Errorf("recover %s: %w", g.id, err))
			return nil
		}
		sum.Recovered++
		if !reflect.DeepEqual(got, g.want) {
			failures = append(failures, fmt.Errorf("recover %s: state differs from the simulator's", g.id))
			return nil
		}
		sum.Verified++
		return nil
	})
	sum.RecoverSeconds = time.Since(start).Seconds()
	stopBar()
	if st := s.Stats(); len(st.Replicas) > 0 {
		sum.Replica = st.Replicas[0].Name
		sum.StandbyReads, sum.PrimaryReads = readCounts(s)
		sum.RecoveryStandbyReads, sum.RecoveryPrimaryReads = sum.StandbyReads-standbyBefore, sum.PrimaryReads-primaryBefore
	}
	for _, f := range failures {
		fmt.Fprintln(progress, "demo:", f)
	}
	return sum, ctx.Err()
}

// announcer is the demo's live consumer: subscription → broadcaster →
// receiver.
type announcer struct {
	sub       *store.Subscription
	bc        *store.Broadcaster
	recv      *store.Receiver
	delivered atomic.Int64
	announced atomic.Int64
	mu        sync.Mutex
	versions  map[string]int64
	orderErr  error
}

func startAnnouncer(ctx context.Context, s *store.Store, prefix string) (*announcer, error) {
	a := &announcer{bc: store.NewBroadcaster(store.BroadcasterConfig{QueueSize: 4096}), versions: map[string]int64{}}
	recv, err := a.bc.Register(ctx, "announcer", func(_ context.Context, ev store.Recorded) error {
		a.mu.Lock()
		if ev.Version != a.versions[ev.StreamID]+1 && a.orderErr == nil {
			a.orderErr = fmt.Errorf("broadcast of %s out of order: version %d after %d", ev.StreamID, ev.Version, a.versions[ev.StreamID])
		}
		a.versions[ev.StreamID] = ev.Version
		a.mu.Unlock()
		if ev.Type == "game_completed" {
			a.announced.Add(1)
		}
		a.delivered.Add(1)
		return nil
	})
	if err != nil {
		a.bc.Close()
		return nil, err
	}
	a.recv = recv
	a.sub, err = s.Subscribe(ctx, store.SubscriptionOptions{
		Start:        store.FromEnd(),
		Filter:       store.FeedFilter{StreamPrefix: prefix},
		PollInterval: 100 * time.Millisecond,
	}, a.bc.Handle)
	if err != nil {
		a.bc.Close()
		return nil, err
	}
	select {
	case <-a.sub.Live():
	case <-a.sub.Done():
		a.bc.Close()
		return nil, fmt.Errorf("announcer subscription: %w", a.sub.Wait())
	case <-ctx.Done():
		a.stop()
		return nil, ctx.Err()
	}
	return a, nil
}

// waitFor waits until n events were delivered, or fails after timeout.
func (a *announcer) waitFor(ctx context.Context, n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for a.delivered.Load() < n {
		select {
		case <-a.sub.Done():
			return fmt.Errorf("announcer subscription stopped: %w", a.sub.Wait())
		case <-a.recv.Done():
			return fmt.Errorf("announcer disconnected: %w", a.recv.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broadcast delivered %d of %d events within %s", a.delivered.Load(), n, timeout)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.orderErr
}

func (a *announcer) stop() {
	_ = a.sub.Stop()
	a.bc.Close()
}

// playGame appends g's events one command at a time, as a bot would, each
// with the exact expected version. Sometimes a second bot instance races to
// handle the same command: exactly one append wins, and the loser re-reads
// the stream, sees the command handled, and moves on. It returns the
// conflicts resolved.
func playGame(ctx context.Context, s *store.Store, g demoGame, rng *rand.Rand, raceRate float64, appended *atomic.Int64) (int64, error) {
	ctx = store.WithGuild(ctx, g.guild)
	var conflicts int64
	var prev uuid.UUID
	correlation := uuid.Nil
	for i, ev := range g.events {
		if _, ok := ev.(events.RoundStarted); ok || i == 0 {
			correlation = uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s/round/%d", g.id, ev.GameBase().RoundNumber))
		}
		expected := store.Exact(int64(i))
		commandID := uuid.NewString()
		mk := func() store.Event {
			return store.Event{ID: uuid.Must(uuid.NewV7()), Data: ev, CausationID: prev, CorrelationID: correlation,
				Metadata: map[string]string{"command_id": commandID}}
		}
		mine := mk()
		if rng.Float64() >= raceRate {
			if _, err := s.Append(ctx, g.id, expected, mine); err != nil {
				return conflicts, err
			}
			prev = mine.ID
			appended.Add(1)
			continue
		}
		// Two bot instances handle the same command concurrently.
		theirs := mk()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, e := range []store.Event{mine, theirs} {
			wg.Go(func() { _, errs[j] = s.Append(ctx, g.id, expected, e) })
		}
		wg.Wait()
		winner := mine
		switch {
		case errs[0] == nil && errors.Is(errs[1], store.ErrWrongExpectedVersion):
		case errs[1] == nil && errors.Is(errs[0], store.ErrWrongExpectedVersion):
			winner = theirs
		default:
			return conflicts, fmt.Errorf("racing appends to %s: %v / %v", g.id, errs[0], errs[1])
		}
		// The loser re-reads the stream and finds its command already handled.
		last, err := s.ReadBackward(ctx, g.id, store.End, 1)
		if err != nil {
			return conflicts, err
		}
		if len(last) != 1 || last[0].ID != winner.ID {
			return conflicts, fmt.Errorf("after a conflict on %s the last event is not the winning command", g.id)
		}
		if cmd, _ := last[0].Metadata.Get("command_id"); cmd != commandID {
			return conflicts, fmt.Errorf("after a conflict on %s the last event is not the winning command", g.id)
		}
		conflicts++
		prev = winner.ID
		appended.Add(1)
	}
	return conflicts, nil
}

// recoverGame rebuilds a game's state from its stream with game.Recover,
// which validates sequence, causation and correlation on the way.
func recoverGame(ctx context.Context, s *store.Store, gameID string) (game.State, error) {
	res, err := game.Recover(ctx, s, gameID, game.RecoverOptions{})
	if err != nil {
		return game.State{}, err
	}
	return res.State, nil
}

// forEachGame runs fn for every game on at most workers goroutines and
// returns the first error (cancelling the rest).
func forEachGame(ctx context.Context, games []demoGame, workers int, fn func(context.Context, int, demoGame) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i, games[i]); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range games {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// startProgress draws a progress bar on w until the returned func is called.
func startProgress(w io.Writer, enabled bool, label string, done *atomic.Int64, total int64) func() {
	if !enabled || total <= 0 {
		return func() {}
	}
	draw := func() {
		n := done.Load()
		const width = 30
		filled := int(float64(width) * float64(n) / float64(total))
		bar := make([]byte, width)
		for i := range bar {
			switch {
			case i < filled:
				bar[i] = '='
			case i == filled:
				bar[i] = '>'
			default:
				bar[i] = ' '
			}
		}
		fmt.Fprintf(w, "\r%-10s [%s] %d/%d", label, bar, n, total)
	}
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw()
			case <-stop:
				draw()
				fmt.Fprintln(w)
				return
			}
		}
	}()
	return func() { close(stop); <-stopped }
}

func printDemoSummary(w io.Writer, s demoSummary) {
	fmt.Fprintf(w, "GameBot event store demo (run %s)\n", s.RunID)
	fmt.Fprintf(w, "  games:        %d across %d guilds (two_player %d, knockout %d, race %d)\n",
		s.Games, s.Guilds, s.Modes["two_player"], s.Modes["knockout"], s.Modes["race"])
	fmt.Fprintf(w, "  events:       %d appended one command at a time in %.2fs (%.0f events/s)\n", s.Events, s.AppendSeconds, s.EventsPerSecond)
	fmt.Fprintf(w, "  conflicts:    %d racing commands refused by the expected-version check and resolved\n", s.ConflictsRetried)
	fmt.Fprintf(w, "  broadcast:    %d events delivered live, in order, to the announcer (%d finished games announced)\n", s.Broadcast, s.Announced)
	fmt.Fprintf(w, "  recovery:     %d/%d games recovered, %d/%d verified against the simulator (%d completed, %d in progress) in %.2fs\n",
		s.Recovered, s.Games, s.Verified, s.Games, s.Completed, s.InProgress, s.RecoverSeconds)
	if s.Replica != "" {
		fmt.Fprintf(w, "  replica:      reads from the standby %s: %d statements there, %d on the primary (recovery, after %.2fs for the standby to catch up: %d there, %d on the primary)\n",
			s.Replica, s.StandbyReads, s.PrimaryReads, s.StandbyWaitSeconds, s.RecoveryStandbyReads, s.RecoveryPrimaryReads)
	}
	if s.Verified == s.Games {
		fmt.Fprintln(w, "  result:       OK — every game recovered to exactly the simulator's state")
	} else {
		fmt.Fprintln(w, "  result:       FAILED")
	}
}
