-- name: SubscriptionRegister :one
-- Registers a persistent subscription member at its start position when it
-- is new (eventstore.subscription_register) and returns the stored row.
-- The filter is a text parameter cast to jsonb, as in SnapshotSave.
SELECT r.name, r.partition_member, r.partition_count, r.stream_id,
       r.checkpoint_transaction_id, r.checkpoint_position, r.checkpoint_version,
       r.filter, r.guild_id, r.handled_count, r.holder, r.lease_token, r.lease_expires_at,
       r.created_at, r.updated_at, r.consumer_group
  FROM eventstore.subscription_register(
        @name::text, @partition_member::int, @partition_count::int, sqlc.narg('stream_id')::text,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, @checkpoint_version::bigint,
        (@filter::text)::jsonb, sqlc.narg('guild_id')::text) AS r;

-- name: SubscriptionClaim :one
-- Takes the member's lease for holder when it is free (or already holder's)
-- and returns whether it was granted, the lease token and the checkpoint.
-- The filter is a text parameter cast to jsonb, as in SnapshotSave.
SELECT c.granted::boolean            AS granted,
       (c.sub).lease_token::bigint   AS lease_token,
       (c.sub).lease_expires_at::timestamptz AS lease_expires_at,
       (c.sub).holder::text          AS holder,
       (c.sub).checkpoint_transaction_id::xid8 AS checkpoint_transaction_id,
       (c.sub).checkpoint_position::bigint     AS checkpoint_position,
       (c.sub).checkpoint_version::bigint      AS checkpoint_version
  FROM eventstore.subscription_claim(@name::text, @partition_member::int, sqlc.narg('guild_id')::text,
                                     @holder::text, (@filter::text)::jsonb, @lease_seconds::float8) AS c;

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
       s.created_at, s.updated_at, s.consumer_group
  FROM eventstore.subscriptions s
 WHERE s.name = @name::text
   AND (@guild_id::text = '' OR s.guild_id = @guild_id::text)
 ORDER BY s.partition_member;

-- name: SubscriptionList :many
-- Every subscription member (of guild_id, unless it is empty), by name and member.
SELECT s.name, s.partition_member, s.partition_count, s.stream_id,
       s.checkpoint_transaction_id, s.checkpoint_position, s.checkpoint_version,
       s.filter, s.guild_id, s.handled_count, s.holder, s.lease_token, s.lease_expires_at,
       s.created_at, s.updated_at, s.consumer_group
  FROM eventstore.subscriptions s
 WHERE (@guild_id::text = '' OR s.guild_id = @guild_id::text)
 ORDER BY s.name, s.partition_member;

-- name: SubscriptionDelete :one
-- Deletes every member of a subscription (eventstore.subscription_delete).
SELECT eventstore.subscription_delete(@name::text)::bigint AS deleted;

-- name: SubscriptionGroupJoin :exec
-- Registers the partitions of a consumer group when it is new
-- (eventstore.subscription_group_join). The filter is a text parameter cast
-- to jsonb, as in SnapshotSave.
SELECT eventstore.subscription_group_join(@name::text, sqlc.narg('guild_id')::text, @partitions::int,
        @checkpoint_transaction_id::xid8, @checkpoint_position::bigint, (@filter::text)::jsonb);

-- name: SubscriptionGroupHeartbeat :many
-- One heartbeat of a consumer group member: the partitions it holds after
-- it (keep = false: beyond its share, to hand back), its share and the
-- number of live members.
SELECT h.partition_member::int AS partition_member,
       h.lease_token::bigint AS lease_token,
       h.checkpoint_transaction_id::xid8 AS checkpoint_transaction_id,
       h.checkpoint_position::bigint AS checkpoint_position,
       h.keep::boolean AS keep,
       h.share::int AS share,
       h.live_members::int AS live_members
  FROM eventstore.subscription_group_heartbeat(@name::text, sqlc.narg('guild_id')::text, @member_id::text,
                                               @lease_seconds::float8) AS h;

-- name: SubscriptionGroupLeave :exec
-- Releases a member's partitions and forgets the member.
SELECT eventstore.subscription_group_leave(@name::text, sqlc.narg('guild_id')::text, @member_id::text);

-- name: ConsumerGroupList :many
-- Every consumer group (of guild_id, unless it is empty), by name.
SELECT g.name::text AS name, coalesce(g.guild_id, '')::text AS guild_id, g.partitions::int AS partitions,
       g.live_members::int AS live_members, g.held_partitions::int AS held_partitions,
       g.unheld_partitions::int AS unheld_partitions, g.handled::bigint AS handled
  FROM eventstore.consumer_groups g
 WHERE (@guild_id::text = '' OR g.guild_id = @guild_id::text)
 ORDER BY g.name;

-- name: ConsumerGroupMembers :many
-- The members of the consumer groups (of guild_id, unless it is empty).
SELECT m.name::text AS name, m.member_id::text AS member_id, m.alive::boolean AS alive,
       m.heartbeat_at::timestamptz AS heartbeat_at, m.partitions::int[] AS partitions
  FROM eventstore.consumer_group_members m
 WHERE (@guild_id::text = '' OR m.guild_id = @guild_id::text)
 ORDER BY m.name, m.member_id;
