package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gamebot/eventstore/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// AppendResult is the outcome of a successful Append.
type AppendResult struct {
	// StreamID is the stream appended to.
	StreamID string
	// Version is the stream's version after the append (its last event's version).
	Version int64
	// FirstPosition and LastPosition are the global positions of the first
	// and last appended events.
	FirstPosition int64
	LastPosition  int64
}

// Append appends events to streamID in one round trip, if the stream is at
// the expected version. The context must carry a guild (WithGuild); a new
// stream belongs to that guild. Either every event is stored or none is.
//
// Errors: ErrInvalidStreamID, ErrInvalidExpectedVersion, ErrInvalidBatchSize,
// ErrGuildRequired, ErrInvalidGuildID, ErrInvalidEventData,
// ErrSerializationFailed, ErrInvalidEventType, ErrEventTooLarge,
// ErrBatchTooLarge (nothing was sent);
// *VersionConflictError, ErrStreamDeleted, ErrStreamArchived,
// *StreamFullError, ErrDuplicateEvent, ErrGuildMismatch (nothing was
// stored); ErrConnection (unknown outcome: retrying the same events is safe).
func (s *Store) Append(ctx context.Context, streamID string, expected ExpectedVersion, events ...Event) (AppendResult, error) {
	// Encode once, ids included, so that a retry re-sends the same events
	// and the idempotent append never stores them twice.
	params, perr := s.appendParams(ctx, streamID, expected, events)
	var res AppendResult
	spec := opSpec{op: OpAppend, stream: streamID, replayable: true, coalesced: new(flushUse)}
	err := s.do(ctx, spec, func(ctx context.Context) (int, error) {
		if perr != nil {
			return 0, perr
		}
		var err error
		if s.coalescer != nil && txValueFrom(ctx) == nil {
			res, *spec.coalesced, err = s.coalescer.append(ctx, streamID, params)
		} else {
			res, err = s.appendEncoded(ctx, streamID, params)
		}
		if err != nil {
			return 0, err
		}
		return len(events), nil
	})
	return res, opError("append to stream", streamID, err)
}

// appendEncoded sends an encoded batch. The statement sets the guild
// itself, so it goes out alone rather than after setGuildSQL.
//
// Outside a caller's transaction the append skips append_events' stored-id
// probe: the unique index refuses a stored id, and only then is the batch
// sent again with the probe, which tells a replay from a duplicate. Inside
// one the probe runs first, since a refused statement would abort the
// caller's transaction.
//
// A single event outside a caller's transaction, the hot path, goes
// through append_event: scalar arguments, and for an existing stream one
// UPDATE and one INSERT (anything else it passes on to append_events).
func (s *Store) appendEncoded(ctx context.Context, streamID string, params db.EventsAppendParams) (AppendResult, error) {
	q, inTx := s.plainQueries(ctx)
	res := AppendResult{StreamID: streamID}
	var err error
	// The store's own parameter encoding (wire.go): outside a caller's
	// transaction, and in one when the pool keeps no statement cache.
	var wire *wireRoute
	if s.wire != nil && (!inTx || !s.wire.prepare) {
		wire = s.wire
	}
	if !inTx && len(params.EventIds) == 1 {
		err = appendOne(ctx, s, wire, q, params, &res)
	} else {
		params.ProbeIds = inTx
		err = appendMany(ctx, s, wire, q, params, &res)
	}
	if err != nil && !inTx && errors.Is(mapError(err), errConcurrentDuplicate) {
		params.ProbeIds = true
		err = appendMany(ctx, s, wire, q, params, &res)
	}
	if err != nil {
		return AppendResult{}, mapError(err)
	}
	if inTx {
		if tv := txValueFrom(ctx); tv != nil && tv.owned {
			tv.noteAppend(len(params.EventIds))
		}
	} else {
		s.committed()
	}
	return res, nil
}

// oneParams is append_event's arguments for p, which appends one event.
func oneParams(p *db.EventsAppendParams) db.EventsAppendOneParams {
	return db.EventsAppendOneParams{
		GuildID: p.GuildID, LockWait: p.LockWait, StreamID: p.StreamID, ExpectedVersion: p.ExpectedVersion,
		EventID: p.EventIds[0], EventType: p.EventTypes[0], EventVersion: p.EventVersions[0],
		Data: p.Data[0], Metadata: p.Metadata[0], CausationID: p.CausationIds[0], CorrelationID: p.CorrelationIds[0],
		MaxStreamEvents: p.MaxStreamEvents,
	}
}

