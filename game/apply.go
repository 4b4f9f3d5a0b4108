package game

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gamebot/eventstore/events"
)

// Apply returns the state after ev, or s unchanged and a *RuleError naming
// the first rule ev breaks (see the package documentation for the rules).
// Apply is pure: it never modifies s, its maps or its slices. ev may be an
// event value or a non-nil pointer to one.
func Apply(s State, ev events.GameEvent) (State, error) {
	next := s.Clone()
	if err := next.step(ev); err != nil {
		return s, err
	}
	return next, nil
}

// Replay applies evs in order to the zero State. On error it returns the
// state after the last event that applied and the *RuleError of the first
// that did not. Replay copies nothing per event, so it is cheaper than a
// loop of Apply calls.
func Replay(evs []events.GameEvent) (State, error) {
	var s State
	for i, ev := range evs {
		if err := s.step(ev); err != nil {
			// s may be half-changed: rebuild the state before ev, which
			// the same events produced without error a moment ago.
			var good State
			for _, prev := range evs[:i] {
				_ = good.step(prev)
			}
			return good, err
		}
	}
	return s, nil
}

// step applies ev to s in place. On error s may be half-changed.
func (s *State) step(ev events.GameEvent) error {
	v := violation{event: s.EventCount + 1}
	e, ok := concrete(ev)
	if !ok {
		return v.fail(RuleKnownEvent, "not a GameBot v1 event: %T", ev)
	}
	v.typ = e.EventType()
	if s.Players == nil && s.Started() {
		// A state from elsewhere (a snapshot) may lack the map.
		s.Players = make(map[string]events.PlayerStats)
	}
	b := e.GameBase()
	if err := s.apply(v, e, b); err != nil {
		return err
	}
	s.EventCount++
	s.UpdatedAt = b.Time()
	return nil
}

// violation builds the RuleErrors of one event.
type violation struct {
	typ   string
	event int
}

// fail returns a *RuleError for rule whose Err wraps ErrInvalidTransition.
func (v violation) fail(rule, format string, args ...any) error {
	return &RuleError{
		Rule:      rule,
		EventType: v.typ,
		Event:     v.event,
		Err:       fmt.Errorf("%w: %s", ErrInvalidTransition, fmt.Sprintf(format, args...)),
	}
}

// concrete returns ev as an event value of one of the eight types, and
// false for anything else (nil and nil pointers included).
func concrete(ev events.GameEvent) (events.GameEvent, bool) {
	switch e := ev.(type) {
	case events.GameStarted, events.RoundStarted, events.GuessProcessed, events.GuessAbandoned,
		events.TeamEliminated, events.GameCompleted, events.KnockoutRoundCompleted,
		events.RaceModeTimeExpired:
		return e, true
	case *events.GameStarted:
		return deref(e)
	case *events.RoundStarted:
		return deref(e)
	case *events.GuessProcessed:
		return deref(e)
	case *events.GuessAbandoned:
		return deref(e)
	case *events.TeamEliminated:
		return deref(e)
	case *events.GameCompleted:
		return deref(e)
	case *events.KnockoutRoundCompleted:
		return deref(e)
	case *events.RaceModeTimeExpired:
		return deref(e)
	}
	return nil, false
}

// deref returns *p, and false for a nil p.
func deref[T events.GameEvent](p *T) (events.GameEvent, bool) {
	if p == nil {
		return nil, false
	}
	return *p, true
}

