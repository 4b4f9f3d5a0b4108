-- Inspection: views an operator can use straight from psql. Nothing here
-- writes.
--
--   SELECT * FROM eventstore.recent_events LIMIT 20;          -- newest first
--   SELECT * FROM eventstore.stream_summary WHERE stream_id = 'game-42';
--   SELECT * FROM eventstore.guild_stats;
--   SELECT * FROM eventstore.type_stats;                      -- scans events
--   SELECT * FROM eventstore.mode_stats;                      -- scans events
--   SELECT * FROM eventstore.table_sizes;
--   SELECT * FROM eventstore.feed_lag;
--   SELECT * FROM eventstore.subscription_lag;
--   SELECT * FROM eventstore.replication_lag;                  -- on the primary
--
-- The read functions (read_stream, read_stream_backward, read_feed) are in
-- 00003_reads_and_feed.sql.
--
-- Every view is security_invoker, so row-level security on the underlying
-- tables applies to whoever queries the view: the application role
-- eventstore_app sees only its guild's rows, the owner sees everything.

-- +goose Up

-- recent_events: every event, newest first, with short readable columns. The
-- view is ordered by global_position DESC and has no limit of its own: add
-- LIMIT (and WHERE on stream_id, guild_id or type as needed). With a LIMIT,
-- PostgreSQL walks the primary key backwards and stops early; without one it
-- returns the whole log. Archived events (eventstore.events_archive) are not
-- in it; read_stream reads them.
CREATE VIEW eventstore.recent_events WITH (security_invoker = true) AS
SELECT e.global_position,
       e.stream_id,
       e.stream_version  AS version,
       e.event_type      AS type,
       e.event_version   AS type_version,
       e.guild_id,
       e.created_at,
       e.data,
       e.metadata,
       e.event_id,
       e.transaction_id
  FROM eventstore.events e
 ORDER BY e.global_position DESC;

COMMENT ON VIEW eventstore.recent_events IS
    'Events newest first. Always add LIMIT (the view has none): SELECT * FROM eventstore.recent_events LIMIT 20';

-- stream_summary: one row per stream with its status and its first and
-- last events, hot or archived (each looked up through a unique
-- (stream_id, stream_version) index, so filtering on stream_id or guild_id
-- stays cheap).
CREATE VIEW eventstore.stream_summary WITH (security_invoker = true) AS
SELECT s.stream_id,
       s.guild_id,
       s.version,
       CASE
           WHEN s.deleted_at IS NOT NULL THEN 'deleted'
           WHEN s.archived_at IS NOT NULL THEN 'archived'
           ELSE 'active'
       END AS status,
       first_event.created_at AS first_event_at,
       last_event.created_at  AS last_event_at,
       last_event.event_type  AS last_event_type,
       s.max_events,
       s.created_at,
       s.updated_at,
       s.deleted_at,
       s.archived_at
  FROM eventstore.streams s
  LEFT JOIN LATERAL (
        SELECT u.created_at
          FROM ((SELECT a.stream_version, a.created_at FROM eventstore.events_archive a
                  WHERE a.stream_id = s.stream_id ORDER BY a.stream_version LIMIT 1)
                UNION ALL
                (SELECT e.stream_version, e.created_at FROM eventstore.events e
                  WHERE e.stream_id = s.stream_id ORDER BY e.stream_version LIMIT 1)) AS u
         ORDER BY u.stream_version
         LIMIT 1) AS first_event ON true
  LEFT JOIN LATERAL (
        SELECT u.created_at, u.event_type
          FROM ((SELECT e.stream_version, e.created_at, e.event_type FROM eventstore.events e
                  WHERE e.stream_id = s.stream_id ORDER BY e.stream_version DESC LIMIT 1)
                UNION ALL
                (SELECT a.stream_version, a.created_at, a.event_type FROM eventstore.events_archive a
                  WHERE a.stream_id = s.stream_id ORDER BY a.stream_version DESC LIMIT 1)) AS u
         ORDER BY u.stream_version DESC
         LIMIT 1) AS last_event ON true;

COMMENT ON VIEW eventstore.stream_summary IS
    'One row per stream: guild, version (= event count), status (active, archived, deleted), first/last event (hot or archived)';

