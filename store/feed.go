package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gamebot/eventstore/db"
)

// Checkpoint is a position in the global feed: the (transaction id, global
// position) of the last event a reader has seen. The zero Checkpoint is the
// start of the feed.
type Checkpoint struct {
	// TransactionID is the writing transaction of the last event seen.
	TransactionID uint64
	// Position is the global position of the last event seen.
	Position int64
}

// String formats c as "transaction_id/position", the form ParseCheckpoint reads.
func (c Checkpoint) String() string {
	return strconv.FormatUint(c.TransactionID, 10) + "/" + strconv.FormatInt(c.Position, 10)
}

// Less reports whether c comes before o in feed order.
func (c Checkpoint) Less(o Checkpoint) bool {
	return c.TransactionID < o.TransactionID || (c.TransactionID == o.TransactionID && c.Position < o.Position)
}

// ParseCheckpoint parses "transaction_id/position" (or "0" for the start).
func ParseCheckpoint(s string) (Checkpoint, error) {
	if s == "0" || s == "" {
		return Checkpoint{}, nil
	}
	txs, poss, ok := strings.Cut(s, "/")
	tx, err1 := strconv.ParseUint(txs, 10, 64)
	pos, err2 := strconv.ParseInt(poss, 10, 64)
	if !ok || err1 != nil || err2 != nil || pos < 0 {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint %q (want TRANSACTION_ID/POSITION)", ErrInvalidArgument, s)
	}
	return Checkpoint{TransactionID: tx, Position: pos}, nil
}

// FeedOptions selects a page of the global feed.
type FeedOptions struct {
	// Limit is the largest number of events to return, 1..MaxReadBatch.
	Limit int
	// Filter keeps only matching events; it is applied in SQL.
	Filter FeedFilter
	// Partition keeps only the streams of one partition member (applied
	// in SQL). The zero value keeps every stream.
	Partition FeedPartition
	// ScanLimit bounds the rows a filtered read examines: it stops after
	// ScanLimit rows even when fewer than Limit of them matched, and
	// returns a Next checkpoint past the rows it examined, so a long run of
	// non-matching events costs bounded work per call and never stalls a
	// reader. Default (0): 10 × Limit. Values below Limit count as Limit.
	// Unfiltered reads ignore it.
	ScanLimit int
}

// FeedFilter selects events of the global feed. The zero value matches
// every event; set fields must all match. Strings with a NUL byte or
// invalid UTF-8, which PostgreSQL's text cannot hold, are refused with
// ErrInvalidArgument before any SQL runs.
type FeedFilter struct {
	// EventTypes keeps events whose stored type is one of these (none of
	// them empty).
	EventTypes []string
	// StreamPrefix keeps events of streams whose id starts with it.
	StreamPrefix string
	// GuildID keeps events of that guild's streams.
	GuildID string
}

// IsZero reports whether f matches every event.
func (f FeedFilter) IsZero() bool {
	return len(f.EventTypes) == 0 && f.StreamPrefix == "" && f.GuildID == ""
}

func (f FeedFilter) validate() error {
	for _, t := range f.EventTypes {
		if t == "" {
			return fmt.Errorf("%w: empty event type in filter", ErrInvalidArgument)
		}
		if msg := checkText(t); msg != "" {
			return fmt.Errorf("%w: event type %q in filter %s", ErrInvalidArgument, truncate(t), msg)
		}
	}
	if msg := checkText(f.StreamPrefix); msg != "" {
		return fmt.Errorf("%w: stream prefix %q in filter %s", ErrInvalidArgument, truncate(f.StreamPrefix), msg)
	}
	if f.GuildID != "" {
		if err := ValidateGuildID(f.GuildID); err != nil {
			return err
		}
	}
	return nil
}

// FeedPartition splits the feed among Count members by stream: member m
// gets the events of the streams whose id hashes to m (hashtext(stream_id)
// mod Count, computed in SQL). Every event of a stream goes to the same
// member, in feed order. The zero value (Count 0) means no partitioning.
type FeedPartition struct {
	// Member is this member's number, 0..Count-1.
	Member int
	// Count is the number of members; 0 or 1 means one member gets all.
	Count int
}

