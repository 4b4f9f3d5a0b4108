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

-- dead_letters: the events a persistent subscription's handler gave up on
-- (every attempt failed, or the event could not be decoded), one row per
-- subscription member and event. A row belongs to the subscription's guild
-- (NULL: a store-wide subscription, visible to administrators only) and
-- goes with its subscription (ON DELETE CASCADE). An operator asks for a
-- retry (retry_requested_at): the subscription's running consumer hands the
-- event to its handler again and deletes the row when the handler
-- succeeds, or records the new failure.
CREATE TABLE eventstore.dead_letters (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription       text        NOT NULL,
    partition_member   integer     NOT NULL DEFAULT 0,
    guild_id           text,
    stream_id          text        NOT NULL,
    stream_version     bigint      NOT NULL,
    event_id           uuid        NOT NULL,
    event_type         text        NOT NULL,
    global_position    bigint      NOT NULL,
    transaction_id     xid8        NOT NULL,
    error              text        NOT NULL,
    attempts           integer     NOT NULL CHECK (attempts >= 0),
    failures           integer     NOT NULL DEFAULT 1 CHECK (failures >= 1),
    first_failed_at    timestamptz NOT NULL DEFAULT now(),
    last_failed_at     timestamptz NOT NULL DEFAULT now(),
    retry_requested_at timestamptz,
    CONSTRAINT dead_letters_event_key UNIQUE (subscription, partition_member, event_id),
    CONSTRAINT dead_letters_subscription_fkey FOREIGN KEY (subscription, partition_member)
        REFERENCES eventstore.subscriptions (name, partition_member) ON DELETE CASCADE
);
CREATE INDEX dead_letters_guild_idx ON eventstore.dead_letters (guild_id, subscription);
-- The running consumers look for retries with this (small) index.
CREATE INDEX dead_letters_retry_idx ON eventstore.dead_letters (subscription, partition_member, id)
    WHERE retry_requested_at IS NOT NULL;

COMMENT ON TABLE eventstore.dead_letters IS
    'Events a persistent subscription''s handler gave up on; retry with eventstore.dead_letter_retry(id), forget with eventstore.dead_letter_drop(id)';
COMMENT ON COLUMN eventstore.dead_letters.attempts IS
    'Handler calls made for the event, over every failure (0: it could not be decoded)';
COMMENT ON COLUMN eventstore.dead_letters.failures IS
    'Times the event was given up on: the first time, then once per failed retry or redelivery';
COMMENT ON COLUMN eventstore.dead_letters.retry_requested_at IS
    'Set by dead_letter_retry: the subscription''s running consumer redelivers the event to its handler (NULL: waiting for an operator)';

ALTER TABLE eventstore.dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY dead_letters_guild_isolation ON eventstore.dead_letters
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));
GRANT SELECT ON eventstore.dead_letters TO eventstore_app;

-- dead_letter_record records that member p_member of subscription p_name
-- (of guild p_guild_id, NULL: store-wide) gave up on an event after
-- p_attempts handler calls. The subscription must exist (ES017; ES016 for
-- another guild's name). Recording the same event again (the subscription
-- was restarted and failed on it once more) updates its row.
-- +goose StatementBegin
CREATE FUNCTION eventstore.dead_letter_record(
    p_name            text,
    p_member          integer,
    p_guild_id        text,
    p_stream_id       text,
    p_stream_version  bigint,
    p_event_id        uuid,
    p_event_type      text,
    p_global_position bigint,
    p_transaction_id  xid8,
    p_error           text,
    p_attempts        integer)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    PERFORM eventstore.subscription_row(p_name, p_member, p_guild_id);
    INSERT INTO eventstore.dead_letters AS d
           (subscription, partition_member, guild_id, stream_id, stream_version, event_id, event_type,
            global_position, transaction_id, error, attempts)
    VALUES (p_name, p_member, p_guild_id, p_stream_id, p_stream_version, p_event_id, p_event_type,
            p_global_position, p_transaction_id, left(coalesce(p_error, ''), 8192), greatest(p_attempts, 0))
    ON CONFLICT ON CONSTRAINT dead_letters_event_key DO UPDATE
       SET error = excluded.error,
           attempts = d.attempts + excluded.attempts,
           failures = d.failures + 1,
           last_failed_at = now(),
           retry_requested_at = NULL
    RETURNING d.id INTO v_id;
    RETURN v_id;