// appendOne sends a batch of one event through append_event, without the
// stored-id probe, and sets res's version and positions. A non-nil wire
// sends it with the store's own encoding, else q runs it.
func appendOne(ctx context.Context, s *Store, wire *wireRoute, q *db.Queries, p db.EventsAppendParams, res *AppendResult) error {
	one := oneParams(&p)
	row, err := wire.appendOne(ctx, s, q, &one)
	if err != nil {
		return err
	}
	res.Version, res.FirstPosition, res.LastPosition = row.NewVersion, row.GlobalPosition, row.GlobalPosition
	return nil
}

// appendMany sends a batch through append_events and sets res's version
// and positions; wire and q as for appendOne.
func appendMany(ctx context.Context, s *Store, wire *wireRoute, q *db.Queries, p db.EventsAppendParams, res *AppendResult) error {
	row, err := wire.appendMany(ctx, s, q, &p)
	if err != nil {
		return err
	}
	res.Version, res.FirstPosition, res.LastPosition = row.NewVersion, row.FirstPosition, row.LastPosition
	return nil
}

// appendParams validates and encodes a batch; it runs no SQL.
func (s *Store) appendParams(ctx context.Context, streamID string, expected ExpectedVersion, events []Event) (db.EventsAppendParams, error) {
	var p db.EventsAppendParams
	if err := ValidateStreamID(streamID); err != nil {
		return p, err
	}
	if !expected.valid() {
		return p, fmt.Errorf("%w: %s", ErrInvalidExpectedVersion, expected)
	}
	guild, err := requireGuild(ctx)
	if err != nil {
		return p, err
	}
	if len(events) == 0 {
		return p, fmt.Errorf("%w: empty batch: at least one event is required", ErrInvalidBatchSize)
	}
	if len(events) > s.cfg.MaxAppendBatch {
		return p, fmt.Errorf("%w: %d events, at most %d per append", ErrInvalidBatchSize, len(events), s.cfg.MaxAppendBatch)
	}
	n := len(events)
	p = db.EventsAppendParams{StreamID: streamID, GuildID: guild, ExpectedVersion: int64(expected)}
	if n == 1 {
		// GameBot's hot path: the one event's slots in one allocation.
		one := new(oneEventSlots)
		p.EventIds, p.EventTypes, p.EventVersions = one.ids[:], one.types[:], one.versions[:]
		p.Data, p.Metadata = one.data[:], one.metadata[:]
		p.CausationIds, p.CorrelationIds = one.causation[:], one.correlation[:]
	} else {
		p.EventIds, p.EventTypes, p.EventVersions = make([]pgtype.UUID, n), make([]string, n), make([]int32, n)
		p.Data, p.Metadata = make([][]byte, n), make([][]byte, n)
		p.CausationIds, p.CorrelationIds = make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	}
	if s.cfg.MaxStreamEvents > 0 {
		p.MaxStreamEvents = pgtype.Int8{Int64: s.cfg.MaxStreamEvents, Valid: true}
	}
	// Ids first, in order, so that new UUIDv7 ids follow the batch order;
	// then the events are encoded, a large batch on several goroutines.
	var seen map[uuid.UUID]struct{} // a single event cannot repeat an id
	if n > 1 {
		seen = make(map[uuid.UUID]struct{}, n)
	}
	dupAt := -1
	for i, ev := range events {
		id := ev.ID
		if id == uuid.Nil {
			if id, err = uuid.NewV7(); err != nil {
				return p, fmt.Errorf("event %d of %d: new id: %w", i+1, n, err)
			}
		}
		p.EventIds[i] = toPgUUID(id)
		if seen == nil {
			continue
		}
		if _, dup := seen[id]; dup && dupAt < 0 {
			dupAt = i
		}
		seen[id] = struct{}{}
	}
	var errAt, firstEr = n, error(nil)
	if n == 1 {
		if firstEr = s.encodeEvent(guild, 0, 1, events[0], &p); firstEr != nil {
			errAt = 0
		}
	} else {
		errAt, firstEr = s.encodeEvents(guild, events, p)
	}
	// The error of the first bad event wins, as if encoded one by one.
	if firstEr != nil && (dupAt < 0 || errAt <= dupAt) {
		return p, firstEr
	}
	if err := s.checkSizes(&p); err != nil {
		return p, err
	}
	if dupAt >= 0 {
		return p, fmt.Errorf("%w: event %d of %d repeats id %s within the batch",
			ErrDuplicateEvent, dupAt+1, n, uuid.UUID(p.EventIds[dupAt].Bytes))
	}
	return p, nil
}

