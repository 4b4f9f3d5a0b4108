-- name: EventsAppend :one
-- Appends a batch through eventstore.append_events in one statement, which
-- first scopes the transaction to the guild (the set_config every
-- guild-scoped statement of the store sends; here it is the argument the
-- append receives, so it runs first) and, when lock_wait is not empty, sets
-- the statement's lock_timeout to it (a coalesced flush's bound on waiting
-- for a stream row locked elsewhere). Volatile functions keep the subquery
-- from being flattened, so both settings are made before the append runs.
SELECT coalesce(r.new_version, 0)::bigint AS new_version,
       coalesce(r.first_position, 0)::bigint AS first_position,
       coalesce(r.last_position, 0)::bigint AS last_position
  FROM (SELECT set_config('eventstore.guild_id', @guild_id::text, true) AS guild_id,
               CASE WHEN @lock_wait::text <> '' THEN set_config('lock_timeout', @lock_wait::text, true) END AS lock_wait) AS g
 CROSS JOIN LATERAL eventstore.append_events(
        @stream_id::text, g.guild_id, @expected_version::bigint,
        @event_ids::uuid[], @event_types::text[], @event_versions::int[],
        @data::jsonb[], @metadata::jsonb[], @causation_ids::uuid[], @correlation_ids::uuid[],
        sqlc.narg('max_stream_events')::bigint, @probe_ids::boolean) AS r;

-- name: EventsAppendOne :one
-- One event through eventstore.append_event, the store's single append
-- outside a caller's transaction: scalar arguments, no stored-id probe (a
-- stored id fails the statement with unique_violation; the store then sends
-- the event again through EventsAppend with the probe). Guild and lock_wait
-- as in EventsAppend.
SELECT coalesce(r.new_version, 0)::bigint AS new_version,
       coalesce(r.global_position, 0)::bigint AS global_position
  FROM (SELECT set_config('eventstore.guild_id', @guild_id::text, true) AS guild_id,
               CASE WHEN @lock_wait::text <> '' THEN set_config('lock_timeout', @lock_wait::text, true) END AS lock_wait) AS g
 CROSS JOIN LATERAL eventstore.append_event(
        @stream_id::text, g.guild_id, @expected_version::bigint,
        @event_id::uuid, @event_type::text, @event_version::int,
        @data::jsonb, sqlc.narg('metadata')::jsonb, sqlc.narg('causation_id')::uuid, sqlc.narg('correlation_id')::uuid,
        sqlc.narg('max_stream_events')::bigint) AS r;

-- name: EventsAppendBatch :many
-- Coalesced appends of one guild (eventstore.append_batch): one row per
-- call, in call order, with its result or its error. lock_wait as in
-- EventsAppend.
SELECT r.call_index::int            AS call_index,
       coalesce(r.new_version, 0)::bigint AS new_version,
       coalesce(r.first_position, 0)::bigint AS first_position,
       coalesce(r.last_position, 0)::bigint AS last_position,
       coalesce(r.error_code, '')::text AS error_code,
       coalesce(r.error_message, '')::text AS error_message,
       coalesce(r.error_detail, '')::text AS error_detail,
       coalesce(r.error_constraint, '')::text AS error_constraint,
       coalesce(r.error_table, '')::text AS error_table
  FROM (SELECT set_config('eventstore.guild_id', @guild_id::text, true) AS guild_id,
               CASE WHEN @lock_wait::text <> '' THEN set_config('lock_timeout', @lock_wait::text, true) END AS lock_wait) AS g
 CROSS JOIN LATERAL eventstore.append_batch(
        g.guild_id, @stream_ids::text[], @expected_versions::bigint[], @counts::int[],
        @event_ids::uuid[], @event_types::text[], @event_versions::int[],
        @data::jsonb[], @metadata::jsonb[], @causation_ids::uuid[], @correlation_ids::uuid[],
        sqlc.narg('max_stream_events')::bigint) AS r;

-- name: EventsReadForward :many
-- Events of a live (not deleted) stream (of guild_id, unless it is empty) with stream_version >= from, ascending.
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at
  FROM eventstore.events e
 WHERE e.stream_id = @stream_id::text
   AND e.stream_version >= @from_version::bigint
   AND EXISTS (SELECT 1 FROM eventstore.streams s
                WHERE s.stream_id = @stream_id::text AND s.deleted_at IS NULL
                  AND (@guild_id::text = '' OR s.guild_id = @guild_id::text))
 ORDER BY e.stream_version
 LIMIT @max_count::int;

