-- name: EventsAppend :one
-- Appends a batch through eventstore.append_events (one round trip).
SELECT r.new_version::bigint    AS new_version,
       r.first_position::bigint AS first_position,
       r.last_position::bigint  AS last_position
  FROM eventstore.append_events(
        @stream_id::text, @guild_id::text, @expected_version::bigint,
        @event_ids::uuid[], @event_types::text[], @event_versions::int[],
        @data::jsonb[], @metadata::jsonb[], @causation_ids::uuid[], @correlation_ids::uuid[],
        sqlc.narg('max_stream_events')::bigint) AS r;

-- name: EventsReadForward :many
-- Events of a live (not deleted) stream with stream_version >= from, ascending.
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at
  FROM eventstore.events e
 WHERE e.stream_id = @stream_id::text
   AND e.stream_version >= @from_version::bigint
   AND EXISTS (SELECT 1 FROM eventstore.streams s
                WHERE s.stream_id = @stream_id::text AND s.deleted_at IS NULL)
 ORDER BY e.stream_version
 LIMIT @max_count::int;

-- name: EventsReadBackward :many
-- Events of a live (not deleted) stream with stream_version <= from, descending.
SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
       e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
       e.causation_id, e.correlation_id, e.created_at
  FROM eventstore.events e
 WHERE e.stream_id = @stream_id::text
   AND e.stream_version <= @from_version::bigint
   AND EXISTS (SELECT 1 FROM eventstore.streams s
                WHERE s.stream_id = @stream_id::text AND s.deleted_at IS NULL)
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

-- name: FeedHorizon :one
-- The feed's safe horizon: transactions below it have all finished.
SELECT pg_snapshot_xmin(pg_current_snapshot())::xid8 AS horizon;
