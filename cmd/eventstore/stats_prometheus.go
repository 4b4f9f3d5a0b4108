package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Label names of the subscription metrics, the same as the live metrics'
// (otelstore's eventstore.subscription and eventstore.subscription.member
// attributes as the Prometheus exporter writes them), so one query fits both.
const (
	labelSubscription = "eventstore_subscription"
	labelMember       = "eventstore_subscription_member"
	labelGroup        = "eventstore_consumer_group"
)

// printStatsPrometheus writes st in the Prometheus text exposition format,
// for node_exporter's textfile collector or a pushgateway. The feed and
// subscription lag metrics have the names and labels of the live metrics
// a long-running command serves with --metrics-addr.
func printStatsPrometheus(w io.Writer, st statsJSON) error {
	reg := prometheus.NewPedanticRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}

	t := st.Totals
	gauge("eventstore_guilds", "Guilds with at least one stream.").WithLabelValues().Set(float64(t.Guilds))
	streams := gauge("eventstore_streams", "Streams by status (active, archived, deleted).", "status")
	streams.WithLabelValues("active").Set(float64(t.ActiveStreams))
	streams.WithLabelValues("archived").Set(float64(t.ArchivedStreams))
	streams.WithLabelValues("deleted").Set(float64(t.DeletedStreams))
	gauge("eventstore_stored_events", "Events stored in the events table (archived events excluded).").WithLabelValues().Set(float64(t.Events))

	guildStreams := gauge("eventstore_guild_streams", "Streams of a guild by status (the guilds stats --top selects).", "guild_id", "status")
	guildEvents := gauge("eventstore_guild_events", "Events of a guild (the guilds stats --top selects).", "guild_id")
	guildActivity := gauge("eventstore_guild_last_activity_timestamp_seconds", "Unix time of a guild's last stream activity.", "guild_id")
	for _, g := range st.Guilds {
		guildStreams.WithLabelValues(g.GuildID, "active").Set(float64(g.ActiveStreams))
		guildStreams.WithLabelValues(g.GuildID, "archived").Set(float64(g.ArchivedStreams))
		guildStreams.WithLabelValues(g.GuildID, "deleted").Set(float64(g.DeletedStreams))
		guildEvents.WithLabelValues(g.GuildID).Set(float64(g.Events))
		if g.LastActivityAt != nil {
			guildActivity.WithLabelValues(g.GuildID).Set(unixSeconds(*g.LastActivityAt))
		}
	}

	typeEvents := gauge("eventstore_type_events", "Stored events by event type and version.", "type", "type_version")
	typeSize := gauge("eventstore_type_avg_data_bytes", "Average size of an event's data by event type and version.", "type", "type_version")
	for _, ty := range st.Types {
		v := strconv.Itoa(int(ty.TypeVersion))
		typeEvents.WithLabelValues(ty.Type, v).Set(float64(ty.Events))
		typeSize.WithLabelValues(ty.Type, v).Set(float64(ty.AvgDataBytes))
	}

	started := gauge("eventstore_mode_games_started", "Games started by game mode.", "mode")
	completed := gauge("eventstore_mode_games_completed", "Games completed by game mode.", "mode")
	modeEvents := gauge("eventstore_mode_events", "Events of games by game mode.", "mode")
	for _, m := range st.Modes {
		started.WithLabelValues(m.Mode).Set(float64(m.GamesStarted))
		completed.WithLabelValues(m.Mode).Set(float64(m.GamesCompleted))
		modeEvents.WithLabelValues(m.Mode).Set(float64(m.Events))
	}

	total := gauge("eventstore_table_total_bytes", "Size of a table with its indexes and TOAST data.", "table")
	data := gauge("eventstore_table_data_bytes", "Size of a table's data.", "table")
	indexes := gauge("eventstore_table_index_bytes", "Size of a table's indexes.", "table")
	rows := gauge("eventstore_table_estimated_rows", "Estimated rows of a table (absent until it was vacuumed or analyzed).", "table")
	for _, tb := range st.Tables {
		total.WithLabelValues(tb.Table).Set(float64(tb.TotalBytes))
		data.WithLabelValues(tb.Table).Set(float64(tb.TableBytes))
		indexes.WithLabelValues(tb.Table).Set(float64(tb.IndexBytes))
		if tb.EstimatedRows != nil {
			rows.WithLabelValues(tb.Table).Set(float64(*tb.EstimatedRows))
		}
	}

	f := st.Feed
	gauge("eventstore_feed_horizon", "The feed's safe horizon: events of transactions below this id can be delivered.").WithLabelValues().Set(float64(f.Horizon))
	if f.NewestPosition != nil {
		gauge("eventstore_feed_newest_position", "Global position of the newest committed event.").WithLabelValues().Set(float64(*f.NewestPosition))
	}
	if f.FeedPosition != nil {
		gauge("eventstore_feed_position", "Global position of the last event the feed may deliver now.").WithLabelValues().Set(float64(*f.FeedPosition))
	}
	gauge("eventstore_feed_held_events", "Committed events the global feed's horizon holds back (0 when the feed is current).").WithLabelValues().Set(float64(f.HeldEvents))
	gauge("eventstore_feed_lag_seconds", "How long the oldest held-back event has been stored: the global feed's delay.").WithLabelValues().Set(f.HeldSeconds)
	age := 0.0
	if f.OldestXact != nil && f.OldestXact.AgeSeconds != nil {
		age = *f.OldestXact.AgeSeconds
	}
	gauge("eventstore_feed_oldest_transaction_age_seconds", "How long the oldest transaction of the cluster, which sets the feed's horizon, has been open (0 when none or not visible).").WithLabelValues().Set(age)

	info := gauge("eventstore_subscription_info", "A persistent subscription member and its source ($all or a stream); always 1.", labelSubscription, labelMember, "source")
	behind := gauge("eventstore_subscription_events_behind", "Events after a persistent subscription's checkpoint, before its filter (an upper bound; feed counts stop at 10001).", labelSubscription, labelMember)
	lag := gauge("eventstore_subscription_lag_seconds", "How long the next event a persistent subscription has to handle has waited.", labelSubscription, labelMember)
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eventstore_subscription_handled_events_total",
		Help: "Events a persistent subscription member has handled (or dead-lettered) since it was created."}, []string{labelSubscription, labelMember})
	reg.MustRegister(handled)
	active := gauge("eventstore_subscription_consumer_active", "1 when a consumer holds the subscription member's lease now, else 0.", labelSubscription, labelMember)
	saved := gauge("eventstore_subscription_checkpoint_saved_timestamp_seconds", "Unix time the member's checkpoint was last saved.", labelSubscription, labelMember)
	for _, sub := range st.Subscriptions {
		member := strconv.Itoa(int(sub.PartitionMember))
		info.WithLabelValues(sub.Name, member, sub.Source).Set(1)
		if sub.EventsBehind != nil {
			behind.WithLabelValues(sub.Name, member).Set(float64(*sub.EventsBehind))
		}
		lag.WithLabelValues(sub.Name, member).Set(sub.LagSeconds)
		handled.WithLabelValues(sub.Name, member).Add(float64(sub.HandledCount))
		a := 0.0
		if sub.ConsumerActive {
			a = 1
		}
		active.WithLabelValues(sub.Name, member).Set(a)
		saved.WithLabelValues(sub.Name, member).Set(unixSeconds(sub.SavedAt))
	}

	groupParts := gauge("eventstore_consumer_group_partitions", "A consumer group's number of partitions.", labelGroup)
	groupLive := gauge("eventstore_consumer_group_live_members", "Members of a consumer group whose lease has not run out.", labelGroup)
	groupHeld := gauge("eventstore_consumer_group_held_partitions", "Partitions of a consumer group a live member holds now.", labelGroup)
	groupUnheld := gauge("eventstore_consumer_group_unheld_partitions", "Partitions of a consumer group no member holds now (free, or their holder died).", labelGroup)
	for _, g := range st.ConsumerGroups {
		groupParts.WithLabelValues(g.Name).Set(float64(g.Partitions))
		groupLive.WithLabelValues(g.Name).Set(float64(g.LiveMembers))
		groupHeld.WithLabelValues(g.Name).Set(float64(g.HeldPartitions))
		groupUnheld.WithLabelValues(g.Name).Set(float64(g.UnheldPartitions))
	}

	families, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("prometheus format: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if len(mf.GetMetric()) == 0 {
			continue // a labelled family without rows (no subscriptions, …)
		}
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// unixSeconds is t as fractional seconds since the Unix epoch.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