// apply checks e, whose base fields are b, against s and folds it in. It may leave s half-changed on
// error; Apply works on a copy and Replay rebuilds.
func (s *State) apply(v violation, e events.GameEvent, b events.Base) error {
	if s.Completed() {
		return v.fail(RuleGameOver, "game %q completed at event %d", s.GameID, s.EventCount)
	}
	if s.Started() {
		if err := checkModeEvent(v, s.Mode, e); err != nil {
			return err
		}
	}
	if err := e.Validate(); err != nil {
		return &RuleError{Rule: RuleValidEvent, EventType: v.typ, Event: v.event, Err: err}
	}
	start, isStart := e.(events.GameStarted)
	if !s.Started() {
		if !isStart {
			return v.fail(RuleFirstEvent, "a game starts with game_started, got %s", v.typ)
		}
		s.start(start)
		return nil
	}
	if isStart {
		return v.fail(RuleStartOnce, "game %q already started", s.GameID)
	}
	if err := s.checkSequence(v, e, b); err != nil {
		return err
	}
	switch e := e.(type) {
	case events.RoundStarted:
		return s.roundStarted(v, e)
	case events.GuessProcessed:
		return s.guessProcessed(v, e)
	case events.GuessAbandoned:
		return s.guessAbandoned(v, e)
	case events.TeamEliminated:
		return s.teamEliminated(v, e)
	case events.KnockoutRoundCompleted:
		return s.knockoutRoundCompleted(v, e)
	case events.RaceModeTimeExpired:
		return s.raceModeTimeExpired(v, e)
	case events.GameCompleted:
		return s.gameCompleted(v, e)
	}
	return v.fail(RuleKnownEvent, "not a GameBot v1 event: %T", e)
}

// checkModeEvent enforces rule mode_event against the game's mode.
func checkModeEvent(v violation, mode events.Mode, e events.GameEvent) error {
	switch e.(type) {
	case events.KnockoutRoundCompleted:
		if mode != events.ModeKnockout {
			return v.fail(RuleModeEvent, "%s is only valid in knockout games, this game is %s", v.typ, mode)
		}
	case events.RaceModeTimeExpired:
		if mode != events.ModeRace {
			return v.fail(RuleModeEvent, "%s is only valid in race games, this game is %s", v.typ, mode)
		}
	case events.TeamEliminated:
		if mode == events.ModeTwoPlayer {
			return v.fail(RuleModeEvent, "%s is not valid in two_player games", v.typ)
		}
	}
	return nil
}

// start folds in game_started.
func (s *State) start(e events.GameStarted) {
	s.GameID, s.GuildID, s.Mode = e.GameID, e.GuildID, e.Mode
	s.Status = StatusInProgress
	s.Config = e.Config
	s.Teams = make(map[string]Team, len(e.Teams))
	s.Players = make(map[string]events.PlayerStats, e.PlayerIDs.Len())
	for id, players := range e.Teams {
		s.Teams[id] = Team{ID: id, Players: slices.Clone(players)}
		for _, p := range players {
			s.Players[p] = events.PlayerStats{}
		}
	}
	s.Roles = maps.Clone(e.Roles)
	s.StartedAt = e.Time()
}

// checkSequence enforces the rules every event after game_started obeys:
// same game, guild and mode, time order, race expiry, and round order.
func (s *State) checkSequence(v violation, e events.GameEvent, b events.Base) error {
	switch {
	case b.GameID != s.GameID:
		return v.fail(RuleSameGame, "event for game %q in game %q", b.GameID, s.GameID)
	case b.GuildID != s.GuildID:
		return v.fail(RuleSameGuild, "event for guild %q in a game of guild %q", b.GuildID, s.GuildID)
	case b.Mode != s.Mode:
		return v.fail(RuleSameMode, "event for mode %s in a %s game", b.Mode, s.Mode)
	case b.Time().Before(s.UpdatedAt):
		return v.fail(RuleTimeOrder, "timestamp %s is before the previous event's %s",
			b.Time().Format(timeLayout), s.UpdatedAt.Format(timeLayout))
	}
	_, isCompleted := e.(events.GameCompleted)
	if s.TimeExpired && !isCompleted {
		return v.fail(RuleTimeExpired, "the race time expired; only game_completed may follow")
	}
	if _, ok := e.(events.RoundStarted); ok {
		switch {
		case b.RoundNumber != s.Round+1:
			return v.fail(RuleRoundOrder, "round_started must open round %d, got round %d", s.Round+1, b.RoundNumber)
		case b.RoundNumber > s.Config.MaxRounds:
			return v.fail(RuleMaxRounds, "round %d exceeds max_rounds %d", b.RoundNumber, s.Config.MaxRounds)
		case s.Mode == events.ModeKnockout && s.RoundOpen:
			return v.fail(RuleRoundComplete, "knockout round %d is not completed", s.Round)
		}
		return nil
	}
	switch {
	case b.RoundNumber < s.Round:
		return v.fail(RuleRoundOrder, "round %d is before the current round %d", b.RoundNumber, s.Round)
	case b.RoundNumber > s.Round:
		return v.fail(RuleRoundOrder, "round %d has not started (current round %d)", b.RoundNumber, s.Round)
	case !s.RoundOpen && !isCompleted:
		return v.fail(RuleRoundOpen, "round %d is not open", s.Round)
	}
	return nil
}