func (p FeedPartition) validate() error {
	if p.Count < 0 || p.Count > maxPartitions || p.Member < 0 || (p.Count > 0 && p.Member >= p.Count) || (p.Count == 0 && p.Member != 0) {
		return fmt.Errorf("%w: partition member %d of %d (want 0 <= member < count <= %d)", ErrInvalidArgument, p.Member, p.Count, maxPartitions)
	}
	return nil
}

// normalized returns p with Count 0 written as 1.
func (p FeedPartition) normalized() FeedPartition {
	if p.Count <= 1 {
		return FeedPartition{Member: 0, Count: 1}
	}
	return p
}

// maxPartitions bounds FeedPartition.Count.
const maxPartitions = 1024

// defaultScanFactor sets the default ScanLimit of filtered reads (× Limit).
const defaultScanFactor = 10

// FeedPage is one page of the global feed.
type FeedPage struct {
	// Events are in feed order.
	Events []Recorded
	// Next is the checkpoint to continue from: past the last event
	// returned and past any non-matching events examined after it
	// (unchanged when nothing was examined).
	Next Checkpoint
	// More reports that the page stopped at Limit or ScanLimit rather than
	// at the feed's safe horizon, so reading on at once may return more.
	More bool
}

// ReadFeed returns events of every stream after checkpoint after, in
// commit-safe order: ordered by (transaction id, global position), and only
// from transactions older than every transaction still running. An event
// whose transaction commits late therefore appears after events a reader has
// already passed, never before them, and is never skipped. The price: a
// long-running transaction holds the feed back until it ends (see FeedLag).
//
// opts.Filter and opts.Partition are applied in SQL; a filtered read
// examines at most opts.ScanLimit rows and its Next checkpoint moves past
// the non-matching ones, even when none matched.
//
// Errors: ErrInvalidBatchSize, ErrInvalidArgument, ErrInvalidGuildID,
// ErrConnection, *DecodeError (the page is then still complete).
func (s *Store) ReadFeed(ctx context.Context, after Checkpoint, opts FeedOptions) (FeedPage, error) {
	var page FeedPage
	err := s.do(ctx, opSpec{op: OpReadFeed, replayable: true}, func(ctx context.Context) (int, error) {
		var err error
		page, err = s.readFeed(ctx, after, opts)
		return len(page.Events), err
	})
	return page, opError("read feed", "", err)
}

func (s *Store) readFeed(ctx context.Context, after Checkpoint, opts FeedOptions) (FeedPage, error) {
	fr, err := s.readFeedRows(ctx, after, opts)
	if err != nil {
		return FeedPage{Next: after}, err
	}
	recs, err := s.decodeRows(&fr.rows)
	return FeedPage{Events: recs, Next: fr.next, More: fr.more}, err
}

