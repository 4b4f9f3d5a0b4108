-- name: StreamSetLimit :one
-- Sets (max_events NULL: clears) a stream's own event limit.
SELECT eventstore.set_stream_limit(@stream_id::text, sqlc.narg('guild_id')::text,
                                   sqlc.narg('max_events')::bigint)::bigint AS version;

-- name: StreamArchive :one
-- Archives a stream (before_version NULL: all of it) through eventstore.archive_stream.
SELECT r.version::bigint         AS version,
       r.events_archived::bigint AS events_archived
  FROM eventstore.archive_stream(@stream_id::text, @expected_version::bigint,
                                 sqlc.narg('before_version')::bigint, sqlc.narg('guild_id')::text) AS r;

-- name: StreamsArchiveCompleted :many
-- Archives up to max_streams completed streams in this transaction.
SELECT r.stream_id::text         AS stream_id,
       r.version::bigint         AS version,
       r.events_archived::bigint AS events_archived
  FROM eventstore.archive_completed_streams(
        make_interval(secs => @older_than_seconds::float8), sqlc.narg('completed_types')::text[],
        sqlc.narg('guild_id')::text, @max_streams::int) AS r;

-- name: StreamHardDelete :one
-- Removes a stream for good through eventstore.hard_delete_stream.
SELECT r.version::bigint        AS version,
       r.events_deleted::bigint AS events_deleted
  FROM eventstore.hard_delete_stream(@stream_id::text, sqlc.narg('guild_id')::text,
                                     @expected_version::bigint, @confirm::boolean) AS r;

-- name: EventsReadForwardWithArchive :many
-- Like EventsReadForward, but also reads archived events: one statement, so
-- a concurrent archive is seen either not at all or whole. Each table gives
-- at most max_count rows in index order, so the work stays bounded by the
-- page size whatever the stream's length.
SELECT u.global_position, u.transaction_id, u.stream_id, u.stream_version, u.event_id,
       u.event_type, u.event_version, u.guild_id, u.data, u.metadata,
       u.causation_id, u.correlation_id, u.created_at
  FROM ((SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
                e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
                e.causation_id, e.correlation_id, e.created_at
           FROM eventstore.events e
          WHERE e.stream_id = @stream_id::text AND e.stream_version >= @from_version::bigint
          ORDER BY e.stream_version
          LIMIT @max_count::int)
        UNION ALL
        (SELECT a.global_position, a.transaction_id, a.stream_id, a.stream_version, a.event_id,
                a.event_type, a.event_version, a.guild_id, a.data, a.metadata,
                a.causation_id, a.correlation_id, a.created_at
           FROM eventstore.events_archive a
          WHERE a.stream_id = @stream_id::text AND a.stream_version >= @from_version::bigint
          ORDER BY a.stream_version
          LIMIT @max_count::int)) AS u
 WHERE EXISTS (SELECT 1 FROM eventstore.streams s
                WHERE s.stream_id = @stream_id::text AND s.deleted_at IS NULL
                  AND (@guild_id::text = '' OR s.guild_id = @guild_id::text))
 ORDER BY u.stream_version
 LIMIT @max_count::int;

-- name: EventsReadBackwardWithArchive :many
-- Like EventsReadBackward, but also reads archived events (one statement,
-- bounded by the page size like EventsReadForwardWithArchive).
SELECT u.global_position, u.transaction_id, u.stream_id, u.stream_version, u.event_id,
       u.event_type, u.event_version, u.guild_id, u.data, u.metadata,
       u.causation_id, u.correlation_id, u.created_at
  FROM ((SELECT e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
                e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
                e.causation_id, e.correlation_id, e.created_at
           FROM eventstore.events e
          WHERE e.stream_id = @stream_id::text AND e.stream_version <= @from_version::bigint
          ORDER BY e.stream_version DESC
          LIMIT @max_count::int)
        UNION ALL
        (SELECT a.global_position, a.transaction_id, a.stream_id, a.stream_version, a.event_id,
                a.event_type, a.event_version, a.guild_id, a.data, a.metadata,
                a.causation_id, a.correlation_id, a.created_at
           FROM eventstore.events_archive a
          WHERE a.stream_id = @stream_id::text AND a.stream_version <= @from_version::bigint
          ORDER BY a.stream_version DESC
          LIMIT @max_count::int)) AS u
 WHERE EXISTS (SELECT 1 FROM eventstore.streams s
                WHERE s.stream_id = @stream_id::text AND s.deleted_at IS NULL
                  AND (@guild_id::text = '' OR s.guild_id = @guild_id::text))
 ORDER BY u.stream_version DESC
 LIMIT @max_count::int;