// timeLayout formats times in rule messages.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// roundStarted folds in round_started.
func (s *State) roundStarted(v violation, e events.RoundStarted) error {
	for _, id := range slices.Sorted(maps.Keys(e.TeamStates)) {
		if _, ok := s.Teams[id]; !ok {
			return v.fail(RuleTeamStates, "unknown team %q", id)
		}
	}
	for _, id := range s.TeamIDs() {
		ts, ok := e.TeamStates[id]
		t := s.Teams[id]
		switch {
		case !ok:
			return v.fail(RuleTeamStates, "team %q is missing", id)
		case ts.Active != t.Active():
			return v.fail(RuleTeamStates, "team %q: active is %t, the game has %t", id, ts.Active, t.Active())
		case ts.Score != t.Score:
			return v.fail(RuleTeamStates, "team %q: score is %d, the game has %d", id, ts.Score, t.Score)
		case ts.Matches != t.Matches:
			return v.fail(RuleTeamStates, "team %q: matches is %d, the game has %d", id, ts.Matches, t.Matches)
		case s.Config.MaxGuesses > 0 && ts.GuessCount > s.Config.MaxGuesses:
			return v.fail(RuleGuessCount, "team %q: guess_count %d exceeds max_guesses %d",
				id, ts.GuessCount, s.Config.MaxGuesses)
		}
	}
	s.Round = e.RoundNumber
	s.RoundOpen = true
	for id, ts := range e.TeamStates {
		t := s.Teams[id]
		t.GuessCount = ts.GuessCount
		s.Teams[id] = t
	}
	return nil
}

// activeTeam returns team id, enforcing rules known_team and team_active.
func (s *State) activeTeam(v violation, id string) (Team, error) {
	t, ok := s.Teams[id]
	switch {
	case !ok:
		return t, v.fail(RuleKnownTeam, "unknown team %q", id)
	case t.Eliminated:
		return t, v.fail(RuleTeamActive, "team %q was eliminated in round %d", id, t.EliminatedRound)
	}
	return t, nil
}

// checkPlayers enforces rule team_players: p1 and p2 are t's two players
// (in either order) and any roles they carry are the game's.
func (s *State) checkPlayers(v violation, t Team, p1, p2 events.PlayerInfo) error {
	if len(t.Players) != 2 {
		return v.fail(RuleTeamPlayers, "team %q has players %q, want two", t.ID, t.Players)
	}
	a, b := t.Players[0], t.Players[1]
	if (p1.PlayerID != a || p2.PlayerID != b) && (p1.PlayerID != b || p2.PlayerID != a) {
		return v.fail(RuleTeamPlayers, "players %q and %q are not team %q's players %q",
			p1.PlayerID, p2.PlayerID, t.ID, t.Players)
	}
	for _, p := range []events.PlayerInfo{p1, p2} {
		if p.Role != "" && p.Role != s.Roles[p.PlayerID] {
			return v.fail(RuleTeamPlayers, "player %q has role %s, got %s", p.PlayerID, s.Roles[p.PlayerID], p.Role)
		}
	}
	return nil
}

