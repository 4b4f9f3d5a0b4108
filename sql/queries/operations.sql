-- name: SubscriptionReset :many
-- Moves every member of a persistent subscription of the transaction's
-- guild to a new checkpoint (eventstore.subscription_reset), refusing while
-- a lease is live, and returns the members.
SELECT r.name, r.partition_member, r.partition_count, r.stream_id,
       r.checkpoint_transaction_id, r.checkpoint_position, r.checkpoint_version,
       r.filter, r.guild_id, r.handled_count, r.holder, r.lease_token, r.lease_expires_at,
       r.created_at, r.updated_at
  FROM eventstore.subscription_reset(
        @name::text, sqlc.narg('stream_id')::text,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, @checkpoint_version::bigint) AS r
 ORDER BY r.partition_member;
