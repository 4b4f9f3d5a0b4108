-- name: SnapshotSave :one
-- Stores a stream's snapshot through eventstore.record_snapshot; reports
-- whether it was stored and which snapshot the stream now holds. The
-- documents are text parameters cast to jsonb: every pgx query mode sends
-- text as it is, where a []byte goes as bytea text in the exec and simple
-- protocol modes.
SELECT r.stored::boolean        AS stored,
       r.stream_version::bigint AS stream_version,
       r.schema_version::int    AS schema_version
  FROM eventstore.record_snapshot(
        @stream_id::text, sqlc.narg('guild_id')::text, @stream_version::bigint,
        @snapshot_type::text, @schema_version::int, (@data::text)::jsonb, (sqlc.narg('metadata')::text)::jsonb) AS r;

-- name: SnapshotGet :one
-- The latest snapshot of a stream (of guild_id, unless it is empty), with
-- whether the stream is soft-deleted.
SELECT sn.stream_id, sn.guild_id, sn.stream_version, sn.snapshot_type, sn.schema_version,
       sn.data, sn.metadata, sn.created_at,
       (st.deleted_at IS NOT NULL)::boolean AS stream_deleted
  FROM eventstore.snapshots sn
  JOIN eventstore.streams st ON st.stream_id = sn.stream_id
 WHERE sn.stream_id = @stream_id::text
   AND (@guild_id::text = '' OR sn.guild_id = @guild_id::text);

-- name: SnapshotDelete :one
-- Deletes a stream's snapshot through eventstore.delete_snapshot; reports
-- whether there was one.
SELECT eventstore.delete_snapshot(@stream_id::text, sqlc.narg('guild_id')::text)::boolean AS deleted;