-- guild_stats: per guild, from the streams table only (a stream's version is
-- its number of events), so it never reads the event log.
CREATE VIEW eventstore.guild_stats WITH (security_invoker = true) AS
SELECT s.guild_id,
       count(*)                                                                  AS streams,
       count(*) FILTER (WHERE s.deleted_at IS NULL AND s.archived_at IS NULL)    AS active_streams,
       count(*) FILTER (WHERE s.archived_at IS NOT NULL AND s.deleted_at IS NULL) AS archived_streams,
       count(*) FILTER (WHERE s.deleted_at IS NOT NULL)                          AS deleted_streams,
       coalesce(sum(s.version), 0)::bigint                                       AS events,
       max(s.updated_at)                                                         AS last_activity_at
  FROM eventstore.streams s
 GROUP BY s.guild_id
 ORDER BY events DESC, s.guild_id;

COMMENT ON VIEW eventstore.guild_stats IS
    'Per guild: streams by status and events appended (sum of stream versions); reads eventstore.streams only';

-- type_stats: per event type and schema version, over the hot event log
-- (archived events are not counted). Exact counts need a pass over the log (a sequential scan: about 0.4 s per million events on a
-- small machine); use it for reports, not in a hot path.
CREATE VIEW eventstore.type_stats WITH (security_invoker = true) AS
SELECT e.event_type                          AS type,
       e.event_version                       AS type_version,
       count(*)                              AS events,
       round(avg(pg_column_size(e.data)))::bigint AS avg_data_bytes,
       min(e.created_at)                     AS first_at,
       max(e.created_at)                     AS last_at
  FROM eventstore.events e
 GROUP BY e.event_type, e.event_version
 ORDER BY events DESC, type, type_version;

COMMENT ON VIEW eventstore.type_stats IS
    'Per event type and schema version: events, average stored size, first/last time (scans the event log)';

-- mode_stats: per GameBot game mode (the "mode" field every GameBot event
-- carries): games started and completed, events. Scans the event log.
CREATE VIEW eventstore.mode_stats WITH (security_invoker = true) AS
SELECT e.data ->> 'mode'                                              AS mode,
       count(*) FILTER (WHERE e.event_type = 'game_started')          AS games_started,
       count(*) FILTER (WHERE e.event_type = 'game_completed')        AS games_completed,
       count(*)                                                       AS events
  FROM eventstore.events e
 WHERE e.data ? 'mode'
 GROUP BY e.data ->> 'mode'
 ORDER BY events DESC, mode;

COMMENT ON VIEW eventstore.mode_stats IS
    'Per GameBot mode (data->>''mode''): games started/completed, events (scans the event log)';

-- table_sizes: on-disk size of the event store's tables (with their indexes
-- and TOAST) and the planner's row estimate (NULL until the table has been
-- vacuumed or analyzed once). Reads the catalog only.
CREATE VIEW eventstore.table_sizes WITH (security_invoker = true) AS
SELECT c.relname                                        AS table_name,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS estimated_rows,
       pg_total_relation_size(c.oid)                    AS total_bytes,
       pg_relation_size(c.oid)                          AS table_bytes,
       pg_indexes_size(c.oid)                           AS index_bytes,
       pg_size_pretty(pg_total_relation_size(c.oid))    AS total_size
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'eventstore' AND c.relkind IN ('r', 'p')
 ORDER BY total_bytes DESC, table_name;

COMMENT ON VIEW eventstore.table_sizes IS
    'Size on disk of each eventstore table (indexes and TOAST included) and its estimated row count';