// readFeedRows reads one page of the feed without decoding it.
func (s *Store) readFeedRows(ctx context.Context, after Checkpoint, opts FeedOptions) (rowPage[Checkpoint], error) {
	if opts.Limit < 1 || opts.Limit > s.cfg.MaxReadBatch {
		return rowPage[Checkpoint]{next: after}, fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidBatchSize, opts.Limit, s.cfg.MaxReadBatch)
	}
	if err := opts.Filter.validate(); err != nil {
		return rowPage[Checkpoint]{next: after}, err
	}
	explicitGuild := opts.Filter.GuildID != ""
	var err error
	if opts.Filter.GuildID, err = s.scopeTo(ctx, opts.Filter.GuildID); err != nil {
		return rowPage[Checkpoint]{next: after}, err
	}
	if err := opts.Partition.validate(); err != nil {
		return rowPage[Checkpoint]{next: after}, err
	}
	if opts.ScanLimit < 0 {
		return rowPage[Checkpoint]{next: after}, fmt.Errorf("%w: scan limit %d", ErrInvalidArgument, opts.ScanLimit)
	}
	part := opts.Partition.normalized()
	// The whole feed, or a guild's part of it when the guild comes from the
	// context only, reads by index. A filter (an explicit guild included)
	// scans the feed boundedly instead, so that its checkpoint moves past
	// the events it skips.
	if part.Count == 1 && len(opts.Filter.EventTypes) == 0 && opts.Filter.StreamPrefix == "" &&
		(opts.Filter.GuildID == "" || !explicitGuild) {
		return s.readFeedAll(ctx, after, opts.Filter.GuildID, opts.Limit)
	}
	scan := opts.ScanLimit
	if scan == 0 {
		scan = min(defaultScanFactor*opts.Limit, math.MaxInt32)
	}
	scan = min(max(scan, opts.Limit), math.MaxInt32)
	types := opts.Filter.EventTypes
	if types == nil {
		types = []string{}
	}
	// The arguments in the order of the generated EventsReadFeedFiltered.
	var tail scanTail
	rows, err := queryEventsTail(ctx, s.readDB(ctx, scopeFeed), opts.Limit, s.newEarlyDecoder(), &tail,
		db.EventsReadFeedFiltered, types, opts.Filter.StreamPrefix, opts.Filter.GuildID, int32(part.Count),
		int32(part.Member), after.TransactionID, after.Position, int32(scan), int32(opts.Limit))
	if err != nil {
		return rowPage[Checkpoint]{next: after}, mapError(err)
	}
	fr := rowPage[Checkpoint]{rows: rows, next: after, more: len(rows.list) == opts.Limit}
	if tail.rows > 0 {
		fr.next = tail.last
		fr.more = fr.more || tail.scanned >= int64(scan)
	}
	return fr, nil
}

// readFeedAll reads the unfiltered feed, or one guild's part of it (by
// its own index).
func (s *Store) readFeedAll(ctx context.Context, after Checkpoint, guild string, limit int) (rowPage[Checkpoint], error) {
	d := s.readDB(ctx, scopeFeed)
	var (
		rows eventRows
		err  error
	)
	// The arguments in the order of the generated EventsReadFeed and
	// EventsReadFeedGuild.
	if guild == "" {
		rows, err = queryEvents(ctx, d, limit, s.newEarlyDecoder(), db.EventsReadFeed, after.TransactionID, after.Position, int32(limit))
	} else {
		rows, err = queryEvents(ctx, d, limit, s.newEarlyDecoder(), db.EventsReadFeedGuild, guild, after.TransactionID, after.Position, int32(limit))
	}
	if err != nil {
		return rowPage[Checkpoint]{next: after}, mapError(err)
	}
	fr := rowPage[Checkpoint]{rows: rows, next: after, more: len(rows.list) == limit}
	if len(rows.list) > 0 {
		last := rows.list[len(rows.list)-1]
		fr.next = Checkpoint{TransactionID: last.TransactionID, Position: last.GlobalPosition}
	}
	return fr, nil
}

// Operation names of FeedEnd and FeedLag in Observation.Op.
const (
	OpFeedEnd = "feed_end"
	OpFeedLag = "feed_lag"
)

// FeedEnd returns the checkpoint of the last event the feed can deliver
// now (the zero Checkpoint when there is none). Reading the feed after it
// returns only events that become deliverable later: those committed from
// now on, and those held back by a transaction still running.
func (s *Store) FeedEnd(ctx context.Context) (Checkpoint, error) {
	var end Checkpoint
	err := s.do(ctx, opSpec{op: OpFeedEnd, replayable: true}, func(ctx context.Context) (int, error) {
		q := s.readQueries(ctx, scopeFeed)
		row, err := q.FeedEndGet(ctx)
		if err != nil {
			return 0, mapError(err)
		}
		end = Checkpoint{TransactionID: row.TransactionID, Position: row.GlobalPosition}
		return 0, nil
	})
	return end, opError("feed end", "", err)
}