// checkGuessCount enforces rule guess_count for attempt n of team t.
func (s *State) checkGuessCount(v violation, t Team, n int) error {
	switch {
	case n != t.GuessCount+1:
		return v.fail(RuleGuessCount, "team %q: attempt %d must follow attempt %d", t.ID, n, t.GuessCount)
	case s.Config.MaxGuesses > 0 && n > s.Config.MaxGuesses:
		return v.fail(RuleGuessCount, "team %q: attempt %d exceeds max_guesses %d", t.ID, n, s.Config.MaxGuesses)
	}
	return nil
}

// guessProcessed folds in guess_processed.
func (s *State) guessProcessed(v violation, e events.GuessProcessed) error {
	t, err := s.activeTeam(v, e.TeamID)
	if err != nil {
		return err
	}
	if err := s.checkPlayers(v, t, e.Player1Info, e.Player2Info); err != nil {
		return err
	}
	if err := s.checkGuessCount(v, t, e.GuessCount); err != nil {
		return err
	}
	score := t.Score + e.MatchScore
	if score < 0 {
		return v.fail(RuleScore, "team %q: score %d + %d would be negative", t.ID, t.Score, e.MatchScore)
	}
	t.Score = score
	t.Guesses++
	t.GuessCount = e.GuessCount
	if e.GuessSuccessful {
		t.Matches++
		t.GuessCount = 0
	}
	s.Teams[t.ID] = t
	for _, p := range t.Players {
		ps := s.Players[p]
		ps.Guesses++
		if e.GuessSuccessful {
			ps.Matches++
		}
		s.Players[p] = ps
	}
	return nil
}

// guessAbandoned folds in guess_abandoned.
func (s *State) guessAbandoned(v violation, e events.GuessAbandoned) error {
	t, err := s.activeTeam(v, e.TeamID)
	if err != nil {
		return err
	}
	if err := s.checkPlayers(v, t, e.Player1Info, e.Player2Info); err != nil {
		return err
	}
	if err := s.checkGuessCount(v, t, e.GuessCount); err != nil {
		return err
	}
	t.GuessCount = e.GuessCount
	t.Abandoned++
	s.Teams[t.ID] = t
	for _, p := range t.Players {
		ps := s.Players[p]
		ps.Abandoned++
		s.Players[p] = ps
	}
	return nil
}

// teamEliminated folds in team_eliminated.
func (s *State) teamEliminated(v violation, e events.TeamEliminated) error {
	t, err := s.activeTeam(v, e.TeamID)
	if err != nil {
		return err
	}
	if len(s.ActiveTeams()) < 2 {
		return v.fail(RuleLastTeam, "team %q is the last active team", t.ID)
	}
	if got, want := e.FinalState, t.EventState(); got.Score != want.Score ||
		got.Matches != want.Matches || got.GuessCount != want.GuessCount {
		return v.fail(RuleFinalState, "team %q: final_state %+v, the game has %+v", t.ID, got, want)
	}
	got, want := slices.Sorted(maps.Keys(e.PlayerStats)), slices.Sorted(slices.Values(t.Players))
	if !slices.Equal(got, want) {
		return v.fail(RuleFinalState, "team %q: player_stats for %q, the team's players are %q", t.ID, got, want)
	}
	for _, p := range t.Players {
		if got, want := e.PlayerStats[p], s.Players[p]; got != want {
			return v.fail(RuleFinalState, "player %q: player_stats %+v, the game has %+v", p, got, want)
		}
	}
	s.eliminate(t, e.Reason)
	return nil
}

