-- name: StreamGet :one
-- A stream's row; with a guild_id (not empty), only if it is that guild's.
SELECT s.stream_id, s.guild_id, s.version, s.max_events, s.last_transaction_id, s.created_at, s.updated_at,
       s.deleted_at, s.archived_at
  FROM eventstore.streams s
 WHERE s.stream_id = @stream_id::text
   AND (@guild_id::text = '' OR s.guild_id = @guild_id::text);

-- name: StreamCreate :exec
SELECT eventstore.create_stream(@stream_id::text, @guild_id::text);

-- name: StreamDelete :one
SELECT eventstore.delete_stream(@stream_id::text, sqlc.narg('guild_id')::text, @expected_version::bigint)::bigint AS version;
