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
    IF EXISTS (SELECT 1 FROM eventstore.subscriptions sub
                WHERE sub.name = p_name AND sub.guild_id IS DISTINCT FROM p_guild_id) THEN
        PERFORM eventstore.raise_error('ES016',
            format('subscription name %L is taken: it belongs to another guild, or is store-wide', p_name),
            jsonb_build_object('name', p_name));
    END IF;
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
    RETURN v_count;
END;
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION
    eventstore.subscription_delete(text),
    eventstore.subscription_release(text, integer, text, bigint),
    eventstore.subscription_checkpoint_save(text, integer, text, bigint, xid8, bigint, bigint, bigint, double precision),
    eventstore.subscription_renew(text, integer, text, bigint, double precision),
    eventstore.subscription_claim(text, integer, text, text, jsonb, double precision),
    eventstore.subscription_register(text, integer, integer, text, xid8, bigint, bigint, jsonb, text),
    eventstore.subscription_row(text, integer, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.subscription_register(text, integer, integer, text, xid8, bigint, bigint, jsonb, text),
    eventstore.subscription_claim(text, integer, text, text, jsonb, double precision),
    eventstore.subscription_renew(text, integer, text, bigint, double precision),
    eventstore.subscription_checkpoint_save(text, integer, text, bigint, xid8, bigint, bigint, bigint, double precision),
    eventstore.subscription_release(text, integer, text, bigint),
    eventstore.subscription_delete(text)
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.subscription_delete(text);
DROP FUNCTION eventstore.subscription_release(text, integer, text, bigint);
DROP FUNCTION eventstore.subscription_checkpoint_save(text, integer, text, bigint, xid8, bigint, bigint, bigint, double precision);
DROP FUNCTION eventstore.subscription_renew(text, integer, text, bigint, double precision);
DROP FUNCTION eventstore.subscription_claim(text, integer, text, text, jsonb, double precision);
DROP FUNCTION eventstore.subscription_register(text, integer, integer, text, xid8, bigint, bigint, jsonb, text);
DROP FUNCTION eventstore.subscription_row(text, integer, text);
