package game

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/serde"
)

// SimConfig configures Simulate. Zero fields take the documented defaults,
// and out-of-range values are clamped, so every SimConfig simulates a game.
type SimConfig struct {
	// Seed seeds the PCG random source; equal configs give equal games.
	Seed uint64
	// Mode is the game mode; default two_player.
	Mode events.Mode
	// GameID is the game id; default "game-<seed>".
	GameID string
	// GuildID is the guild id; default "guild-1".
	GuildID string
	// Teams is the number of teams: always 1 in two_player; default 4
	// and at least 2 in knockout; default 3 and at least 1 in race.
	Teams int
	// Rounds is the number of rounds in two_player (default 3) and race
	// (default 1) games. Knockout games ignore it: they play until one
	// team remains, at most Teams-1 rounds.
	Rounds int
	// MaxGuesses is config.max_guesses: default 6 in two_player and
	// knockout (at least 1), default 0 (no limit) in race.
	MaxGuesses int
	// Start is game_started's timestamp; default 2025-01-01T12:00:00Z.
	// Every later event is strictly later than the one before.
	Start time.Time
	// StopAfter, when positive, returns only the first StopAfter events:
	// a game still in progress, as a crash would leave it.
	StopAfter int
}

// Simulate returns a complete, realistic game: game_started, then rounds of
// round_started and guesses (successful, failed and abandoned), team
// eliminations in knockout and race games, knockout_round_completed after
// each knockout round, race_mode_time_expired at the end of a race, and
// game_completed last. In race games teams guess in parallel against the
// clock; in knockout games the worst team of a round is knocked out unless
// a team was already eliminated during it.
//
// Simulate is deterministic (math/rand/v2 PCG seeded from cfg.Seed), and its
// events pass Validate, Apply and Replay, with Check holding after each;
// it panics only if that promise is broken, which is a bug.
func Simulate(cfg SimConfig) []events.GameEvent {
	cfg = cfg.withDefaults()
	m := &sim{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now: cfg.Start,
	}
	m.run()
	if cfg.StopAfter > 0 && cfg.StopAfter < len(m.evs) {
		return m.evs[:cfg.StopAfter:cfg.StopAfter]
	}
	return m.evs
}

// withDefaults fills in defaults and clamps out-of-range values.
func (c SimConfig) withDefaults() SimConfig {
	if !c.Mode.Valid() {
		c.Mode = events.ModeTwoPlayer
	}
	c.GameID = cmp.Or(c.GameID, "game-"+strconv.FormatUint(c.Seed, 10))
	c.GuildID = cmp.Or(c.GuildID, "guild-1")
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	}
	c.Start = c.Start.Round(0).UTC()
	switch c.Mode {
	case events.ModeTwoPlayer:
		c.Teams = 1
		c.Rounds = max(cmp.Or(c.Rounds, 3), 1)
		c.MaxGuesses = max(cmp.Or(c.MaxGuesses, 6), 1)
	case events.ModeKnockout:
		c.Teams = max(cmp.Or(c.Teams, 4), 2)
		c.Rounds = c.Teams - 1
		c.MaxGuesses = max(cmp.Or(c.MaxGuesses, 6), 1)
	case events.ModeRace:
		c.Teams = max(cmp.Or(c.Teams, 3), 1)
		c.Rounds = max(cmp.Or(c.Rounds, 1), 1)
		c.MaxGuesses = max(c.MaxGuesses, 0)
	}
	return c
}

// raceRound is the length of one round of a simulated race game.
const raceRound = 2 * time.Minute

// simWord returns the i-th of the 16 words simulated players submit.
func simWord(i int) string {
	return [...]string{
		"apple", "river", "cloud", "stone", "light", "ocean", "tiger", "paper",
		"music", "garden", "bridge", "winter", "candle", "mirror", "forest", "rocket",
	}[i]
}

// sim is one simulation in progress. It applies every event it emits to
// its own State, so later events can report the game's real standing.
type sim struct {
	cfg   SimConfig
	rng   *rand.Rand
	now   time.Time
	state State
	evs   []events.GameEvent
}

// outcome is how one attempt ended.
type outcome int

const (
	missed outcome = iota
	matched
	abandoned
	quit
)

// run emits the whole game.
func (m *sim) run() {
	m.start()
	switch m.cfg.Mode {
	case events.ModeTwoPlayer:
		for r := 1; r <= m.cfg.Rounds; r++ {
			m.roundStarted()
			m.play(m.state.ActiveTeams(), time.Time{}, true)
		}
		m.completed(m.state.ActiveTeams())
	case events.ModeKnockout:
		for len(m.state.ActiveTeams()) > 1 {
			m.roundStarted()
			before := len(m.state.ActiveTeams())
			done := m.play(m.state.ActiveTeams(), time.Time{}, true)
			m.knockout(len(m.state.ActiveTeams()) < before, done)
		}
		m.completed(m.state.ActiveTeams())
	case events.ModeRace:
		for r := 1; r <= m.cfg.Rounds; r++ {
			m.roundStarted()
			m.play(m.state.ActiveTeams(), m.cfg.Start.Add(time.Duration(r)*raceRound), false)
		}
		m.timeExpired()
		m.completed(m.state.mostMatches())
	}
}

