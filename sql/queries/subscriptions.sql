-- name: SubscriptionRegister :one
-- Registers a persistent subscription member at its start position when it
-- is new (eventstore.subscription_register) and returns the stored row.
SELECT r.name, r.partition_member, r.partition_count, r.stream_id,
       r.checkpoint_transaction_id, r.checkpoint_position, r.checkpoint_version,
       r.filter, r.guild_id, r.handled_count, r.holder, r.lease_token, r.lease_expires_at,
       r.created_at, r.updated_at
  FROM eventstore.subscription_register(
        @name::text, @partition_member::int, @partition_count::int, sqlc.narg('stream_id')::text,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, @checkpoint_version::bigint,
        @filter::jsonb, sqlc.narg('guild_id')::text) AS r;

-- name: SubscriptionClaim :one
-- Takes the member's lease for holder when it is free (or already holder's)
-- and returns whether it was granted, the lease token and the checkpoint.
SELECT c.granted::boolean            AS granted,
       (c.sub).lease_token::bigint   AS lease_token,
       (c.sub).lease_expires_at::timestamptz AS lease_expires_at,
       (c.sub).holder::text          AS holder,
       (c.sub).checkpoint_transaction_id::xid8 AS checkpoint_transaction_id,
       (c.sub).checkpoint_position::bigint     AS checkpoint_position,
       (c.sub).checkpoint_version::bigint      AS checkpoint_version
  FROM eventstore.subscription_claim(@name::text, @partition_member::int, sqlc.narg('guild_id')::text,
                                     @holder::text, @filter::jsonb, @lease_seconds::float8) AS c;

-- name: SubscriptionRenew :one
-- Extends the lease of the holder of lease_token; false when it was lost.
SELECT eventstore.subscription_renew(@name::text, @partition_member::int, sqlc.narg('guild_id')::text,
                                     @lease_token::bigint, @lease_seconds::float8)::boolean AS renewed;

-- name: SubscriptionCheckpointSave :one
-- Saves the holder's checkpoint after its handler succeeded (and renews the
-- lease); false, saving nothing, when lease_token is no longer the lease's.
SELECT eventstore.subscription_checkpoint_save(
        @name::text, @partition_member::int, sqlc.narg('guild_id')::text, @lease_token::bigint,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, @checkpoint_version::bigint,
        @handled::bigint, @lease_seconds::float8)::boolean AS saved;

-- name: SubscriptionRelease :one
-- Ends the lease of the holder of lease_token at once.
SELECT eventstore.subscription_release(@name::text, @partition_member::int, sqlc.narg('guild_id')::text,
                                       @lease_token::bigint)::boolean AS released;

-- name: SubscriptionGet :many
-- The members of one subscription, by member (of guild_id, unless it is empty).
SELECT s.name, s.partition_member, s.partition_count, s.stream_id,
       s.checkpoint_transaction_id, s.checkpoint_position, s.checkpoint_version,
       s.filter, s.guild_id, s.handled_count, s.holder, s.lease_token, s.lease_expires_at,
       s.created_at, s.updated_at
  FROM eventstore.subscriptions s
 WHERE s.name = @name::text
   AND (@guild_id::text = '' OR s.guild_id = @guild_id::text)
 ORDER BY s.partition_member;

-- name: SubscriptionList :many
-- Every subscription member (of guild_id, unless it is empty), by name and member.
SELECT s.name, s.partition_member, s.partition_count, s.stream_id,
       s.checkpoint_transaction_id, s.checkpoint_position, s.checkpoint_version,
       s.filter, s.guild_id, s.handled_count, s.holder, s.lease_token, s.lease_expires_at,
       s.created_at, s.updated_at
  FROM eventstore.subscriptions s
 WHERE (@guild_id::text = '' OR s.guild_id = @guild_id::text)
 ORDER BY s.name, s.partition_member;

-- name: SubscriptionDelete :one
-- Deletes every member of a subscription (eventstore.subscription_delete).
SELECT eventstore.subscription_delete(@name::text)::bigint AS deleted;
