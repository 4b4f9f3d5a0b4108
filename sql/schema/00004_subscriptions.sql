-- Persistent subscriptions: registration, consumer leases and checkpoints.
--
-- A subscription name (with its partition member) is one row of
-- eventstore.subscriptions. It belongs to the guild of its guild filter, or
-- to no guild (store-wide, reserved to administrators). Names are global: a
-- name another guild registered first is refused with ES016, which never
-- says whose it is.
--
-- One consumer per row is active at a time. It holds a lease: claiming bumps
-- lease_token and sets lease_expires_at; the holder renews it and saves
-- checkpoints carrying its token, and a save or renewal with an older token
-- changes nothing, so a consumer that lost its lease (it stalled past the
-- expiry and another one claimed) can never overwrite the new holder's
-- checkpoint. Every call is one short statement: no lock is held between
-- calls and no transaction stays open (an open transaction with an id would
-- hold the global feed's horizon back for every reader). A consumer that
-- dies without releasing is replaced once its lease expires.
--
-- Every function is SECURITY DEFINER and checks the guild first; the
-- application role has no table privilege but SELECT.

-- +goose Up

-- subscription_row locks and returns a subscription member of guild
-- p_guild_id (NULL: a store-wide subscription), raising ES017 when there is
-- none and ES016 when the name belongs to another guild.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_row(p_name text, p_member integer, p_guild_id text)
RETURNS eventstore.subscriptions
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_row eventstore.subscriptions%ROWTYPE;
BEGIN
    SELECT * INTO v_row FROM eventstore.subscriptions sub
     WHERE sub.name = p_name AND sub.partition_member = p_member
       AND sub.guild_id IS NOT DISTINCT FROM p_guild_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM eventstore.subscriptions sub WHERE sub.name = p_name) THEN
            PERFORM eventstore.raise_error('ES016',
                format('subscription name %L is taken: it belongs to another guild, or is store-wide', p_name),
                jsonb_build_object('name', p_name));
        END IF;
        PERFORM eventstore.raise_error('ES017', format('subscription %L (member %s) does not exist', p_name, p_member),
            jsonb_build_object('name', p_name, 'partition_member', p_member));
    END IF;
    RETURN v_row;
END;
$$;
-- +goose StatementEnd

-- check_subscription_name raises ES016 when subscription name p_name is
-- held by another owner than guild p_guild_id (NULL: store-wide): names
-- are global, and a guild may not squat another's.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_subscription_name(p_name text, p_guild_id text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM eventstore.subscriptions sub
                WHERE sub.name = p_name AND sub.guild_id IS DISTINCT FROM p_guild_id) THEN
        PERFORM eventstore.raise_error('ES016',
            format('subscription name %L is taken: it belongs to another guild, or is store-wide', p_name),
            jsonb_build_object('name', p_name));
    END IF;
END;
$$;
-- +goose StatementEnd

-- subscription_register registers a subscription member at its start
-- position when it is new (an existing row keeps its checkpoint) and
-- returns the stored row, so the caller can check that it is stored for the
-- same source and partitioning.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_register(
    p_name            text,
    p_member          integer,
    p_members         integer,
    p_stream_id       text,
    p_after_tx        xid8,
    p_after_position  bigint,
    p_after_version   bigint,
    p_filter          jsonb,
    p_guild_id        text)
RETURNS SETOF eventstore.subscriptions
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    IF p_guild_id IS NOT NULL THEN
        PERFORM eventstore.check_guild_id(p_guild_id);
    END IF;
    IF p_stream_id IS NOT NULL THEN
        PERFORM eventstore.check_stream_id(p_stream_id);
    END IF;
    PERFORM eventstore.check_subscription_name(p_name, p_guild_id);
    INSERT INTO eventstore.subscriptions
           (name, partition_member, partition_count, stream_id,
            checkpoint_transaction_id, checkpoint_position, checkpoint_version, filter, guild_id)
    VALUES (p_name, p_member, p_members, p_stream_id,
            p_after_tx, p_after_position, p_after_version, coalesce(p_filter, '{}'::jsonb), p_guild_id)
    ON CONFLICT (name, partition_member) DO NOTHING;
    RETURN NEXT eventstore.subscription_row(p_name, p_member, p_guild_id);
