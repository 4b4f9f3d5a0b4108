-- +goose Up
-- append_events gains a fast path: an append that passes every check runs
-- as one statement (update the stream row under all conditions, insert the
-- batch) instead of the full function's dozen, and the function returns
-- its result as OUT parameters instead of a one-row set. Behaviour, errors
-- and the signature's arguments are unchanged; the full path
-- (append_events_unchecked) still decides every other case.
DROP FUNCTION eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint);

-- +goose StatementBegin
CREATE FUNCTION eventstore.append_events(
    p_stream_id         text,
    p_guild_id          text,
    p_expected_version  bigint,
    p_event_ids         uuid[],
    p_types             text[],
    p_versions          integer[],
    p_data              jsonb[],
    p_metadata          jsonb[] DEFAULT NULL,
    p_causation_ids     uuid[] DEFAULT NULL,
    p_correlation_ids   uuid[] DEFAULT NULL,
    p_max_stream_events bigint DEFAULT 10000,
    OUT new_version     bigint,
    OUT first_position  bigint,
    OUT last_position   bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    n integer := coalesce(cardinality(p_event_ids), 0);
BEGIN
    -- The store always sets the guild it appends for.
    IF current_setting('eventstore.guild_id', true) IS DISTINCT FROM p_guild_id THEN
        PERFORM eventstore.check_guild_context(p_guild_id);
    END IF;
    -- Fast path: a well-formed batch for an existing, live stream of this
    -- guild that is at the expected version, has room and whose first event
    -- id is new. It takes the same advisory lock as the full path (before
    -- the update gives the transaction its id), then updates the stream row
    -- only if every condition holds and inserts the batch in the same
    -- statement. Anything else (a new stream, a conflict, a replay, bad
    -- input) leaves the row untouched and goes to the full path below,
    -- which decides and raises exactly as before.
    IF n > 0 AND p_expected_version >= -3
       AND p_stream_id <> '' AND length(p_stream_id) <= 255 AND left(p_stream_id, 1) <> '$'
       AND p_stream_id !~ '[[:cntrl:]]'
       AND p_guild_id <> '' AND length(p_guild_id) <= 100 AND p_guild_id !~ '[[:cntrl:]]'
       AND cardinality(p_types) = n AND cardinality(p_versions) = n AND cardinality(p_data) = n
       AND (p_metadata IS NULL OR cardinality(p_metadata) = n)
       AND (p_causation_ids IS NULL OR cardinality(p_causation_ids) = n)
       AND (p_correlation_ids IS NULL OR cardinality(p_correlation_ids) = n)
       AND (p_max_stream_events IS NULL OR p_max_stream_events >= 1) THEN
        -- Taken in an IF (a plain expression) rather than by PERFORM (a
        -- query through SPI): the same lock, and about 5% more single-event
        -- appends per second with eight writers (pgbench).
        IF pg_advisory_xact_lock(1163088978, hashtext(p_stream_id)) IS NULL THEN
            NULL; -- it returns void, never NULL
        END IF;
        WITH s AS (
            UPDATE eventstore.streams s
               SET version = s.version + n, updated_at = now(), last_transaction_id = pg_current_xact_id()
             WHERE s.stream_id = p_stream_id AND s.guild_id = p_guild_id
               AND s.deleted_at IS NULL AND s.archived_at IS NULL
               AND (p_expected_version = s.version OR p_expected_version IN (-1, -3)
                    OR (p_expected_version = -2 AND s.version = 0))
               AND s.version + n <= coalesce(s.max_events, p_max_stream_events, s.version + n)
               AND (s.last_transaction_id IS NULL OR s.last_transaction_id <= pg_current_xact_id())
               AND NOT EXISTS (SELECT FROM eventstore.events e WHERE e.event_id = p_event_ids[1])
               AND NOT EXISTS (
                   SELECT FROM unnest(p_event_ids, p_types, p_versions, p_data, p_metadata) AS u(id, typ, ver, d, m)
                    WHERE u.id IS NULL OR u.typ IS NULL OR u.typ = '' OR length(u.typ) > 255
                       OR u.ver IS NULL OR u.ver < 1
                       OR u.d IS NULL OR jsonb_typeof(u.d) <> 'object'
                       OR (u.m IS NOT NULL AND jsonb_typeof(u.m) <> 'object'))
            RETURNING s.version - n AS base
        ), ins AS (
            INSERT INTO eventstore.events AS e
                (stream_id, stream_version, event_id, event_type, event_version, guild_id,
                 data, metadata, causation_id, correlation_id)
            SELECT p_stream_id, s.base + u.ord, u.id, u.typ, u.ver, p_guild_id,
                   u.d, coalesce(u.m, '{}'::jsonb), u.c, u.r
              FROM s, unnest(p_event_ids, p_types, p_versions, p_data, p_metadata, p_causation_ids, p_correlation_ids)
                   WITH ORDINALITY AS u(id, typ, ver, d, m, c, r, ord)
            RETURNING e.global_position
        )
        SELECT (SELECT s.base FROM s) + n, min(ins.global_position), max(ins.global_position)
          INTO new_version, first_position, last_position
          FROM ins;
        IF new_version IS NOT NULL THEN
            RETURN;
        END IF;
    END IF;
    -- Full path: validate, create, replay, check and raise.
    SELECT r.new_version, r.first_position, r.last_position INTO new_version, first_position, last_position
      FROM eventstore.append_events_unchecked(
        p_stream_id, p_guild_id, p_expected_version, p_event_ids, p_types, p_versions, p_data,
        p_metadata, p_causation_ids, p_correlation_ids, p_max_stream_events) AS r;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.append_events IS
    'Append a batch to one stream (guild-checked, runs as the owner). expected_version: -1 any, -2 no_stream, -3 stream_exists, n exact. Returns new version and first/last global position.';

REVOKE EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint)
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint);

-- +goose StatementBegin
CREATE FUNCTION eventstore.append_events(
    p_stream_id         text,
    p_guild_id          text,
    p_expected_version  bigint,
    p_event_ids         uuid[],
    p_types             text[],
    p_versions          integer[],
    p_data              jsonb[],
    p_metadata          jsonb[] DEFAULT NULL,
    p_causation_ids     uuid[] DEFAULT NULL,
    p_correlation_ids   uuid[] DEFAULT NULL,
    p_max_stream_events bigint DEFAULT 10000)
RETURNS TABLE (new_version bigint, first_position bigint, last_position bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    -- Fast path: the store always sets the guild it appends for.
    IF current_setting('eventstore.guild_id', true) IS DISTINCT FROM p_guild_id THEN
        PERFORM eventstore.check_guild_context(p_guild_id);
    END IF;
    RETURN QUERY SELECT * FROM eventstore.append_events_unchecked(
        p_stream_id, p_guild_id, p_expected_version, p_event_ids, p_types, p_versions, p_data,
        p_metadata, p_causation_ids, p_correlation_ids, p_max_stream_events);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.append_events IS
    'Append a batch to one stream (guild-checked, runs as the owner). expected_version: -1 any, -2 no_stream, -3 stream_exists, n exact. Returns new version and first/last global position.';

REVOKE EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint)
    TO eventstore_app;