-- feed_lag: how far the global feed's safe horizon is behind the newest
-- event. The feed only returns events of transactions older than every
-- running transaction, so one long-open transaction holds it back; this view
-- shows the newest event, the newest event the feed may deliver now, how many
-- committed events wait behind the horizon and for how long, and the oldest
-- transaction of the cluster that holds an xid, prepared transactions
-- included (the same figures as Store.FeedLag). The horizon is cluster-wide:
-- the culprit may run in another database. Every lookup walks an index (the
-- horizon is compared as an expression, not a subquery, so the planner sees
-- its value). Seeing the state and age of other roles' sessions needs
-- pg_read_all_stats.
CREATE VIEW eventstore.feed_lag WITH (security_invoker = true) AS
WITH newest AS (
    SELECT e.global_position, e.created_at
      FROM eventstore.events e
     ORDER BY e.global_position DESC
     LIMIT 1
), deliverable AS (
    SELECT e.global_position, e.transaction_id, e.created_at
      FROM eventstore.events e
     WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.transaction_id DESC, e.global_position DESC
     LIMIT 1
), held AS (
    SELECT count(*) AS events, min(e.created_at) AS oldest_at
      FROM eventstore.events e
     WHERE e.transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
), oldest AS (
    SELECT b.pid, b.datname, b.state, b.started, b.prepared
      FROM (SELECT a.pid, a.datname::text AS datname, a.state, a.xact_start AS started,
                   pg_catalog.age(a.backend_xid) AS xid_age, false AS prepared
              FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_xid IS NOT NULL
            UNION ALL
            SELECT NULL, p.database::text, 'prepared', p.prepared, pg_catalog.age(p.transaction), true
              FROM pg_catalog.pg_prepared_xacts p) AS b
     ORDER BY b.xid_age DESC
     LIMIT 1
)
SELECT pg_snapshot_xmin(pg_current_snapshot())                     AS horizon,
       newest.global_position                                       AS newest_position,
       newest.created_at                                            AS newest_at,
       deliverable.global_position                                  AS feed_position,
       deliverable.transaction_id::text || '/' || deliverable.global_position::text AS feed_checkpoint,
       deliverable.created_at                                       AS feed_at,
       held.events                                                  AS held_events,
       CASE WHEN held.events > 0 THEN greatest(clock_timestamp() - held.oldest_at, interval '0')
            ELSE interval '0' END                                   AS held_for,
       oldest.pid                                                   AS oldest_xact_pid,
       oldest.datname                                               AS oldest_xact_database,
       oldest.state                                                 AS oldest_xact_state,
       clock_timestamp() - oldest.started                           AS oldest_xact_age,
       oldest.prepared                                              AS oldest_xact_prepared
  FROM held
  LEFT JOIN newest ON true
  LEFT JOIN deliverable ON true
  LEFT JOIN oldest ON true;

COMMENT ON VIEW eventstore.feed_lag IS
    'Global feed lag: newest event vs the newest one the feed may deliver, committed events held back and for how long, the oldest transaction of the cluster';

-- subscription_backlog counts the events a subscription still has to pass
-- after its checkpoint: for the global feed (p_stream_id NULL) those after
-- (p_tx, p_pos) below the safe horizon, counted up to 10001; for a stream
-- its version minus p_version. A function, so that the view's plan stays
-- small (an inlined count estimated over the whole log would make
-- PostgreSQL JIT-compile a millisecond query).
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_backlog(p_stream_id text, p_tx xid8, p_pos bigint, p_version bigint)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    IF p_stream_id IS NULL THEN
        RETURN (SELECT count(*) FROM (
                    SELECT 1 FROM eventstore.events e
                     WHERE (e.transaction_id, e.global_position) > (p_tx, p_pos)
                       AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                     ORDER BY e.transaction_id, e.global_position
                     LIMIT 10001) AS n);
    END IF;
    RETURN (SELECT greatest(st.version - p_version, 0) FROM eventstore.streams st WHERE st.stream_id = p_stream_id);
END;
$$;
-- +goose StatementEnd