// oneEventSlots are the parameter slots of an append of one event.
type oneEventSlots struct {
	ids, causation, correlation [1]pgtype.UUID
	types                       [1]string
	versions                    [1]int32
	data, metadata              [1][]byte
}

// encodeEvents encodes a batch's events into the slots of p, whose slices
// it shares with the caller's, a large batch on several goroutines. It
// returns the first bad event's index and error (len(events) and nil when
// there is none), as if the events were encoded one by one.
func (s *Store) encodeEvents(guild string, events []Event, p db.EventsAppendParams) (int, error) {
	n := len(events)
	var (
		mu      sync.Mutex
		errAt   = n
		firstEr error
	)
	forEachChunk(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if err := s.encodeEvent(guild, i, n, events[i], &p); err != nil {
				mu.Lock()
				if i < errAt {
					errAt, firstEr = i, err
				}
				mu.Unlock()
				return
			}
		}
	})
	return errAt, firstEr
}

// checkSizes refuses an encoded event or batch past the configured caps.
func (s *Store) checkSizes(p *db.EventsAppendParams) error {
	total := 0
	for i := range p.Data {
		size := len(p.Data[i]) + len(p.Metadata[i])
		if s.cfg.MaxEventBytes > 0 && size > s.cfg.MaxEventBytes {
			return fmt.Errorf("%w: event %d of %d (%s) is %d bytes encoded, at most %d",
				ErrEventTooLarge, i+1, len(p.Data), p.EventTypes[i], size, s.cfg.MaxEventBytes)
		}
		total += size
	}
	if s.cfg.MaxBatchBytes > 0 && total > s.cfg.MaxBatchBytes {
		return fmt.Errorf("%w: %d events are %d bytes encoded, at most %d per append",
			ErrBatchTooLarge, len(p.Data), total, s.cfg.MaxBatchBytes)
	}
	return nil
}

// guildOwned is implemented by domain events that carry their guild.
type guildOwned interface {
	EventGuildID() string
}

// encodeEvent checks and encodes event i (its id is already set) into p's
// slots i; it touches no other slot.
func (s *Store) encodeEvent(guild string, i, n int, ev Event, p *db.EventsAppendParams) error {
	if ev.Data == nil {
		return fmt.Errorf("%w: event %d of %d has no data", ErrInvalidEventData, i+1, n)
	}
	typ, ver := ev.Data.EventType(), ev.Data.EventVersion()
	if msg := checkEventType(typ); msg != "" {
		return fmt.Errorf("%w: event %d of %d: type %q %s", ErrInvalidEventType, i+1, n, truncate(typ), msg)
	}
	if ver < 1 || ver > 1<<30 {
		return fmt.Errorf("%w: event %d of %d (%s): version %d must be at least 1", ErrInvalidEventType, i+1, n, typ, ver)
	}
	if g, ok := ev.Data.(guildOwned); ok && g.EventGuildID() != guild {
		return fmt.Errorf("%w: event %d of %d (%s) belongs to guild %q, the context's guild is %q",
			ErrGuildMismatch, i+1, n, typ, g.EventGuildID(), guild)
	}
	data, err := s.cfg.Serializer.Marshal(ev.Data)
	if err != nil {
		return fmt.Errorf("event %d of %d: %w", i+1, n, err)
	}
	// The serializers shipped with serde validate their output; for any
	// other a cheap shape check here, and PostgreSQL parses the JSON and
	// append_events checks it is an object (bad JSON: ErrInvalidEventData).
	if !looksLikeObject(data) {
		return fmt.Errorf("%w: event %d of %d (%s v%d): serializer output is not a JSON object", ErrInvalidEventData, i+1, n, typ, ver)
	}
	p.EventTypes[i] = typ
	p.EventVersions[i] = int32(ver)
	p.Data[i] = data
	if len(ev.Metadata) > 0 || len(ev.RawMetadata) > 0 {
		if p.Metadata[i], err = encodeAnyMetadata(ev.Metadata, ev.RawMetadata); err != nil {
			return fmt.Errorf("%w: event %d of %d: metadata: %w", ErrInvalidEventData, i+1, n, err)
		}
	}
	p.CausationIds[i] = toPgUUID(ev.CausationID)
	p.CorrelationIds[i] = toPgUUID(ev.CorrelationID)
	return nil
}

// looksLikeObject reports whether b, trimmed of JSON white space, starts
// with '{' and ends with '}'.
func looksLikeObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}