// emit applies e to the simulation's state and records it.
func (m *sim) emit(e events.GameEvent) {
	next, err := Apply(m.state, e)
	if err != nil {
		panic(fmt.Sprintf("game: Simulate(%+v) produced an invalid event: %v", m.cfg, err))
	}
	m.state = next
	m.evs = append(m.evs, e)
}

// at moves the clock to t, or just past the last event if t is not later.
func (m *sim) at(t time.Time) {
	if !t.After(m.now) {
		t = m.now.Add(time.Millisecond)
	}
	m.now = t
}

// wait moves the clock forward by a random pause of a few seconds.
func (m *sim) wait() { m.at(m.now.Add(time.Second + m.duration(4*time.Second))) }

// duration returns a random duration in [0, d).
func (m *sim) duration(d time.Duration) time.Duration {
	return time.Duration(m.rng.Int64N(int64(d)))
}

// guessTime returns how long one attempt takes: 1.5 s to 12 s.
func (m *sim) guessTime() time.Duration {
	return 1500*time.Millisecond + m.duration(10500*time.Millisecond)
}

// base returns the base fields for an event in the current round, now.
func (m *sim) base() events.Base {
	b := events.NewBase(m.cfg.GameID, m.cfg.GuildID, m.cfg.Mode, max(m.state.Round, 1), m.now)
	b.Metadata = map[string]string{"source": "simulator", "seed": strconv.FormatUint(m.cfg.Seed, 10)}
	return b
}

// start emits game_started.
func (m *sim) start() {
	e := events.GameStarted{
		Base:  m.base(),
		Teams: make(map[string][]string, m.cfg.Teams),
		Roles: make(map[string]events.Role, 2*m.cfg.Teams),
		Config: events.GameConfig{
			MaxRounds:  m.cfg.Rounds,
			MaxGuesses: m.cfg.MaxGuesses,
			WordList:   "default",
		},
	}
	if m.cfg.Mode == events.ModeRace {
		e.Config.TimeLimitSeconds = int(time.Duration(m.cfg.Rounds) * raceRound / time.Second)
	}
	for i := 1; i <= m.cfg.Teams; i++ {
		team := fmt.Sprintf("team-%d", i)
		p1, p2 := fmt.Sprintf("player-%d", 2*i-1), fmt.Sprintf("player-%d", 2*i)
		e.Teams[team] = []string{p1, p2}
		e.TeamIDs.Add(team)
		e.PlayerIDs.Add(p1, p2)
		e.Roles[p1], e.Roles[p2] = events.RolePlayer1, events.RolePlayer2
	}
	m.emit(e)
}

// roundStarted emits round_started for the next round.
func (m *sim) roundStarted() {
	m.wait()
	states := make(map[string]events.TeamState, len(m.state.Teams))
	for id, t := range m.state.Teams {
		ts := t.EventState()
		ts.GuessCount = 0
		states[id] = ts
	}
	b := m.base()
	b.RoundNumber = m.state.Round + 1
	m.emit(events.RoundStarted{Base: b, TeamStates: states})
}

// play runs the current round with teams guessing in parallel. A team stops
// when it matches (if stopOnMatch), when it is eliminated, when it used
// config.max_guesses without a match, or at deadline (if not zero). It
// returns the number of attempts each team that matched needed.
func (m *sim) play(teams []string, deadline time.Time, stopOnMatch bool) map[string]int {
	due := make(map[string]time.Time, len(teams))
	took := make(map[string]time.Duration, len(teams))
	for _, id := range teams {
		took[id] = m.guessTime()
		due[id] = m.now.Add(took[id])
	}
	done := make(map[string]int)
	for len(due) > 0 {
		id := earliest(due)
		if !deadline.IsZero() && due[id].After(deadline) {
			break
		}
		m.at(due[id])
		n := m.state.Teams[id].GuessCount + 1
		finished := false
		switch m.attempt(id, took[id]) {
		case matched:
			if stopOnMatch {
				done[id], finished = n, true
			}
		case quit:
			finished = m.eliminate(id, events.EliminationForfeit)
		}
		if t := m.state.Teams[id]; !finished && m.cfg.MaxGuesses > 0 && t.GuessCount >= m.cfg.MaxGuesses {
			m.eliminate(id, events.EliminationMaxGuesses)
			finished = true
		}
		if finished {
			delete(due, id)
			continue
		}
		took[id] = m.guessTime()
		due[id] = m.now.Add(took[id])
	}
	if !deadline.IsZero() {
		m.at(deadline)
	}
	return done
}

// earliest returns the key with the earliest time, the smallest key on ties.
func earliest(due map[string]time.Time) string {
	var best string
	for id, t := range due {
		if best == "" || t.Before(due[best]) || (t.Equal(due[best]) && id < best) {
			best = id
		}
	}
	return best
}