-- name: EventsReadBackward :many
-- Events of a live (not deleted) stream (of guild_id, unless it is empty) with stream_version <= from, descending.
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at
  FROM eventstore.events e
 WHERE e.stream_id = @stream_id::text
   AND e.stream_version <= @from_version::bigint
   AND EXISTS (SELECT 1 FROM eventstore.streams s
                WHERE s.stream_id = @stream_id::text AND s.deleted_at IS NULL
                  AND (@guild_id::text = '' OR s.guild_id = @guild_id::text))
 ORDER BY e.stream_version DESC
 LIMIT @max_count::int;

-- name: EventsReadFeed :many
-- The global feed after a (transaction_id, global_position) checkpoint, in
-- commit-safe order: only transactions older than every transaction still
-- running are returned, so a late commit can never be skipped.
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at
  FROM eventstore.events e
 WHERE (e.transaction_id, e.global_position) > (@after_transaction_id::xid8, @after_position::bigint)
   AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY e.transaction_id, e.global_position
 LIMIT @max_count::int;

-- name: EventsReadFeedGuild :many
-- One guild's part of the global feed after a checkpoint, in the same
-- commit-safe order (through events_guild_feed_idx).
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at
  FROM eventstore.events e
 WHERE e.guild_id = @guild_id::text
   AND (e.transaction_id, e.global_position) > (@after_transaction_id::xid8, @after_position::bigint)
   AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY e.transaction_id, e.global_position
 LIMIT @max_count::int;

-- name: FeedHorizon :one
-- The feed's safe horizon: transactions below it have all finished.
SELECT pg_snapshot_xmin(pg_current_snapshot())::xid8 AS horizon;

-- name: EventsReadFeedFiltered :many
-- The global feed after a checkpoint, filtered in SQL. It scans at most
-- scan_limit rows in feed order (below the safe horizon) and returns the
-- matching ones up to max_count, plus the last scanned row flagged
-- hit = false when it did not match, so the caller's checkpoint moves past
-- a filtered-out stretch without returning it: every call does bounded work
-- and a long run of non-matching events never stalls a reader. scanned is
-- the number of rows scanned (equal to scan_limit when more may follow).
-- Partitions: with partition_count > 1 only streams whose
-- hashtext(stream_id) falls in partition_member are hits.
WITH scan AS (
    SELECT e.transaction_id, e.global_position,
           ((cardinality(@event_types::text[]) = 0 OR e.event_type = ANY(@event_types::text[]))
            AND (@stream_prefix::text = '' OR starts_with(e.stream_id, @stream_prefix::text))
            AND (@guild_id::text = '' OR e.guild_id = @guild_id::text)
            AND (@partition_count::int <= 1
                 OR (hashtext(e.stream_id)::bigint + 2147483648) % @partition_count::int = @partition_member::int)
           ) AS hit
      FROM eventstore.events e
     WHERE (e.transaction_id, e.global_position) > (@after_transaction_id::xid8, @after_position::bigint)
       AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.transaction_id, e.global_position
     LIMIT @scan_limit::int
), ranked AS (
    SELECT s.transaction_id, s.global_position, s.hit,
           count(*) FILTER (WHERE s.hit) OVER w - s.hit::int AS hits_before,
           row_number() OVER w AS rn,
           count(*) OVER () AS scanned
      FROM scan s
    WINDOW w AS (ORDER BY s.transaction_id, s.global_position)
), kept AS (
    SELECT r.transaction_id, r.global_position, r.hit, r.rn, r.scanned
      FROM ranked r
     WHERE r.hits_before < @max_count::int
)
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at,
       k.hit::boolean AS hit, k.scanned::bigint AS scanned
  FROM kept k
  JOIN eventstore.events e ON e.global_position = k.global_position
 WHERE k.hit OR k.rn = (SELECT max(k2.rn) FROM kept k2)
 ORDER BY k.transaction_id, k.global_position;

-- name: FeedEndGet :one
-- The checkpoint of the last event below the safe horizon (0/0 when there is
-- none): a reader starting there sees only what commits from now on.
SELECT coalesce((SELECT e.transaction_id FROM eventstore.events e
                  WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1), '0'::xid8)::xid8 AS transaction_id,
       coalesce((SELECT e.global_position FROM eventstore.events e
                  WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1), 0)::bigint AS global_position;

-- name: FeedLagGet :one
-- How far the feed's safe horizon trails the committed events, and the
-- transaction holding it back (see eventstore.feed_horizon_status).
SELECT f.horizon::xid8 AS horizon,
       f.held_events::bigint AS held_events,
       f.held_seconds::float8 AS held_seconds,
       f.oldest_pid::int AS oldest_pid,
       f.oldest_database::text AS oldest_database,
       f.oldest_state::text AS oldest_state,
       f.oldest_seconds::float8 AS oldest_seconds,
       f.oldest_prepared::boolean AS oldest_prepared
  FROM eventstore.feed_horizon_status() AS f;