END;
$$;
-- +goose StatementEnd

-- dead_letter_row returns dead letter p_id of the transaction's guild (an
-- administrator without a guild: any), locked, or raises ES031.
-- +goose StatementBegin
CREATE FUNCTION eventstore.dead_letter_row(p_id bigint)
RETURNS eventstore.dead_letters
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild text := nullif(current_setting('eventstore.guild_id', true), '');
    v_row   eventstore.dead_letters%ROWTYPE;
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    SELECT * INTO v_row FROM eventstore.dead_letters d
     WHERE d.id = p_id AND (v_guild IS NULL OR d.guild_id = v_guild)
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM eventstore.raise_error('ES031', format('dead letter %s does not exist', p_id),
            jsonb_build_object('id', p_id));
    END IF;
    RETURN v_row;
END;
$$;
-- +goose StatementEnd

-- dead_letter_retry asks the subscription's running consumer to hand dead
-- letter p_id to its handler again (it does so within about its poll
-- interval) and returns the row.
-- +goose StatementBegin
CREATE FUNCTION eventstore.dead_letter_retry(p_id bigint)
RETURNS SETOF eventstore.dead_letters
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(nullif(current_setting('eventstore.guild_id', true), ''));
    PERFORM eventstore.dead_letter_row(p_id);
    RETURN QUERY
    UPDATE eventstore.dead_letters d SET retry_requested_at = now() WHERE d.id = p_id RETURNING d.*;
END;
$$;
-- +goose StatementEnd

-- dead_letter_drop forgets dead letter p_id (the event itself stays in the
-- store) and returns the row it deleted.
-- +goose StatementBegin
CREATE FUNCTION eventstore.dead_letter_drop(p_id bigint)
RETURNS SETOF eventstore.dead_letters
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(nullif(current_setting('eventstore.guild_id', true), ''));
    PERFORM eventstore.dead_letter_row(p_id);
    RETURN QUERY DELETE FROM eventstore.dead_letters d WHERE d.id = p_id RETURNING d.*;
END;
$$;
-- +goose StatementEnd

-- dead_letter_redelivered records the outcome of a retry by the
-- subscription's consumer: success deletes the row, a failure records
-- p_error and p_attempts more handler calls and waits for the next request.
-- +goose StatementBegin
CREATE FUNCTION eventstore.dead_letter_redelivered(p_id bigint, p_guild_id text, p_error text, p_attempts integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    IF p_error IS NULL THEN
        DELETE FROM eventstore.dead_letters d
         WHERE d.id = p_id AND d.guild_id IS NOT DISTINCT FROM p_guild_id;
    ELSE
        UPDATE eventstore.dead_letters d
           SET error = left(p_error, 8192), attempts = d.attempts + greatest(p_attempts, 0),
               failures = d.failures + 1, last_failed_at = now(), retry_requested_at = NULL
         WHERE d.id = p_id AND d.guild_id IS NOT DISTINCT FROM p_guild_id;
    END IF;
END;
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION
    eventstore.subscription_reset(text, text, xid8, bigint, bigint),
    eventstore.dead_letter_record(text, integer, text, text, bigint, uuid, text, bigint, xid8, text, integer),
    eventstore.dead_letter_row(bigint),
    eventstore.dead_letter_retry(bigint),
    eventstore.dead_letter_drop(bigint),
    eventstore.dead_letter_redelivered(bigint, text, text, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.subscription_reset(text, text, xid8, bigint, bigint),
    eventstore.dead_letter_record(text, integer, text, text, bigint, uuid, text, bigint, xid8, text, integer),
    eventstore.dead_letter_retry(bigint),
    eventstore.dead_letter_drop(bigint),
    eventstore.dead_letter_redelivered(bigint, text, text, integer)
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.dead_letter_redelivered(bigint, text, text, integer);
DROP FUNCTION eventstore.dead_letter_drop(bigint);
DROP FUNCTION eventstore.dead_letter_retry(bigint);
DROP FUNCTION eventstore.dead_letter_row(bigint);
DROP FUNCTION eventstore.dead_letter_record(text, integer, text, text, bigint, uuid, text, bigint, xid8, text, integer);
DROP TABLE eventstore.dead_letters;
DROP FUNCTION eventstore.subscription_reset(text, text, xid8, bigint, bigint);