// attempt emits one attempt of team id that took d.
func (m *sim) attempt(id string, d time.Duration) outcome {
	t := m.state.Teams[id]
	p1, p2 := m.player(t.Players[0]), m.player(t.Players[1])
	n := t.GuessCount + 1
	if m.rng.Float64() < 0.06 {
		e := events.GuessAbandoned{
			Base: m.base(), TeamID: id, Player1Info: p1, Player2Info: p2,
			Reason: m.abandonReason(), GuessCount: n,
		}
		if m.rng.IntN(2) == 0 {
			e.LastGuess = &events.LastGuess{PlayerID: t.Players[m.rng.IntN(2)], Word: m.word()}
		}
		m.emit(e)
		if e.Reason == events.AbandonPlayerQuit {
			return quit
		}
		return abandoned
	}
	w1, w2 := m.word(), m.word()
	success := m.rng.Float64() < 0.25+0.1*float64(n-1)
	if success {
		w2 = w1
	}
	for !success && w2 == w1 {
		w2 = m.word()
	}
	e := events.GuessProcessed{
		Base: m.base(), TeamID: id, Player1Info: p1, Player2Info: p2,
		Player1Word: w1, Player2Word: w2, GuessSuccessful: success, GuessCount: n,
		GuessDurationMs: d.Milliseconds(),
	}
	if success {
		e.MatchScore = max(1, 10-2*(n-1))
	}
	m.emit(e)
	if success {
		return matched
	}
	return missed
}

// player returns the PlayerInfo of player id.
func (m *sim) player(id string) events.PlayerInfo {
	return events.PlayerInfo{PlayerID: id, Name: "Player " + id[len("player-"):], Role: m.state.Roles[id]}
}

// word returns a random word.
func (m *sim) word() string { return simWord(m.rng.IntN(16)) }

// abandonReason returns a random reason; a player quits only where the
// team can then be eliminated.
func (m *sim) abandonReason() events.AbandonReason {
	switch r := m.rng.IntN(10); {
	case r < 5:
		return events.AbandonTimeout
	case r < 7:
		return events.AbandonDisconnected
	case r < 8 || !m.canEliminate():
		return events.AbandonInvalidWord
	default:
		return events.AbandonPlayerQuit
	}
}

// canEliminate reports whether a team may be eliminated now: not in
// two_player games, and never the last active team.
func (m *sim) canEliminate() bool {
	return m.cfg.Mode != events.ModeTwoPlayer && len(m.state.ActiveTeams()) > 1
}

// eliminate emits team_eliminated for id and reports whether it did.
func (m *sim) eliminate(id string, reason events.EliminationReason) bool {
	if !m.canEliminate() {
		return false
	}
	m.at(m.now.Add(time.Duration(1+m.rng.IntN(500)) * time.Millisecond))
	t := m.state.Teams[id]
	stats := make(map[string]events.PlayerStats, len(t.Players))
	for _, p := range t.Players {
		stats[p] = m.state.Players[p]
	}
	final := t.EventState()
	final.Active = false
	m.emit(events.TeamEliminated{
		Base: m.base(), TeamID: id, Reason: reason, FinalState: final, PlayerStats: stats,
	})
	return true
}

// knockout emits knockout_round_completed. Unless a team was eliminated
// during the round, the worst active team is knocked out: one that did not
// match, else the one that needed most attempts, then the lowest score,
// then the greatest id.
func (m *sim) knockout(eliminatedDuringRound bool, done map[string]int) {
	m.wait()
	active := m.state.ActiveTeams()
	var out, in serde.Set[string]
	if !eliminatedDuringRound && len(active) > 1 {
		worst := slices.MaxFunc(active, func(a, b string) int {
			na, oka := done[a]
			nb, okb := done[b]
			if oka != okb {
				if oka {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(na, nb),
				cmp.Compare(m.state.Teams[b].Score, m.state.Teams[a].Score),
				cmp.Compare(a, b))
		})
		out.Add(worst)
	}
	for _, id := range active {
		if !out.Has(id) {
			in.Add(id)
		}
	}
	m.emit(events.KnockoutRoundCompleted{Base: m.base(), EliminatedTeams: out, AdvancingTeams: in})
}

// timeExpired emits race_mode_time_expired at the time limit.
func (m *sim) timeExpired() {
	limit := time.Duration(m.state.Config.TimeLimitSeconds) * time.Second
	m.at(m.cfg.Start.Add(limit))
	matches := make(map[string]int, len(m.state.Teams))
	for id, t := range m.state.Teams {
		matches[id] = t.Matches
	}
	m.emit(events.RaceModeTimeExpired{
		Base: m.base(), FinalMatches: matches, GameDurationMs: m.now.Sub(m.cfg.Start).Milliseconds(),
	})
}

// completed emits game_completed with winners.
func (m *sim) completed(winners []string) {
	m.wait()
	scores := make(map[string]int, len(m.state.Teams))
	for id, t := range m.state.Teams {
		scores[id] = t.Score
	}
	m.emit(events.GameCompleted{
		Base:           m.base(),
		Winners:        serde.NewSet(winners...),
		FinalScores:    scores,
		GameDurationMs: m.now.Sub(m.cfg.Start).Milliseconds(),
		TotalRounds:    m.state.Round,
	})
}
