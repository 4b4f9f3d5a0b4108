-- Operating subscriptions: resetting a persistent subscription's checkpoint
-- and the dead letters its handler gave up on.
--
--   SELECT * FROM eventstore.dead_letters ORDER BY id;            -- psql
--   SELECT eventstore.dead_letter_retry(42);                       -- redeliver
--   SELECT eventstore.dead_letter_drop(42);                        -- forget
--
-- Like 00004_subscriptions.sql every function is SECURITY DEFINER and checks
-- the transaction's guild first (eventstore.guild_id): a guild reaches only
-- its own subscriptions and dead letters, and only an administrator may act
-- without a guild. The application role has no table privilege but SELECT,
-- narrowed by row-level security to its guild.

-- +goose Up

-- subscription_reset moves every member of subscription p_name (of the
-- transaction's guild; an administrator without a guild: any) to a new
-- checkpoint: p_after_tx/p_after_position for a feed subscription,
-- p_after_version for a stream subscription. p_stream_id must be the
-- subscription's source (NULL: the global feed), so a checkpoint meant for
-- one kind is never stored in the other. It refuses (ES030) while any
-- member's lease is live: a running consumer would go on from its own
-- position and overwrite the reset. The reset bumps each lease token, so a
-- consumer that stalled past its lease can no longer save over it; the next
-- consumer to claim the lease starts after the new checkpoint. Another
-- guild's name is not found (ES017).
-- +goose StatementBegin
CREATE FUNCTION eventstore.subscription_reset(
    p_name           text,
    p_stream_id      text,
    p_after_tx       xid8,
    p_after_position bigint,
    p_after_version  bigint)
RETURNS SETOF eventstore.subscriptions
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild text := nullif(current_setting('eventstore.guild_id', true), '');
    v_live  eventstore.subscriptions%ROWTYPE;
    v_count bigint;
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    IF p_after_tx IS NULL OR p_after_position IS NULL OR p_after_position < 0
       OR p_after_version IS NULL OR p_after_version < 0 THEN
        PERFORM eventstore.raise_error('ES008', 'a subscription checkpoint must not be negative',
            jsonb_build_object('argument', 'checkpoint'));
    END IF;
    PERFORM 1 FROM eventstore.subscriptions s
      WHERE s.name = p_name AND (v_guild IS NULL OR s.guild_id = v_guild)
      ORDER BY s.partition_member
        FOR UPDATE;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count = 0 THEN
        PERFORM eventstore.raise_error('ES017', format('subscription %L does not exist', p_name),
            jsonb_build_object('name', p_name));
    END IF;
    IF EXISTS (SELECT 1 FROM eventstore.subscriptions s
                WHERE s.name = p_name AND s.stream_id IS DISTINCT FROM p_stream_id) THEN
        PERFORM eventstore.raise_error('ES008',
            format('subscription %L reads another source than the checkpoint given', p_name),
            jsonb_build_object('argument', 'checkpoint', 'name', p_name));
    END IF;
    SELECT * INTO v_live FROM eventstore.subscriptions s
     WHERE s.name = p_name AND s.lease_expires_at > clock_timestamp()
     ORDER BY s.lease_expires_at DESC
     LIMIT 1;
    IF FOUND THEN
        PERFORM eventstore.raise_error('ES030',
            format('subscription %L is in use: %s holds its lease until %s; stop the consumer (or wait for the lease to expire) first',
                   p_name, v_live.holder, v_live.lease_expires_at),
            jsonb_build_object('name', p_name, 'holder', v_live.holder, 'lease_expires_at', v_live.lease_expires_at));
    END IF;
    RETURN QUERY
    UPDATE eventstore.subscriptions s
       SET checkpoint_transaction_id = p_after_tx,
           checkpoint_position = p_after_position,
           checkpoint_version = p_after_version,
           lease_token = s.lease_token + 1,
           lease_expires_at = NULL,
           updated_at = now()
     WHERE s.name = p_name
    RETURNING s.*;
END;
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION
    eventstore.subscription_reset(text, text, xid8, bigint, bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.subscription_reset(text, text, xid8, bigint, bigint)
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.subscription_reset(text, text, xid8, bigint, bigint);
