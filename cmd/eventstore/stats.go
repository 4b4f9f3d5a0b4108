package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// statsJSON is the --json output of `eventstore stats`; each part comes from
// one of the inspection views (see docs/OPERATIONS.md).
type statsJSON struct {
	Totals statsTotals  `json:"totals"`
	Guilds []guildStat  `json:"guilds"`
	Types  []typeStat   `json:"types"`
	Modes  []modeStat   `json:"modes"`
	Tables []tableSize  `json:"tables"`
	Feed   feedLagStats `json:"feed"`
	// Subscriptions are the persistent subscriptions and their lag.
	Subscriptions []subscriptionStat `json:"subscriptions"`
	// ConsumerGroups are the consumer groups with their members
	// (eventstore.consumer_groups, eventstore.consumer_group_members).
	ConsumerGroups []consumerGroupStat `json:"consumer_groups"`
	// Replication: the standbys streaming from the primary and the
	// --replica-url ones (see replicas.go); omitted when there is none.
	Replication *replicationJSON `json:"replication,omitempty"`
}

type statsTotals struct {
	Guilds          int64 `json:"guilds"`
	Streams         int64 `json:"streams"`
	ActiveStreams   int64 `json:"active_streams"`
	ArchivedStreams int64 `json:"archived_streams"`
	DeletedStreams  int64 `json:"deleted_streams"`
	Events          int64 `json:"events"`
}

type guildStat struct {
	GuildID         string     `json:"guild_id"`
	Streams         int64      `json:"streams"`
	ActiveStreams   int64      `json:"active_streams"`
	ArchivedStreams int64      `json:"archived_streams"`
	DeletedStreams  int64      `json:"deleted_streams"`
	Events          int64      `json:"events"`
	LastActivityAt  *time.Time `json:"last_activity_at"`
}

type typeStat struct {
	Type         string    `json:"type"`
	TypeVersion  int32     `json:"type_version"`
	Events       int64     `json:"events"`
	AvgDataBytes int64     `json:"avg_data_bytes"`
	FirstAt      time.Time `json:"first_at"`
	LastAt       time.Time `json:"last_at"`
}

type modeStat struct {
	Mode           string `json:"mode"`
	GamesStarted   int64  `json:"games_started"`
	GamesCompleted int64  `json:"games_completed"`
	Events         int64  `json:"events"`
}

type tableSize struct {
	Table         string `json:"table"`
	EstimatedRows *int64 `json:"estimated_rows"` // nil until ANALYZE
	TotalBytes    int64  `json:"total_bytes"`
	TableBytes    int64  `json:"table_bytes"`
	IndexBytes    int64  `json:"index_bytes"`
}

type feedLagStats struct {
	Horizon        uint64     `json:"horizon"`
	NewestPosition *int64     `json:"newest_position"`
	NewestAt       *time.Time `json:"newest_at"`
	FeedPosition   *int64     `json:"feed_position"`
	FeedCheckpoint *string    `json:"feed_checkpoint"`
	HeldEvents     int64      `json:"held_events"`
	HeldSeconds    float64    `json:"held_seconds"`
	OldestXact     *xactStat  `json:"oldest_transaction,omitempty"`
}

type xactStat struct {
	PID        *int32   `json:"pid,omitempty"`
	Database   *string  `json:"database,omitempty"`
	State      *string  `json:"state,omitempty"`
	AgeSeconds *float64 `json:"age_seconds,omitempty"`
	Prepared   bool     `json:"prepared"`
}

type subscriptionStat struct {
	Name            string    `json:"name"`
	PartitionMember int32     `json:"partition_member"`
	PartitionCount  int32     `json:"partition_count"`
	Source          string    `json:"source"`
	Checkpoint      string    `json:"checkpoint"`
	HandledCount    int64     `json:"handled_count"`
	EventsBehind    *int64    `json:"events_behind"`
	LagSeconds      float64   `json:"lag_seconds"`
	ConsumerActive  bool      `json:"consumer_active"`
	SavedAt         time.Time `json:"checkpoint_saved_at"`
}

type consumerGroupStat struct {
	Name             string            `json:"name"`
	GuildID          string            `json:"guild_id"`
	Partitions       int               `json:"partitions"`
	LiveMembers      int               `json:"live_members"`
	HeldPartitions   int               `json:"held_partitions"`
	UnheldPartitions int               `json:"unheld_partitions"`
	Handled          int64             `json:"handled_count"`
	Members          []groupMemberStat `json:"members"`
}