// FeedLag describes how far the global feed trails the committed events.
// The feed delivers only events of transactions older than every
// transaction still running, and transaction ids are cluster-wide: one
// long-running transaction, in any database of the PostgreSQL cluster (or a
// forgotten prepared transaction), holds every feed reader back until it
// ends. FeedLag makes such a transaction visible.
type FeedLag struct {
	// Horizon is the feed's safe horizon: pg_snapshot_xmin of the current
	// snapshot. Events of transactions below it can be delivered.
	Horizon uint64
	// HeldEvents is the number of committed events the horizon still holds
	// back (0 when the feed is current).
	HeldEvents int64
	// HeldFor is how long the oldest held-back event has been stored (0
	// when none is held back): the feed's delay.
	HeldFor time.Duration
	// Oldest is the oldest transaction of the cluster that has a
	// transaction id, the one that sets the horizon; nil when none runs.
	Oldest *FeedBlocker
}

// FeedBlocker is a transaction that holds the feed's horizon back.
type FeedBlocker struct {
	// PID is the backend's process id (0 for a prepared transaction).
	PID int
	// Database is the database the transaction runs in; it may be another
	// database of the same cluster.
	Database string
	// State is the backend state ("active", "idle in transaction", …), or
	// "prepared" for a prepared transaction; "" when not visible (see
	// Store.FeedLag).
	State string
	// Age is how long the transaction has been open (0 when not visible).
	Age time.Duration
	// Prepared reports a prepared (two-phase) transaction, which holds the
	// horizon until COMMIT PREPARED or ROLLBACK PREPARED.
	Prepared bool
}

// String describes the lag in one line, for a log or an error: the events
// held back, for how long, and the transaction that holds the horizon.
func (l FeedLag) String() string {
	var b strings.Builder
	switch l.HeldEvents {
	case 0:
		b.WriteString("no event held back")
	case 1:
		fmt.Fprintf(&b, "1 event held back for %s", l.HeldFor.Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "%d events held back for %s", l.HeldEvents, l.HeldFor.Round(time.Millisecond))
	}
	o := l.Oldest
	switch {
	case o == nil:
		b.WriteString("; no transaction holds the horizon")
	case o.Prepared:
		fmt.Fprintf(&b, "; the horizon is held by a prepared transaction in database %q", o.Database)
	case o.State == "":
		fmt.Fprintf(&b, "; the horizon is held by the transaction of pid %d in database %q (another role's: no state or age visible)",
			o.PID, o.Database)
	default:
		fmt.Fprintf(&b, "; the horizon is held by the transaction of pid %d in database %q (%s, open %s)",
			o.PID, o.Database, o.State, o.Age.Round(time.Millisecond))
	}
	return b.String()
}

// FeedLag reports the feed's safe horizon, the committed events it still
// holds back and the transaction that holds it. Without pg_read_all_stats,
// a session of another role shows its PID and Database but no State or Age
// (empty, 0).
func (s *Store) FeedLag(ctx context.Context) (FeedLag, error) {
	var row *db.FeedLagGetRow
	err := s.do(ctx, opSpec{op: OpFeedLag, replayable: true}, func(ctx context.Context) (int, error) {
		q, _ := s.queries(ctx)
		var err error
		row, err = q.FeedLagGet(ctx)
		return 0, mapError(err)
	})
	if err != nil {
		return FeedLag{}, opError("feed lag", "", err)
	}
	lag := FeedLag{
		Horizon:    row.Horizon,
		HeldEvents: row.HeldEvents,
		HeldFor:    seconds(row.HeldSeconds),
	}
	if row.OldestDatabase != "" || row.OldestPid != 0 {
		lag.Oldest = &FeedBlocker{
			PID:      int(row.OldestPid),
			Database: row.OldestDatabase,
			State:    row.OldestState,
			Age:      seconds(row.OldestSeconds),
			Prepared: row.OldestPrepared,
		}
	}
	return lag, nil
}

// seconds converts a non-negative number of seconds to a Duration.
func seconds(f float64) time.Duration {
	if f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}