END;
$$;
-- +goose StatementEnd

-- subscription_claim gives the lease of a member to p_holder when it is
-- free (never claimed, released or expired) or already p_holder's, for
-- p_lease_seconds, and records the filter it runs with. It returns the row
-- and whether the lease was granted: granted rows carry the new
-- lease_token, the others the current holder and expiry.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_claim(
    p_name          text,
    p_member        integer,
    p_guild_id      text,
    p_holder        text,
    p_filter        jsonb,
    p_lease_seconds double precision,
    OUT granted     boolean,
    OUT sub         eventstore.subscriptions)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    IF p_holder IS NULL OR p_holder = '' OR p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
        PERFORM eventstore.raise_error('ES008', 'a claim needs a holder and a positive lease',
            jsonb_build_object('argument', 'lease', 'value', p_lease_seconds));
    END IF;
    sub := eventstore.subscription_row(p_name, p_member, p_guild_id);
    granted := sub.lease_expires_at IS NULL OR sub.lease_expires_at <= clock_timestamp() OR sub.holder = p_holder;
    IF granted THEN
        UPDATE eventstore.subscriptions s
           SET holder = p_holder, lease_token = s.lease_token + 1,
               lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds),
               filter = coalesce(p_filter, s.filter), updated_at = now()
         WHERE s.name = p_name AND s.partition_member = p_member
        RETURNING s.* INTO sub;
    END IF;
END;
$$;
-- +goose StatementEnd

-- subscription_renew extends the lease of the holder of p_token; false
-- when the lease has been claimed by another consumer (or the row is gone).
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_renew(
    p_name text, p_member integer, p_guild_id text, p_token bigint, p_lease_seconds double precision)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    UPDATE eventstore.subscriptions s
       SET lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds)
     WHERE s.name = p_name AND s.partition_member = p_member
       AND s.guild_id IS NOT DISTINCT FROM p_guild_id AND s.lease_token = p_token;
    RETURN FOUND;
END;
$$;
-- +goose StatementEnd

-- subscription_checkpoint_save saves the holder's checkpoint after its
-- handler succeeded, adds p_handled to the count and renews the lease. It
-- returns false, saving nothing, when p_token is no longer the lease's.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_checkpoint_save(
    p_name           text,
    p_member         integer,
    p_guild_id       text,
    p_token          bigint,
    p_after_tx       xid8,
    p_after_position bigint,
    p_after_version  bigint,
    p_handled        bigint,
    p_lease_seconds  double precision)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    UPDATE eventstore.subscriptions s
       SET checkpoint_transaction_id = p_after_tx,
           checkpoint_position = p_after_position,
           checkpoint_version = p_after_version,
           handled_count = s.handled_count + p_handled,
           lease_expires_at = clock_timestamp() + make_interval(secs => p_lease_seconds),
           updated_at = now()
     WHERE s.name = p_name AND s.partition_member = p_member
       AND s.guild_id IS NOT DISTINCT FROM p_guild_id AND s.lease_token = p_token;
    RETURN FOUND;
END;
$$;
-- +goose StatementEnd

-- subscription_release ends the lease of the holder of p_token at once, so
-- a standby consumer can claim it without waiting for the expiry.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_release(p_name text, p_member integer, p_guild_id text, p_token bigint)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    UPDATE eventstore.subscriptions s
       SET lease_expires_at = NULL
     WHERE s.name = p_name AND s.partition_member = p_member
       AND s.guild_id IS NOT DISTINCT FROM p_guild_id AND s.lease_token = p_token;
    RETURN FOUND;
END;
$$;
-- +goose StatementEnd

-- subscription_delete deletes every member of a subscription of the
-- transaction's guild (an administrator without a guild: any subscription)
-- and returns how many rows went. Another guild's name is not found.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_delete(p_name text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild text := nullif(current_setting('eventstore.guild_id', true), '');
    v_count bigint;
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    DELETE FROM eventstore.subscriptions s
     WHERE s.name = p_name AND (v_guild IS NULL OR s.guild_id = v_guild);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    DELETE FROM eventstore.subscription_group_members m
     WHERE m.name = p_name AND (v_guild IS NULL OR m.guild_id = v_guild);
    RETURN v_count;