-- subscription_lag: every persistent subscription (one row per partition
-- member) with its checkpoint, whether a consumer holds it now (its lease
-- has not expired), how many events it still has to pass and how long the next
-- one has waited. events_behind counts the feed (or stream) after the
-- checkpoint before the subscription's filter and partitioning, so it is an
-- upper bound; feed counts stop at 10001 ("more than 10000") so that a
-- subscription far behind stays cheap to inspect.
CREATE VIEW eventstore.subscription_lag WITH (security_invoker = true) AS
SELECT sub.name,
       sub.partition_member,
       sub.partition_count,
       coalesce(sub.stream_id, '$all')                               AS source,
       CASE WHEN sub.stream_id IS NULL
            THEN sub.checkpoint_transaction_id::text || '/' || sub.checkpoint_position::text
            ELSE sub.checkpoint_version::text END                    AS checkpoint,
       sub.handled_count,
       eventstore.subscription_backlog(sub.stream_id, sub.checkpoint_transaction_id,
                                       sub.checkpoint_position, sub.checkpoint_version) AS events_behind,
       coalesce(greatest(clock_timestamp() - next_event.created_at, interval '0'), interval '0') AS lag,
       coalesce(sub.lease_expires_at > clock_timestamp(), false)     AS consumer_active,
       sub.holder,
       sub.lease_expires_at,
       sub.updated_at                                                AS checkpoint_saved_at,
       sub.guild_id,
       sub.filter
  FROM eventstore.subscriptions sub
  -- The next event the subscription has to pass: in the feed, or in its
  -- stream (hot or archived).
  LEFT JOIN LATERAL (
        SELECT u.created_at
          FROM ((SELECT e.created_at, e.transaction_id, e.global_position, 0::bigint AS stream_version
                   FROM eventstore.events e
                  WHERE sub.stream_id IS NULL
                    AND (e.transaction_id, e.global_position) > (sub.checkpoint_transaction_id, sub.checkpoint_position)
                    AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY e.transaction_id, e.global_position
                  LIMIT 1)
                UNION ALL
                (SELECT e.created_at, e.transaction_id, e.global_position, e.stream_version
                   FROM eventstore.events e
                  WHERE e.stream_id = sub.stream_id AND e.stream_version > sub.checkpoint_version
                  ORDER BY e.stream_version
                  LIMIT 1)
                UNION ALL
                (SELECT a.created_at, a.transaction_id, a.global_position, a.stream_version
                   FROM eventstore.events_archive a
                  WHERE a.stream_id = sub.stream_id AND a.stream_version > sub.checkpoint_version
                  ORDER BY a.stream_version
                  LIMIT 1)) AS u
         ORDER BY u.stream_version, u.transaction_id, u.global_position
         LIMIT 1) AS next_event ON true
 ORDER BY sub.name, sub.partition_member;

COMMENT ON VIEW eventstore.subscription_lag IS
    'Persistent subscriptions: checkpoint, events still to pass (upper bound before filters; feed counts stop at 10001) and how long the next has waited, whether a consumer holds it now';

-- replication_lag: on the primary, every streaming standby with how far its
-- replay is behind, in bytes of WAL and in time, and the replication slot
-- that keeps WAL for it. Seeing other roles' standbys needs pg_monitor (or
-- pg_read_all_stats); Store.Standbys reads the same figures.
CREATE VIEW eventstore.replication_lag WITH (security_invoker = true) AS
SELECT r.application_name AS standby,
       r.client_addr,
       r.state,
       r.sync_state,
       r.sent_lsn,
       r.replay_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint AS replay_lag_bytes,
       r.write_lag,
       r.flush_lag,
       r.replay_lag,
       s.slot_name,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint AS slot_retained_bytes
  FROM pg_catalog.pg_stat_replication r
  LEFT JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid;

COMMENT ON VIEW eventstore.replication_lag IS
    'Streaming standbys of this primary: replay lag in WAL bytes and time, and the slot keeping WAL for each';

REVOKE ALL ON FUNCTION
    eventstore.subscription_backlog(text, xid8, bigint, bigint)
    FROM PUBLIC;
-- The application role may use every view; row-level security still
-- limits it to its guild's rows.
GRANT SELECT ON eventstore.recent_events, eventstore.stream_summary, eventstore.guild_stats,
                eventstore.type_stats, eventstore.mode_stats, eventstore.table_sizes,
                eventstore.feed_lag, eventstore.subscription_lag, eventstore.replication_lag
   TO eventstore_app;
GRANT EXECUTE ON FUNCTION eventstore.subscription_backlog(text, xid8, bigint, bigint) TO eventstore_app;

-- +goose Down
DROP VIEW eventstore.replication_lag;
DROP VIEW eventstore.subscription_lag;
DROP FUNCTION eventstore.subscription_backlog(text, xid8, bigint, bigint);
DROP VIEW eventstore.feed_lag;
DROP VIEW eventstore.table_sizes;
DROP VIEW eventstore.mode_stats;
DROP VIEW eventstore.type_stats;
DROP VIEW eventstore.guild_stats;
DROP VIEW eventstore.stream_summary;
DROP VIEW eventstore.recent_events;