type groupMemberStat struct {
	ID         string    `json:"id"`
	Alive      bool      `json:"alive"`
	Heartbeat  time.Time `json:"heartbeat_at"`
	Partitions []int     `json:"partitions"`
}

// Output formats of `eventstore stats --format`.
const (
	statsFormatText       = "text"
	statsFormatJSON       = "json"
	statsFormatPrometheus = "prometheus"
)

func statsCommand() *command {
	var (
		top    int
		format string
	)
	return &command{
		name:  "stats",
		usage: "[--top N] [--format text|json|prometheus]",
		short: "counts per guild, event type and game mode; table sizes; feed and subscription lag",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			addReplicaFlag(fs, c)
			fs.IntVar(&top, "top", 10, "show the N guilds with the most events (0: all)")
			fs.StringVar(&format, "format", "", "output format: text, json (the same as --json) or prometheus (the text exposition format) (default text)")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 0 {
				return usagef("unexpected argument %q", args[0])
			}
			if top < 0 {
				return usagef("--top must be 0 or more, got %d", top)
			}
			switch {
			case format == "" && c.json:
				format = statsFormatJSON
			case format == "":
				format = statsFormatText
			case format != statsFormatText && format != statsFormatJSON && format != statsFormatPrometheus:
				return usagef("unknown --format %q (want text, json or prometheus)", format)
			case c.json && format != statsFormatJSON:
				return usagef("--json and --format %s contradict each other", format)
			}
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			st, err := collectStats(ctx, pool, top)
			if err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			if st.Replication, err = collectReplication(ctx, c); err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			switch format {
			case statsFormatJSON:
				return printJSON(c.env.Stdout, st)
			case statsFormatPrometheus:
				return printStatsPrometheus(c.env.Stdout, st)
			}
			return printStats(c.env.Stdout, st, top)
		},
	}
}