END;
$$;
-- +goose StatementEnd


-- Consumer groups. A group is a partitioned subscription whose rows carry
-- consumer_group = true: one row per partition, with its own checkpoint and
-- lease, as above. Its members do not pick partitions: each heartbeats
-- (subscription_group_heartbeat), and the heartbeat spreads the partitions
-- over the live members, a fair share of ceil(partitions / live members)
-- each. A member's heartbeat renews its membership and the leases of the
-- partitions it holds, forgets members whose lease has run out, claims free
-- or expired partitions up to its share (FOR UPDATE SKIP LOCKED: concurrent
-- members never wait on each other's rows) and tells it which of its
-- partitions exceed its share: it hands those back (checkpoint saved, lease
-- released) so that a member that joined gets them at its next heartbeat.

-- subscription_group_join registers the partitions of group p_name when it
-- is new, each at the start position (an existing group keeps its
-- checkpoints). It raises ES016 when the name belongs to another guild and
-- ES008 when it is stored as something else than a group of p_partitions
-- partitions.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_group_join(
    p_name           text,
    p_guild_id       text,
    p_partitions     integer,
    p_after_tx       xid8,
    p_after_position bigint,
    p_filter         jsonb)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_bad eventstore.subscriptions%ROWTYPE;
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    IF p_partitions IS NULL OR p_partitions < 1 OR p_partitions > 1024 THEN
        PERFORM eventstore.raise_error('ES008', format('a consumer group has 1 to 1024 partitions, not %s', p_partitions),
            jsonb_build_object('argument', 'partitions', 'value', p_partitions));
    END IF;
    IF p_guild_id IS NOT NULL THEN
        PERFORM eventstore.check_guild_id(p_guild_id);
    END IF;
    PERFORM eventstore.check_subscription_name(p_name, p_guild_id);
    INSERT INTO eventstore.subscriptions
           (name, partition_member, partition_count, checkpoint_transaction_id, checkpoint_position,
            filter, guild_id, consumer_group)
    SELECT p_name, i, p_partitions, p_after_tx, p_after_position, coalesce(p_filter, '{}'::jsonb), p_guild_id, true
      FROM generate_series(0, p_partitions - 1) AS i
    ON CONFLICT (name, partition_member) DO NOTHING;
    IF EXISTS (SELECT 1 FROM eventstore.subscriptions sub
                WHERE sub.name = p_name AND sub.guild_id IS DISTINCT FROM p_guild_id) THEN
        PERFORM eventstore.raise_error('ES016', -- another guild registered it concurrently
            format('subscription name %L is taken: it belongs to another guild, or is store-wide', p_name),
            jsonb_build_object('name', p_name));
    END IF;
    SELECT * INTO v_bad FROM eventstore.subscriptions s
     WHERE s.name = p_name AND (s.partition_count <> p_partitions OR NOT s.consumer_group) LIMIT 1;
    IF FOUND THEN
        PERFORM eventstore.raise_error('ES008',
            format('subscription %L is stored as %s, not as a consumer group of %s partitions (delete it to change it)',
                   p_name, CASE WHEN v_bad.consumer_group THEN format('a consumer group of %s partitions', v_bad.partition_count)
                                ELSE 'a subscription that is no consumer group' END, p_partitions),
            jsonb_build_object('argument', 'partitions', 'value', p_partitions));
    END IF;
END;
$$;
-- +goose StatementEnd

-- subscription_group_heartbeat is one heartbeat of member p_member_id of
-- group p_name (see above). It returns the partitions the member holds
-- after it, with their lease tokens and checkpoints; keep is false for
-- those beyond its share, which it should hand back. share and
-- live_members say how the partitions are spread now. It raises ES017 when
-- the group does not exist (it was deleted) and ES016 when it belongs to
-- another guild.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_group_heartbeat(
    p_name          text,
    p_guild_id      text,
    p_member_id     text,
    p_lease_seconds double precision)
RETURNS TABLE (partition_member          integer,
               lease_token               bigint,
               checkpoint_transaction_id xid8,
               checkpoint_position       bigint,
               keep                      boolean,
               share                     integer,
               live_members              integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_first eventstore.subscriptions%ROWTYPE;
    v_until timestamptz;
    v_live  integer;
    v_share integer;
    v_held  integer;
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    IF p_member_id IS NULL OR p_member_id = '' OR length(p_member_id) > 200
       OR p_lease_seconds IS NULL OR p_lease_seconds <= 0 THEN
        PERFORM eventstore.raise_error('ES008', 'a heartbeat needs a member id and a positive lease',
            jsonb_build_object('argument', 'lease', 'value', p_lease_seconds));
    END IF;
    v_until := clock_timestamp() + make_interval(secs => p_lease_seconds);
    SELECT * INTO v_first FROM eventstore.subscriptions s
     WHERE s.name = p_name AND s.partition_member = 0 AND s.guild_id IS NOT DISTINCT FROM p_guild_id;
    IF NOT FOUND THEN
        PERFORM eventstore.subscription_row(p_name, 0, p_guild_id); -- raises ES016 or ES017
    END IF;
    IF NOT v_first.consumer_group THEN
        PERFORM eventstore.raise_error('ES008', format('subscription %L is no consumer group', p_name),
            jsonb_build_object('argument', 'name', 'value', p_name));
    END IF;

    INSERT INTO eventstore.subscription_group_members AS m (name, member_id, guild_id, lease_expires_at)
    VALUES (p_name, p_member_id, p_guild_id, v_until)
    ON CONFLICT (name, member_id) DO UPDATE SET heartbeat_at = now(), lease_expires_at = v_until;
    DELETE FROM eventstore.subscription_group_members m
     WHERE m.name = p_name AND m.lease_expires_at <= clock_timestamp();
    SELECT count(*)::integer INTO v_live FROM eventstore.subscription_group_members m WHERE m.name = p_name;
    v_share := ceil(v_first.partition_count::numeric / greatest(v_live, 1))::integer;

    -- Renew what it holds (an expired lease nobody claimed meanwhile too:
    -- a claim would have changed the holder).
    UPDATE eventstore.subscriptions s SET lease_expires_at = v_until
     WHERE s.name = p_name AND s.holder = p_member_id AND s.lease_expires_at IS NOT NULL;
    GET DIAGNOSTICS v_held = ROW_COUNT;

    IF v_held < v_share THEN
        UPDATE eventstore.subscriptions s
           SET holder = p_member_id, lease_token = s.lease_token + 1, lease_expires_at = v_until, updated_at = now()
         WHERE s.name = p_name AND s.partition_member IN (
               SELECT f.partition_member FROM eventstore.subscriptions f
                WHERE f.name = p_name AND (f.lease_expires_at IS NULL OR f.lease_expires_at <= clock_timestamp())
                ORDER BY f.partition_member
                LIMIT v_share - v_held
                  FOR UPDATE SKIP LOCKED);
    END IF;

    RETURN QUERY
    SELECT s.partition_member, s.lease_token, s.checkpoint_transaction_id, s.checkpoint_position,
           row_number() OVER (ORDER BY s.partition_member) <= v_share, v_share, v_live
      FROM eventstore.subscriptions s
     WHERE s.name = p_name AND s.holder = p_member_id AND s.lease_expires_at IS NOT NULL
     ORDER BY s.partition_member;
END;
$$;
-- +goose StatementEnd

-- subscription_group_leave ends member p_member_id's membership: it
-- releases every partition the member still holds and forgets it, so the
-- others share its partitions at their next heartbeat.
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_group_leave(p_name text, p_guild_id text, p_member_id text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    UPDATE eventstore.subscriptions s SET lease_expires_at = NULL
     WHERE s.name = p_name AND s.holder = p_member_id AND s.guild_id IS NOT DISTINCT FROM p_guild_id;
    DELETE FROM eventstore.subscription_group_members m
     WHERE m.name = p_name AND m.member_id = p_member_id AND m.guild_id IS NOT DISTINCT FROM p_guild_id;
END;
$$;
-- +goose StatementEnd

-- consumer_groups: one row per consumer group, for psql and `eventstore
-- stats`: its partitions, live members, partitions held and not held, and
-- events handled. security_invoker: the application role sees its guild's.
CREATE VIEW eventstore.consumer_groups WITH (security_invoker = true) AS
SELECT s.name, s.guild_id,
       max(s.partition_count)::integer AS partitions,
       (SELECT count(*) FROM eventstore.subscription_group_members m
         WHERE m.name = s.name AND m.lease_expires_at > clock_timestamp())::integer AS live_members,
       (count(*) FILTER (WHERE s.lease_expires_at > clock_timestamp()))::integer AS held_partitions,
       (count(*) FILTER (WHERE s.lease_expires_at IS NULL OR s.lease_expires_at <= clock_timestamp()))::integer
           AS unheld_partitions,
       sum(s.handled_count)::bigint AS handled,
       max(s.updated_at) AS updated_at
  FROM eventstore.subscriptions s
 WHERE s.consumer_group
 GROUP BY s.name, s.guild_id;

-- consumer_group_members: one row per member of a consumer group, with
-- the partitions it holds now.
CREATE VIEW eventstore.consumer_group_members WITH (security_invoker = true) AS
SELECT m.name, m.member_id, m.guild_id, m.joined_at, m.heartbeat_at, m.lease_expires_at,
       m.lease_expires_at > clock_timestamp() AS alive,
       ARRAY(SELECT s.partition_member FROM eventstore.subscriptions s
              WHERE s.name = m.name AND s.holder = m.member_id AND s.lease_expires_at > clock_timestamp()
              ORDER BY s.partition_member) AS partitions
  FROM eventstore.subscription_group_members m;

GRANT SELECT ON eventstore.consumer_groups, eventstore.consumer_group_members TO eventstore_app;

REVOKE ALL ON FUNCTION
    eventstore.subscription_group_join(text, text, integer, xid8, bigint, jsonb),
    eventstore.subscription_group_heartbeat(text, text, text, double precision),
    eventstore.subscription_group_leave(text, text, text),
    eventstore.subscription_delete(text),
    eventstore.subscription_release(text, integer, text, bigint),
    eventstore.subscription_checkpoint_save(text, integer, text, bigint, xid8, bigint, bigint, bigint, double precision),
    eventstore.subscription_renew(text, integer, text, bigint, double precision),
    eventstore.subscription_claim(text, integer, text, text, jsonb, double precision),
    eventstore.subscription_register(text, integer, integer, text, xid8, bigint, bigint, jsonb, text),
    eventstore.subscription_row(text, integer, text),
    eventstore.check_subscription_name(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.subscription_register(text, integer, integer, text, xid8, bigint, bigint, jsonb, text),
    eventstore.subscription_claim(text, integer, text, text, jsonb, double precision),
    eventstore.subscription_renew(text, integer, text, bigint, double precision),
    eventstore.subscription_checkpoint_save(text, integer, text, bigint, xid8, bigint, bigint, bigint, double precision),
    eventstore.subscription_release(text, integer, text, bigint),
    eventstore.subscription_delete(text),
    eventstore.subscription_group_join(text, text, integer, xid8, bigint, jsonb),
    eventstore.subscription_group_heartbeat(text, text, text, double precision),
    eventstore.subscription_group_leave(text, text, text)
    TO eventstore_app;

-- +goose Down
DROP VIEW eventstore.consumer_group_members;
DROP VIEW eventstore.consumer_groups;
DROP FUNCTION eventstore.subscription_group_leave(text, text, text);
DROP FUNCTION eventstore.subscription_group_heartbeat(text, text, text, double precision);
DROP FUNCTION eventstore.subscription_group_join(text, text, integer, xid8, bigint, jsonb);
DROP FUNCTION eventstore.subscription_delete(text);
DROP FUNCTION eventstore.subscription_release(text, integer, text, bigint);
DROP FUNCTION eventstore.subscription_checkpoint_save(text, integer, text, bigint, xid8, bigint, bigint, bigint, double precision);
DROP FUNCTION eventstore.subscription_renew(text, integer, text, bigint, double precision);
DROP FUNCTION eventstore.subscription_claim(text, integer, text, text, jsonb, double precision);
DROP FUNCTION eventstore.subscription_register(text, integer, integer, text, xid8, bigint, bigint, jsonb, text);
DROP FUNCTION eventstore.check_subscription_name(text, text);
DROP FUNCTION eventstore.subscription_row(text, integer, text);
