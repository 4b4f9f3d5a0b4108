package game

import (
	"errors"
	"fmt"

	"github.com/gamebot/eventstore/events"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// CommandIDKey is the metadata key naming the command that caused an
// event. A causation id may refer to such a command instead of an event
// (see RuleCausation).
const CommandIDKey = "command_id"

// streamCheck validates a game's stored events one by one, in stream
// order, and folds the accepted ones into the state. It holds everything
// the stream rules need: the next expected version, the ids of the events
// read so far, the known command ids and the correlation id of each round.
type streamCheck struct {
	gameID  string
	guildID string // the stream's guild (streams.guild_id)
	policy  InvalidPolicy

	state    State
	next     int64 // the version the next record must have
	replayed int
	skipped  []*RecoveryError

	events    map[uuid.UUID]int64       // event id -> version, every record read
	commands  map[uuid.UUID]struct{}    // command ids named in metadata
	roundCorr map[int]uuid.UUID         // round number -> correlation id
	corrRound map[uuid.UUID]int         // correlation id -> round number
	prefix    func() (prefixIDs, error) // ids of the events a snapshot covers, loaded on demand
	loaded    *prefixIDs
}

// prefixIDs are the event and command ids of the events before a
// snapshot's last event, which recovery from the snapshot does not read
// unless a causation id needs them.
type prefixIDs struct {
	events   map[uuid.UUID]struct{}
	commands map[uuid.UUID]struct{}
}

// newStreamCheck returns a check of game gameID in a stream of guild
// guildID that reads from version from: 1 with the zero State, or a
// snapshot's version with the snapshot's state st, in which case the
// record at that version goes to seed and the records after it to add.
func newStreamCheck(gameID, guildID string, policy InvalidPolicy, st State, from int64) *streamCheck {
	return &streamCheck{
		gameID:    gameID,
		guildID:   guildID,
		policy:    policy,
		state:     st,
		next:      from,
		events:    make(map[uuid.UUID]int64),
		commands:  make(map[uuid.UUID]struct{}),
		roundCorr: make(map[int]uuid.UUID),
		corrRound: make(map[uuid.UUID]int),
	}
}

// fail returns a *RecoveryError about rec.
func (c *streamCheck) fail(rec store.Recorded, rule string, resumable bool, err error) *RecoveryError {
	return &RecoveryError{
		GameID: c.gameID, StreamVersion: rec.Version, EventID: rec.ID, EventType: rec.Type,
		Rule: rule, Resumable: resumable, Err: err,
	}
}

// seed takes in the snapshot's last event (version from-1), which the
// snapshot's state already reflects: its id, command id and correlation
// id become known, so the events after it can refer to it.
func (c *streamCheck) seed(rec store.Recorded) error {
	if rec.Version != c.next {
		return c.gap(rec)
	}
	c.next++
	c.note(rec)
	if ev, ok := rec.Event.(events.GameEvent); ok && rec.CorrelationID != uuid.Nil {
		c.correlate(ev.GameBase().RoundNumber, rec.CorrelationID)
	}
	return nil
}

// gap returns the error for rec arriving when version c.next was due.
func (c *streamCheck) gap(rec store.Recorded) *RecoveryError {
	return &RecoveryError{
		GameID: c.gameID, StreamVersion: c.next, Rule: RuleContiguous,
		Err: fmt.Errorf("%w: version %d is missing (the next stored event is version %d, %s %s)",
			ErrSequenceGap, c.next, rec.Version, rec.Type, rec.ID),
	}
}

// add checks one record read from the stream (decodeErr is the
// *store.DecodeError the read reported for it, if any) and applies its
// event. It returns a *RecoveryError that ends the recovery, or another
// error (from loading the ids a causation check needs). A resumable
// violation under SkipAndReport is recorded in c.skipped instead.
func (c *streamCheck) add(rec store.Recorded, decodeErr error) error {
	if rec.Version != c.next {
		return c.gap(rec)
	}
	c.next++
	err := c.check(rec, decodeErr)
	c.note(rec)
	var re *RecoveryError
	switch {
	case err == nil:
		c.replayed++
		return nil
	case errors.As(err, &re) && re.Resumable && c.policy == SkipAndReport:
		c.skipped = append(c.skipped, re)
		return nil
	}
	return err
}

// note records rec's id and command id as known to later events, whether
// or not rec was accepted: it is an earlier event of the stream either way.
func (c *streamCheck) note(rec store.Recorded) {
	c.events[rec.ID] = rec.Version
	if cmd, ok := commandID(rec); ok {
		c.commands[cmd] = struct{}{}
	}
}

// commandID returns the command id rec's metadata names, if it is a UUID.
func commandID(rec store.Recorded) (uuid.UUID, bool) {
	s, ok := rec.Metadata.Get(CommandIDKey)
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil && id != uuid.Nil
}

// check applies the rules to rec in order: decodable, same guild, same
// game, causation, correlation, then Apply's rules.
func (c *streamCheck) check(rec store.Recorded, decodeErr error) error {
	// Before game_started nothing can be skipped: without it there is no game.
	started := c.state.Started()
	if decodeErr != nil {
		return c.fail(rec, RuleDecodable, started, fmt.Errorf("%w: %w", ErrCorruptEvent, decodeErr))
	}
	ev, ok := rec.Event.(events.GameEvent)
	if !ok {
		return c.fail(rec, RuleKnownEvent, started,
			fmt.Errorf("%w: %s decodes to %T, not a GameBot event", ErrCorruptEvent, rec.Type, rec.Event))
	}
	b := ev.GameBase()
	switch {
	case rec.GuildID != c.guildID:
		return c.fail(rec, RuleSameGuild, started, fmt.Errorf("%w: the event is stored for guild %q, the stream belongs to guild %q",
			ErrForeignEvent, rec.GuildID, c.guildID))
	case b.GuildID != c.guildID:
		return c.fail(rec, RuleSameGuild, started, fmt.Errorf("%w: the event names guild %q, the stream belongs to guild %q",
			ErrForeignEvent, b.GuildID, c.guildID))
	case b.GameID != c.gameID:
		return c.fail(rec, RuleSameGame, started, fmt.Errorf("%w: the event names game %q", ErrForeignEvent, b.GameID))
	}
	if err := c.checkCausation(rec, started); err != nil {
		return err
	}
	if err := c.checkCorrelation(rec, b.RoundNumber, started); err != nil {
		return err
	}
	next, err := Apply(c.state, ev)
	if err != nil {
		var re *RuleError
		rule := RuleKnownEvent
		if errors.As(err, &re) {
			rule = re.Rule
		}
		return c.fail(rec, rule, started, fmt.Errorf("%w: %w", ErrInvalidEvent, err))
	}
	c.state = next
	if rec.CorrelationID != uuid.Nil {
		c.correlate(b.RoundNumber, rec.CorrelationID)
	}
	return nil
}

// checkCausation enforces RuleCausation: a causation id, when set, is the
// id of an earlier event of the stream, or a command id named (metadata
// key CommandIDKey) by this event or an earlier one.
func (c *streamCheck) checkCausation(rec store.Recorded, started bool) error {
	cause := rec.CausationID
	if cause == uuid.Nil {
		return nil
	}
	if cause == rec.ID {
		return c.fail(rec, RuleCausation, started, fmt.Errorf("%w: causation id %s is the event's own id", ErrCausality, cause))
	}
	if _, ok := c.events[cause]; ok {
		return nil
	}
	if cmd, ok := commandID(rec); ok && cmd == cause {
		return nil
	}
	if _, ok := c.commands[cause]; ok {
		return nil
	}
	if c.prefix != nil {
		if c.loaded == nil {
			ids, err := c.prefix()
			if err != nil {
				return err
			}
			c.loaded = &ids
		}
		_, isEvent := c.loaded.events[cause]
		_, isCommand := c.loaded.commands[cause]
		if isEvent || isCommand {
			return nil
		}
	}
	return c.fail(rec, RuleCausation, started, fmt.Errorf(
		"%w: causation id %s refers to no earlier event of the game and to no command id in metadata (key %q)",
		ErrCausality, cause, CommandIDKey))
}

// checkCorrelation enforces RuleCorrelation for an event of round round:
// every accepted event of a round that carries a correlation id carries
// the same one, and a correlation id belongs to one round only. Events
// without a correlation id are exempt.
func (c *streamCheck) checkCorrelation(rec store.Recorded, round int, started bool) error {
	corr := rec.CorrelationID
	if corr == uuid.Nil {
		return nil
	}
	if want, ok := c.roundCorr[round]; ok && want != corr {
		return c.fail(rec, RuleCorrelation, started, fmt.Errorf(
			"%w: correlation id %s in round %d, whose events carry correlation id %s", ErrCausality, corr, round, want))
	}
	if other, ok := c.corrRound[corr]; ok && other != round {
		return c.fail(rec, RuleCorrelation, started, fmt.Errorf(
			"%w: correlation id %s in round %d already belongs to round %d", ErrCausality, corr, round, other))
	}
	return nil
}

// correlate records that round uses correlation id corr.
func (c *streamCheck) correlate(round int, corr uuid.UUID) {
	if _, ok := c.roundCorr[round]; !ok {
		c.roundCorr[round] = corr
	}
	if _, ok := c.corrRound[corr]; !ok {
		c.corrRound[corr] = round
	}
}

// finish checks the end of the stream: every event up to end (the
// stream's recorded version) was read, the game started, and the state
// passes Check.
func (c *streamCheck) finish(end int64) error {
	last := c.next - 1
	switch {
	case last < end:
		return &RecoveryError{
			GameID: c.gameID, StreamVersion: c.next, Rule: RuleStreamEnd,
			Err: fmt.Errorf("%w: the stream records version %d, its events end at version %d", ErrSequenceGap, end, last),
		}
	case !c.state.Started():
		return &RecoveryError{
			GameID: c.gameID, StreamVersion: 0, Rule: RuleFirstEvent,
			Err: fmt.Errorf("%w: the stream has no events", ErrGameNotStarted),
		}
	}
	if err := c.state.Check(); err != nil {
		return &RecoveryError{GameID: c.gameID, StreamVersion: last, Rule: RuleStateInvariants, Err: err}
	}
	return nil
}