// collectStats reads the inspection views in one repeatable-read, read-only
// transaction, so every part describes the same moment.
func collectStats(ctx context.Context, pool *pgxpool.Pool, top int) (statsJSON, error) {
	var st statsJSON
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
SELECT count(*), coalesce(sum(streams), 0)::bigint, coalesce(sum(active_streams), 0)::bigint,
       coalesce(sum(archived_streams), 0)::bigint, coalesce(sum(deleted_streams), 0)::bigint,
       coalesce(sum(events), 0)::bigint
  FROM eventstore.guild_stats`).Scan(&st.Totals.Guilds, &st.Totals.Streams, &st.Totals.ActiveStreams,
			&st.Totals.ArchivedStreams, &st.Totals.DeletedStreams, &st.Totals.Events)
		if err != nil {
			return err
		}
		limit := any(nil)
		if top > 0 {
			limit = top
		}
		if st.Guilds, err = collect(ctx, tx, `
SELECT guild_id, streams, active_streams, archived_streams, deleted_streams, events, last_activity_at
  FROM eventstore.guild_stats LIMIT $1`, func(r pgx.CollectableRow) (g guildStat, err error) {
			err = r.Scan(&g.GuildID, &g.Streams, &g.ActiveStreams, &g.ArchivedStreams, &g.DeletedStreams, &g.Events, &g.LastActivityAt)
			g.LastActivityAt = utcTimePtr(g.LastActivityAt)
			return g, err
		}, limit); err != nil {
			return err
		}
		if st.Types, err = collect(ctx, tx, `
SELECT type, type_version, events, avg_data_bytes, first_at, last_at FROM eventstore.type_stats`,
			func(r pgx.CollectableRow) (t typeStat, err error) {
				err = r.Scan(&t.Type, &t.TypeVersion, &t.Events, &t.AvgDataBytes, &t.FirstAt, &t.LastAt)
				t.FirstAt, t.LastAt = t.FirstAt.UTC(), t.LastAt.UTC()
				return t, err
			}); err != nil {
			return err
		}
		if st.Modes, err = collect(ctx, tx, `
SELECT mode, games_started, games_completed, events FROM eventstore.mode_stats`,
			func(r pgx.CollectableRow) (m modeStat, err error) {
				err = r.Scan(&m.Mode, &m.GamesStarted, &m.GamesCompleted, &m.Events)
				return m, err
			}); err != nil {
			return err
		}
		if st.Tables, err = collect(ctx, tx, `
SELECT table_name, estimated_rows, total_bytes, table_bytes, index_bytes FROM eventstore.table_sizes`,
			func(r pgx.CollectableRow) (t tableSize, err error) {
				err = r.Scan(&t.Table, &t.EstimatedRows, &t.TotalBytes, &t.TableBytes, &t.IndexBytes)
				return t, err
			}); err != nil {
			return err
		}
		f := &st.Feed
		var x xactStat
		err = tx.QueryRow(ctx, `
SELECT horizon::text::bigint, newest_position, newest_at, feed_position, feed_checkpoint, held_events,
       extract(epoch FROM held_for)::float8, oldest_xact_pid, oldest_xact_database, oldest_xact_state,
       extract(epoch FROM oldest_xact_age)::float8, coalesce(oldest_xact_prepared, false)
  FROM eventstore.feed_lag`).Scan(&f.Horizon, &f.NewestPosition, &f.NewestAt, &f.FeedPosition, &f.FeedCheckpoint,
			&f.HeldEvents, &f.HeldSeconds, &x.PID, &x.Database, &x.State, &x.AgeSeconds, &x.Prepared)
		if err != nil {
			return err
		}
		f.NewestAt = utcTimePtr(f.NewestAt)
		if x.PID != nil || x.Database != nil {
			f.OldestXact = &x
		}
		st.Subscriptions, err = collect(ctx, tx, `
SELECT name, partition_member, partition_count, source, checkpoint, handled_count, events_behind,
       extract(epoch FROM lag)::float8, consumer_active, checkpoint_saved_at
  FROM eventstore.subscription_lag`, func(r pgx.CollectableRow) (s subscriptionStat, err error) {
			err = r.Scan(&s.Name, &s.PartitionMember, &s.PartitionCount, &s.Source, &s.Checkpoint, &s.HandledCount,
				&s.EventsBehind, &s.LagSeconds, &s.ConsumerActive, &s.SavedAt)
			s.SavedAt = s.SavedAt.UTC()
			return s, err
		})
		if err != nil {
			return err
		}
		st.ConsumerGroups, err = collect(ctx, tx, `
SELECT name, coalesce(guild_id, ''), partitions, live_members, held_partitions, unheld_partitions, handled
  FROM eventstore.consumer_groups ORDER BY name`, func(r pgx.CollectableRow) (g consumerGroupStat, err error) {
			err = r.Scan(&g.Name, &g.GuildID, &g.Partitions, &g.LiveMembers, &g.HeldPartitions, &g.UnheldPartitions, &g.Handled)
			return g, err
		})
		if err != nil {
			return err
		}
		members, err := collect(ctx, tx, `
SELECT name, member_id, alive, heartbeat_at, partitions FROM eventstore.consumer_group_members ORDER BY name, member_id`,
			func(r pgx.CollectableRow) (m struct {
				group string
				groupMemberStat
			}, err error) {
				err = r.Scan(&m.group, &m.ID, &m.Alive, &m.Heartbeat, &m.Partitions)
				m.Heartbeat = m.Heartbeat.UTC()
				return m, err
			})
		for _, m := range members {
			for i := range st.ConsumerGroups {
				if st.ConsumerGroups[i].Name == m.group {
					st.ConsumerGroups[i].Members = append(st.ConsumerGroups[i].Members, m.groupMemberStat)
				}
			}
		}
		return err
	})
	return st, err
}

// collect runs a query and scans every row with fn.
func collect[T any](ctx context.Context, tx pgx.Tx, sql string, fn pgx.RowToFunc[T], args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fn)
}

func printStats(out io.Writer, st statsJSON, top int) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	t := st.Totals
	fmt.Fprintf(w, "guilds %d, streams %d (active %d, archived %d, deleted %d), events %d\n\n",
		t.Guilds, t.Streams, t.ActiveStreams, t.ArchivedStreams, t.DeletedStreams, t.Events)

	title := "GUILD"
	if top > 0 && t.Guilds > int64(top) {
		title = fmt.Sprintf("GUILD (top %d of %d)", top, t.Guilds)
	}
	fmt.Fprintf(w, "%s\tSTREAMS\tACTIVE\tARCHIVED\tDELETED\tEVENTS\tLAST ACTIVITY\n", title)
	for _, g := range st.Guilds {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", g.GuildID, g.Streams, g.ActiveStreams, g.ArchivedStreams,
			g.DeletedStreams, g.Events, formatTimePtr(g.LastActivityAt))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "TYPE\tVERSION\tEVENTS\tAVG DATA\tLAST")
	for _, ty := range st.Types {
		fmt.Fprintf(w, "%s\tv%d\t%d\t%s\t%s\n", ty.Type, ty.TypeVersion, ty.Events, formatBytes(ty.AvgDataBytes), formatTime(ty.LastAt))
	}
	fmt.Fprintln(w)

	if len(st.Modes) > 0 {
		fmt.Fprintln(w, "MODE\tGAMES STARTED\tCOMPLETED\tEVENTS")
		for _, m := range st.Modes {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", m.Mode, m.GamesStarted, m.GamesCompleted, m.Events)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "TABLE\tROWS (EST.)\tTOTAL\tDATA\tINDEXES")
	for _, tb := range st.Tables {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", tb.Table, optInt(tb.EstimatedRows), formatBytes(tb.TotalBytes),
			formatBytes(tb.TableBytes), formatBytes(tb.IndexBytes))
	}
	fmt.Fprintln(w)

	f := st.Feed
	fmt.Fprintf(w, "feed\thorizon %d, newest position %s, feed position %s (checkpoint %s)\n",
		f.Horizon, optInt(f.NewestPosition), optInt(f.FeedPosition), optString(f.FeedCheckpoint))
	fmt.Fprintf(w, "feed lag\t%d committed event(s) held back, for %.1fs\n", f.HeldEvents, f.HeldSeconds)
	switch x := f.OldestXact; {
	case x == nil:
		fmt.Fprintf(w, "oldest transaction\tnone holding an xid\n")
	case x.Prepared:
		fmt.Fprintf(w, "oldest transaction\tprepared, in database %s, for %s\n", optString(x.Database), optSeconds(x.AgeSeconds))
	default:
		fmt.Fprintf(w, "oldest transaction\tpid %s in database %s, %s, open %s\n",
			optInt32(x.PID), optString(x.Database), optString(x.State), optSeconds(x.AgeSeconds))
	}
	if len(st.Subscriptions) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "SUBSCRIPTION\tSOURCE\tCHECKPOINT\tHANDLED\tBEHIND\tLAG\tCONSUMER")
		for _, sub := range st.Subscriptions {
			name := sub.Name
			if sub.PartitionCount > 1 {
				name = fmt.Sprintf("%s[%d/%d]", sub.Name, sub.PartitionMember, sub.PartitionCount)
			}
			behind := "-"
			if sub.EventsBehind != nil {
				behind = fmt.Sprint(*sub.EventsBehind)
				if *sub.EventsBehind > 10000 {
					behind = ">10000"
				}
			}
			consumer := "none"
			if sub.ConsumerActive {
				consumer = "active"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%.1fs\t%s\n", name, sub.Source, sub.Checkpoint, sub.HandledCount, behind, sub.LagSeconds, consumer)
		}
	}
	if len(st.ConsumerGroups) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "CONSUMER GROUP\tGUILD\tPARTITIONS\tLIVE MEMBERS\tHELD\tUNHELD\tHANDLED")
		for _, g := range st.ConsumerGroups {
			guild := g.GuildID
			if guild == "" {
				guild = "(store-wide)"
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", g.Name, guild, g.Partitions, g.LiveMembers,
				g.HeldPartitions, g.UnheldPartitions, g.Handled)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		for _, g := range st.ConsumerGroups {
			for _, m := range g.Members {
				parts := make([]string, len(m.Partitions))
				for i, p := range m.Partitions {
					parts[i] = strconv.Itoa(p)
				}
				state := ""
				if !m.Alive {
					state = " (lease run out)"
				}
				fmt.Fprintf(w, "  member %s: partitions %s, heartbeat %s%s\n", m.ID, strings.Join(parts, ","), formatTime(m.Heartbeat), state)
			}
		}
	}
	printReplication(w, st.Replication)
	return w.Flush()
}

func optInt32(p *int32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func optSeconds(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *p)
}

func optInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func optString(p *string) string {
	if p == nil || *p == "" {
		return "-"
	}
	return *p
}

// formatBytes formats a size with a binary unit (B, KiB, MiB, GiB).
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}
