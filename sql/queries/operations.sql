-- name: SubscriptionReset :many
-- Moves every member of a persistent subscription of the transaction's
-- guild to a new checkpoint (eventstore.subscription_reset), refusing while
-- a lease is live, and returns the members.
SELECT r.name, r.partition_member, r.partition_count, r.stream_id,
       r.checkpoint_transaction_id, r.checkpoint_position, r.checkpoint_version,
       r.filter, r.guild_id, r.handled_count, r.holder, r.lease_token, r.lease_expires_at,
       r.created_at, r.updated_at, r.consumer_group
  FROM eventstore.subscription_reset(
        @name::text, sqlc.narg('stream_id')::text,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, @checkpoint_version::bigint) AS r
 ORDER BY r.partition_member;

-- name: DeadLetterRecord :one
-- Records an event a persistent subscription member gave up on
-- (eventstore.dead_letter_record) and returns its id.
SELECT eventstore.dead_letter_record(
        @name::text, @partition_member::int, sqlc.narg('guild_id')::text,
        @stream_id::text, @stream_version::bigint, @event_id::uuid, @event_type::text,
        @global_position::bigint, @transaction_id::xid8, @error::text, @attempts::int)::bigint AS id;

-- name: DeadLetterList :many
-- The dead letters of a subscription (of guild_id, unless it is empty), oldest first.
SELECT d.id, d.subscription, d.partition_member, d.guild_id, d.stream_id, d.stream_version, d.event_id,
       d.event_type, d.global_position, d.transaction_id, d.error, d.attempts, d.failures,
       d.first_failed_at, d.last_failed_at, d.retry_requested_at
  FROM eventstore.dead_letters d
 WHERE d.subscription = @name::text
   AND (@guild_id::text = '' OR d.guild_id = @guild_id::text)
 ORDER BY d.id;

-- name: DeadLetterRetryRequested :many
-- The dead letters of one member waiting for a retry, oldest first.
SELECT d.id, d.subscription, d.partition_member, d.guild_id, d.stream_id, d.stream_version, d.event_id,
       d.event_type, d.global_position, d.transaction_id, d.error, d.attempts, d.failures,
       d.first_failed_at, d.last_failed_at, d.retry_requested_at
  FROM eventstore.dead_letters d
 WHERE d.subscription = @name::text AND d.partition_member = @partition_member::int
   AND d.retry_requested_at IS NOT NULL
 ORDER BY d.id
 LIMIT @max_count::int;

-- name: DeadLetterRetry :one
-- Asks the subscription's consumer to redeliver a dead letter.
SELECT r.id, r.subscription, r.partition_member, r.guild_id, r.stream_id, r.stream_version, r.event_id,
       r.event_type, r.global_position, r.transaction_id, r.error, r.attempts, r.failures,
       r.first_failed_at, r.last_failed_at, r.retry_requested_at
  FROM eventstore.dead_letter_retry(@id::bigint) AS r;

-- name: DeadLetterDrop :one
-- Forgets a dead letter and returns it.
SELECT r.id, r.subscription, r.partition_member, r.guild_id, r.stream_id, r.stream_version, r.event_id,
       r.event_type, r.global_position, r.transaction_id, r.error, r.attempts, r.failures,
       r.first_failed_at, r.last_failed_at, r.retry_requested_at
  FROM eventstore.dead_letter_drop(@id::bigint) AS r;

-- name: DeadLetterRedelivered :exec
-- Records the outcome of a redelivery: a NULL error deletes the dead letter.
SELECT eventstore.dead_letter_redelivered(@id::bigint, sqlc.narg('guild_id')::text,
                                          sqlc.narg('error')::text, @attempts::int);

-- name: FeedFirstCreatedAt :many
-- The first event in feed order created at or after a time (of guild_id,
-- unless it is empty), committed or held back by the horizon; no row when
-- there is none. Served by events_created_idx.
SELECT e.transaction_id, e.global_position
  FROM eventstore.events e
 WHERE e.created_at >= @created_at::timestamptz
   AND (@guild_id::text = '' OR e.guild_id = @guild_id::text)
 ORDER BY e.transaction_id, e.global_position
 LIMIT 1;

-- name: SchemaFunctionNames :many
-- The functions of the eventstore schema, by name (Store.CheckSchema).
SELECT DISTINCT p.proname::text AS name
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'eventstore';

-- name: SchemaExists :one
SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname = 'eventstore') AS present;
