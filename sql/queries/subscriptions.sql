-- name: SubscriptionCreate :exec
-- Registers a persistent subscription member at its start position; an
-- existing row is left as it is.
INSERT INTO eventstore.subscriptions
       (name, partition_member, partition_count, stream_id,
        checkpoint_transaction_id, checkpoint_position, checkpoint_version, filter, guild_id)
VALUES (@name::text, @partition_member::int, @partition_count::int, sqlc.narg('stream_id')::text,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, @checkpoint_version::bigint,
        @filter::jsonb, sqlc.narg('guild_id')::text)
ON CONFLICT (name, partition_member) DO NOTHING;

-- name: SubscriptionClaim :one
-- Records the new holder and filter of a subscription member whose lock was
-- just taken, and returns its row (with the checkpoint to resume from).
UPDATE eventstore.subscriptions s
   SET holder = @holder::text || ' backend ' || pg_backend_pid(),
       filter = @filter::jsonb,
       guild_id = sqlc.narg('guild_id')::text,
       updated_at = now()
 WHERE s.name = @name::text AND s.partition_member = @partition_member::int
RETURNING s.name, s.partition_member, s.partition_count, s.stream_id,
          s.checkpoint_transaction_id, s.checkpoint_position, s.checkpoint_version,
          s.filter, s.guild_id, s.handled_count, s.holder, s.created_at, s.updated_at;

-- name: SubscriptionCheckpointSave :execrows
-- Saves a member's checkpoint after its handler succeeded.
UPDATE eventstore.subscriptions s
   SET checkpoint_transaction_id = @checkpoint_transaction_id::xid8,
       checkpoint_position = @checkpoint_position::bigint,
       checkpoint_version = @checkpoint_version::bigint,
       handled_count = s.handled_count + @handled::bigint,
       updated_at = now()
 WHERE s.name = @name::text AND s.partition_member = @partition_member::int;

-- name: SubscriptionGet :many
-- The members of one subscription, by member.
SELECT s.name, s.partition_member, s.partition_count, s.stream_id,
       s.checkpoint_transaction_id, s.checkpoint_position, s.checkpoint_version,
       s.filter, s.guild_id, s.handled_count, s.holder, s.created_at, s.updated_at
  FROM eventstore.subscriptions s
 WHERE s.name = @name::text
 ORDER BY s.partition_member;

-- name: SubscriptionList :many
-- Every subscription member, by name and member.
SELECT s.name, s.partition_member, s.partition_count, s.stream_id,
       s.checkpoint_transaction_id, s.checkpoint_position, s.checkpoint_version,
       s.filter, s.guild_id, s.handled_count, s.holder, s.created_at, s.updated_at
  FROM eventstore.subscriptions s
 ORDER BY s.name, s.partition_member;

-- name: SubscriptionDelete :execrows
-- Deletes every member of a subscription.
DELETE FROM eventstore.subscriptions s WHERE s.name = @name::text;

-- name: SubscriptionLockTry :one
-- Takes the session advisory lock of a subscription member if it is free.
SELECT pg_try_advisory_lock(hashtextextended(@lock_key::text, 0))::boolean AS locked;

-- name: SubscriptionUnlock :one
-- Releases the session advisory lock of a subscription member.
SELECT pg_advisory_unlock(hashtextextended(@lock_key::text, 0))::boolean AS unlocked;
