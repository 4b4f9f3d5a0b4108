-- The store's single append: one event, scalar arguments, outside a
-- caller's transaction (store/append.go). It decides an append to an
-- existing stream at the expected version itself, and hands every other
-- case to append_events (00002_writes.sql), which holds the rules.

-- +goose Up

-- append_event appends one event to an existing stream of p_guild_id: the
-- store's single append outside a caller's transaction, its hot path. It
-- is append_events' fast path without the probe, for one event, with
-- scalar arguments: one UPDATE checks, locks and bumps the stream row, one
-- INSERT stores the event, and the archive is looked up for its id (the
-- unique index covers the hot table only). Anything else (a new stream, a
-- conflict, a deleted, archived or full stream, another guild's id, an
-- invalid argument) goes to append_events with the same arguments, which
-- decides it. A stored id raises unique_violation on events_event_id_key,
-- with nothing stored; append_events, whose probe tells a replay from a
-- duplicate, gives the exact answer (the store sends it there then).
-- +goose StatementBegin
CREATE FUNCTION eventstore.append_event(
    p_stream_id         text,
    p_guild_id          text,
    p_expected_version  bigint,
    p_event_id          uuid,
    p_type              text,
    p_version           integer,
    p_data              jsonb,
    p_metadata          jsonb DEFAULT NULL,
    p_causation_id      uuid DEFAULT NULL,
    p_correlation_id    uuid DEFAULT NULL,
    p_max_stream_events bigint DEFAULT 10000,
    OUT new_version     bigint,
    OUT global_position bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    c_any           CONSTANT bigint := -1;
    c_no_stream     CONSTANT bigint := -2;
    c_stream_exists CONSTANT bigint := -3;
    v_label         xid8;
BEGIN
    IF current_setting('eventstore.guild_id', true) IS DISTINCT FROM p_guild_id THEN
        PERFORM eventstore.check_guild_context(p_guild_id);
    END IF;
    IF p_expected_version >= c_stream_exists AND (p_max_stream_events IS NULL OR p_max_stream_events >= 1) THEN
        -- As append_events' UPDATE (HOT; in READ COMMITTED a concurrent
        -- writer's update is waited for and the conditions checked again).
        UPDATE eventstore.streams s
           SET version = s.version + 1, updated_at = now(),
               last_transaction_id = greatest(pg_current_xact_id(), s.last_transaction_id)
         WHERE s.stream_id = p_stream_id AND s.guild_id = p_guild_id
           AND s.deleted_at IS NULL AND s.archived_at IS NULL
           AND (p_expected_version = s.version OR p_expected_version = c_any
                OR p_expected_version = c_stream_exists
                OR (p_expected_version = c_no_stream AND s.version = 0))
           AND s.version < coalesce(s.max_events, p_max_stream_events, s.version + 1)
        RETURNING s.version, s.last_transaction_id INTO new_version, v_label;
        IF FOUND THEN
            INSERT INTO eventstore.events AS e
                (transaction_id, stream_id, stream_version, event_id, event_type, event_version, guild_id,
                 data, metadata, causation_id, correlation_id)
            VALUES (v_label, p_stream_id, new_version, p_event_id, p_type, p_version, p_guild_id,
                    p_data, coalesce(p_metadata, '{}'::jsonb), p_causation_id, p_correlation_id)
            RETURNING e.global_position INTO global_position;
            IF EXISTS (SELECT FROM eventstore.events_archive a WHERE a.event_id = p_event_id) THEN
                RAISE EXCEPTION 'event id % is stored in the archive', p_event_id
                    USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_event_id_key';
            END IF;
            RETURN;
        END IF;
    END IF;
    SELECT a.new_version, a.first_position INTO new_version, global_position
      FROM eventstore.append_events(p_stream_id, p_guild_id, p_expected_version, ARRAY[p_event_id], ARRAY[p_type],
                                    ARRAY[p_version], ARRAY[p_data], ARRAY[p_metadata], ARRAY[p_causation_id],
                                    ARRAY[p_correlation_id], p_max_stream_events, false) AS a;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.append_event IS
    'Append one event to a stream of a guild without the stored-id probe (guild-checked, runs as the owner): the store''s single append. A stored event id raises unique_violation; append_events tells a replay from a duplicate.';

REVOKE ALL ON FUNCTION eventstore.append_event(text, text, bigint, uuid, text, integer, jsonb, jsonb, uuid, uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.append_event(text, text, bigint, uuid, text, integer, jsonb, jsonb, uuid, uuid, bigint) TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.append_event(text, text, bigint, uuid, text, integer, jsonb, jsonb, uuid, uuid, bigint);