// eliminate marks t eliminated in the current round.
func (s *State) eliminate(t Team, reason events.EliminationReason) {
	t.Eliminated = true
	t.EliminatedRound = s.Round
	t.EliminationReason = reason
	s.Teams[t.ID] = t
}

// knockoutRoundCompleted folds in knockout_round_completed.
func (s *State) knockoutRoundCompleted(v violation, e events.KnockoutRoundCompleted) error {
	listed := append(e.EliminatedTeams.Sorted(), e.AdvancingTeams.Sorted()...)
	for _, id := range listed {
		if _, err := s.activeTeam(v, id); err != nil {
			return err
		}
	}
	for _, id := range s.ActiveTeams() {
		if !e.EliminatedTeams.Has(id) && !e.AdvancingTeams.Has(id) {
			return v.fail(RuleKnockoutTeams, "active team %q neither advances nor is eliminated", id)
		}
	}
	for _, id := range e.EliminatedTeams.Sorted() {
		s.eliminate(s.Teams[id], events.EliminationKnockout)
	}
	s.RoundOpen = false
	return nil
}

// raceModeTimeExpired folds in race_mode_time_expired.
func (s *State) raceModeTimeExpired(v violation, e events.RaceModeTimeExpired) error {
	if err := s.checkPerTeam(v, e.FinalMatches, RuleKnownTeam, RuleFinalMatches,
		"team %q: %d matches, the game has %d", func(t Team) int { return t.Matches }); err != nil {
		return err
	}
	s.TimeExpired = true
	s.RoundOpen = false
	return nil
}

// gameCompleted folds in game_completed.
func (s *State) gameCompleted(v violation, e events.GameCompleted) error {
	if s.Mode == events.ModeRace && !s.TimeExpired {
		return v.fail(RuleTimeExpired, "a race game completes after race_mode_time_expired")
	}
	winners := e.Winners.Sorted()
	for _, id := range winners {
		t, ok := s.Teams[id]
		switch {
		case !ok:
			return v.fail(RuleWinners, "winner %q is not a team of the game", id)
		case t.Eliminated:
			return v.fail(RuleWinners, "winner %q was eliminated in round %d", id, t.EliminatedRound)
		}
	}
	if s.Mode == events.ModeRace {
		if want := s.mostMatches(); !slices.Equal(winners, want) {
			return v.fail(RuleWinners, "winners %q, the active teams with the most matches are %q", winners, want)
		}
	}
	if err := s.checkPerTeam(v, e.FinalScores, RuleFinalScores, RuleFinalScores,
		"team %q: score %d, the game has %d", func(t Team) int { return t.Score }); err != nil {
		return err
	}
	s.Status = StatusCompleted
	s.Winners = winners
	s.RoundOpen = false
	s.CompletedAt = e.Time()
	return nil
}

// checkPerTeam checks a per-team figure an event reports (final matches,
// final scores): every key is a team of the game (else unknownRule), every
// team is there and its figure equals have(team) (else rule, with
// mismatch formatting the team, the reported and the game's figure).
func (s *State) checkPerTeam(v violation, got map[string]int, unknownRule, rule, mismatch string, have func(Team) int) error {
	for _, id := range slices.Sorted(maps.Keys(got)) {
		if _, ok := s.Teams[id]; !ok {
			return v.fail(unknownRule, "unknown team %q", id)
		}
	}
	for _, id := range s.TeamIDs() {
		g, ok := got[id]
		switch {
		case !ok:
			return v.fail(rule, "team %q is missing", id)
		case g != have(s.Teams[id]):
			return v.fail(rule, mismatch, id, g, have(s.Teams[id]))
		}
	}
	return nil
}

// mostMatches returns the active teams with the most matches, sorted.
func (s *State) mostMatches() []string {
	var best []string
	most := -1
	for _, id := range s.ActiveTeams() {
		switch m := s.Teams[id].Matches; {
		case m > most:
			best, most = []string{id}, m
		case m == most:
			best = append(best, id)
		}
	}
	return best
}