-- name: StreamsList :many
-- One page of streams matching the filters, by (created_at, stream_id)
-- ascending, after the keyset cursor (after_created_at, after_stream_id).
-- Stream ids compare bytewise (COLLATE "C"), so the order and the cursor do
-- not depend on the database's locale.
SELECT s.stream_id, s.guild_id, s.version, s.max_events, s.last_transaction_id, s.created_at, s.updated_at,
       s.deleted_at, s.archived_at
  FROM eventstore.streams s
 WHERE (sqlc.narg('guild_id')::text IS NULL OR s.guild_id = sqlc.narg('guild_id')::text)
   AND starts_with(s.stream_id, @prefix::text)
   AND (@status::text = '' OR @status::text = CASE WHEN s.deleted_at IS NOT NULL THEN 'deleted'
                                                   WHEN s.archived_at IS NOT NULL THEN 'archived'
                                                   ELSE 'active' END)
   AND (sqlc.narg('created_from')::timestamptz IS NULL OR s.created_at >= sqlc.narg('created_from')::timestamptz)
   AND (sqlc.narg('created_to')::timestamptz IS NULL OR s.created_at < sqlc.narg('created_to')::timestamptz)
   AND (sqlc.narg('after_created_at')::timestamptz IS NULL
        OR (s.created_at, s.stream_id COLLATE "C") > (sqlc.narg('after_created_at')::timestamptz, @after_stream_id::text))
 ORDER BY s.created_at, s.stream_id COLLATE "C"
 LIMIT @max_count::int;

-- name: StreamsListDesc :many
-- StreamsList newest first: by (created_at, stream_id) descending, before
-- the keyset cursor.
SELECT s.stream_id, s.guild_id, s.version, s.max_events, s.last_transaction_id, s.created_at, s.updated_at,
       s.deleted_at, s.archived_at
  FROM eventstore.streams s
 WHERE (sqlc.narg('guild_id')::text IS NULL OR s.guild_id = sqlc.narg('guild_id')::text)
   AND starts_with(s.stream_id, @prefix::text)
   AND (@status::text = '' OR @status::text = CASE WHEN s.deleted_at IS NOT NULL THEN 'deleted'
                                                   WHEN s.archived_at IS NOT NULL THEN 'archived'
                                                   ELSE 'active' END)
   AND (sqlc.narg('created_from')::timestamptz IS NULL OR s.created_at >= sqlc.narg('created_from')::timestamptz)
   AND (sqlc.narg('created_to')::timestamptz IS NULL OR s.created_at < sqlc.narg('created_to')::timestamptz)
   AND (sqlc.narg('after_created_at')::timestamptz IS NULL
        OR (s.created_at, s.stream_id COLLATE "C") < (sqlc.narg('after_created_at')::timestamptz, @after_stream_id::text))
 ORDER BY s.created_at DESC, s.stream_id COLLATE "C" DESC
 LIMIT @max_count::int;

-- name: StreamsCount :one
-- How many streams match the filters of StreamsList (without the cursor).
SELECT count(*)::bigint AS total
  FROM eventstore.streams s
 WHERE (sqlc.narg('guild_id')::text IS NULL OR s.guild_id = sqlc.narg('guild_id')::text)
   AND starts_with(s.stream_id, @prefix::text)
   AND (@status::text = '' OR @status::text = CASE WHEN s.deleted_at IS NOT NULL THEN 'deleted'
                                                   WHEN s.archived_at IS NOT NULL THEN 'archived'
                                                   ELSE 'active' END)
   AND (sqlc.narg('created_from')::timestamptz IS NULL OR s.created_at >= sqlc.narg('created_from')::timestamptz)
   AND (sqlc.narg('created_to')::timestamptz IS NULL OR s.created_at < sqlc.narg('created_to')::timestamptz);
