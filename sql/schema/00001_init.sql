-- Core event store: streams, events, the append/delete functions and the
-- immutability guard.
--
-- Errors raised here use our own SQLSTATE codes (class "ES"); store/errors.go
-- maps each one to a Go sentinel. DETAIL carries a JSON object with the
-- values involved, so both Go and a psql user can read them.
--
--   ES001 wrong_expected_version   ES006 stream_full
--   ES002 stream_not_found         ES007 duplicate_event
--   ES003 stream_exists            ES008 invalid_argument
--   ES004 stream_deleted           ES009 guild_mismatch
--   ES005 stream_archived          ES010 event_immutable

-- +goose Up
CREATE SCHEMA IF NOT EXISTS eventstore;

COMMENT ON SCHEMA eventstore IS 'GameBot event store: streams of versioned, immutable domain events';

CREATE TABLE eventstore.streams (
    stream_id   text        PRIMARY KEY,
    guild_id    text        NOT NULL,
    version     bigint      NOT NULL DEFAULT 0 CHECK (version >= 0),
    max_events  bigint      CHECK (max_events > 0),
    last_transaction_id xid8,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    archived_at timestamptz
);

COMMENT ON TABLE eventstore.streams IS 'One row per stream; version = number of events = last stream_version';
COMMENT ON COLUMN eventstore.streams.max_events IS 'Per-stream override of the event limit (NULL = the store''s limit)';
COMMENT ON COLUMN eventstore.streams.last_transaction_id IS 'Transaction of the last append; keeps a stream''s events in version order in the feed';

CREATE INDEX streams_guild_idx ON eventstore.streams (guild_id, stream_id);

CREATE TABLE eventstore.events (
    global_position bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    event_version   integer     NOT NULL CHECK (event_version >= 1),
    guild_id        text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    causation_id    uuid,
    correlation_id  uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

COMMENT ON TABLE eventstore.events IS 'Immutable event log; written only through eventstore.append_events';
COMMENT ON COLUMN eventstore.events.transaction_id IS 'Writing transaction; the global feed orders by (transaction_id, global_position)';

CREATE INDEX events_feed_idx ON eventstore.events (transaction_id, global_position);

-- raise_error raises one of our ES… conditions with a JSON DETAIL.
-- +goose StatementBegin
CREATE FUNCTION eventstore.raise_error(p_code text, p_message text, p_detail jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message, DETAIL = p_detail::text;
END;
$$;
-- +goose StatementEnd

-- check_expected_version compares a stream's state with what the caller
-- expected: -1 any, -2 no_stream (no row or version 0), -3 stream_exists,
-- n >= 0 exactly version n.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_expected_version(
    p_stream_id text, p_expected bigint, p_exists boolean, p_current bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    v_detail jsonb := jsonb_build_object(
        'stream_id', p_stream_id, 'expected', p_expected,
        'actual', CASE WHEN p_exists THEN p_current ELSE NULL END);
BEGIN
    IF p_expected = -1 THEN
        RETURN;
    ELSIF p_expected = -2 THEN
        IF p_exists AND p_current <> 0 THEN
            PERFORM eventstore.raise_error('ES003',
                format('stream %L already exists at version %s (expected no_stream)', p_stream_id, p_current), v_detail);
        END IF;
    ELSIF p_expected = -3 THEN
        IF NOT p_exists THEN
            PERFORM eventstore.raise_error('ES002',
                format('stream %L does not exist (expected stream_exists)', p_stream_id), v_detail);
        END IF;
    ELSIF p_expected >= 0 THEN
        IF coalesce(p_current, 0) <> p_expected OR (NOT p_exists AND p_expected <> 0) THEN
            PERFORM eventstore.raise_error('ES001',
                format('stream %L is at version %s, expected %s', p_stream_id,
                       CASE WHEN p_exists THEN p_current::text ELSE 'no_stream' END, p_expected), v_detail);
        END IF;
    ELSE
        PERFORM eventstore.raise_error('ES008',
            format('invalid expected version %s', p_expected),
            jsonb_build_object('argument', 'expected_version', 'value', p_expected));
    END IF;
END;
$$;
-- +goose StatementEnd

-- check_stream_id validates a stream id (1..255 characters, no control
-- characters, not starting with the reserved "$").
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_stream_id(p_stream_id text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    IF p_stream_id IS NULL OR p_stream_id = '' OR length(p_stream_id) > 255
       OR p_stream_id ~ '[[:cntrl:]]' OR left(p_stream_id, 1) = '$' THEN
        PERFORM eventstore.raise_error('ES008',
            'invalid stream id: must be 1 to 255 characters, no control characters, not starting with "$"',
            jsonb_build_object('argument', 'stream_id', 'value', left(p_stream_id, 300)));
    END IF;
END;
$$;
-- +goose StatementEnd

-- check_guild_id validates a guild id (1..100 characters, no control characters).
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_guild_id(p_guild_id text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    IF p_guild_id IS NULL OR p_guild_id = '' OR length(p_guild_id) > 100 OR p_guild_id ~ '[[:cntrl:]]' THEN
        PERFORM eventstore.raise_error('ES008',
            'invalid guild id: must be 1 to 100 characters, no control characters',
            jsonb_build_object('argument', 'guild_id', 'value', left(p_guild_id, 300)));
    END IF;
END;
$$;
-- +goose StatementEnd

-- append_events appends a batch of events to one stream in one call:
-- validate, lock (or create) the stream row, replay an identical earlier
-- batch, check the expected version and the size limit, insert, bump.
-- No sequence value is taken before every check has passed.
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
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    n             integer := coalesce(cardinality(p_event_ids), 0);
    v_stream      eventstore.streams%ROWTYPE;
    v_bad_ord     bigint;
    v_bad_reason  text;
    v_limit       bigint;
    v_first       bigint;
    v_last        bigint;
    v_dup_stream  text;
    v_dup_version bigint;
    v_matches     integer;
BEGIN
    -- 1. Arguments.
    -- The checks are inlined as plain expressions (cheap in plpgsql); the
    -- check_* functions run only to raise the precise error.
    IF p_stream_id IS NULL OR p_stream_id = '' OR length(p_stream_id) > 255
       OR p_stream_id ~ '[[:cntrl:]]' OR left(p_stream_id, 1) = '$' THEN
        PERFORM eventstore.check_stream_id(p_stream_id);
    END IF;
    IF p_guild_id IS NULL OR p_guild_id = '' OR length(p_guild_id) > 100 OR p_guild_id ~ '[[:cntrl:]]' THEN
        PERFORM eventstore.check_guild_id(p_guild_id);
    END IF;
    IF p_expected_version IS NULL OR p_expected_version < -3 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid expected version %s', p_expected_version),
            jsonb_build_object('argument', 'expected_version', 'value', p_expected_version));
    END IF;
    IF n = 0 THEN
        PERFORM eventstore.raise_error('ES008', 'empty batch: at least one event is required',
            jsonb_build_object('argument', 'events', 'value', 0));
    END IF;
    IF coalesce(cardinality(p_types), 0) <> n OR coalesce(cardinality(p_versions), 0) <> n
       OR coalesce(cardinality(p_data), 0) <> n
       OR (p_metadata IS NOT NULL AND cardinality(p_metadata) <> n)
       OR (p_causation_ids IS NOT NULL AND cardinality(p_causation_ids) <> n)
       OR (p_correlation_ids IS NOT NULL AND cardinality(p_correlation_ids) <> n) THEN
        PERFORM eventstore.raise_error('ES008', 'event arrays must all have the same length',
            jsonb_build_object('argument', 'events', 'value', n));
    END IF;
    IF p_max_stream_events IS NOT NULL AND p_max_stream_events < 1 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid stream limit %s', p_max_stream_events),
            jsonb_build_object('argument', 'max_stream_events', 'value', p_max_stream_events));
    END IF;
    SELECT u.ord,
           CASE
               WHEN u.id IS NULL THEN 'event_id is null'
               WHEN u.typ IS NULL OR u.typ = '' OR length(u.typ) > 255 THEN 'event_type must be 1 to 255 characters'
               WHEN u.ver IS NULL OR u.ver < 1 THEN 'event_version must be at least 1'
               WHEN u.d IS NULL OR jsonb_typeof(u.d) <> 'object' THEN 'data must be a JSON object'
               ELSE 'metadata must be a JSON object'
           END
      INTO v_bad_ord, v_bad_reason
      FROM unnest(p_event_ids, p_types, p_versions, p_data, p_metadata) WITH ORDINALITY AS u(id, typ, ver, d, m, ord)
     WHERE u.id IS NULL OR u.typ IS NULL OR u.typ = '' OR length(u.typ) > 255
        OR u.ver IS NULL OR u.ver < 1
        OR u.d IS NULL OR jsonb_typeof(u.d) <> 'object'
        OR (u.m IS NOT NULL AND jsonb_typeof(u.m) <> 'object')
     ORDER BY u.ord
     LIMIT 1;
    IF FOUND THEN
        PERFORM eventstore.raise_error('ES008', format('invalid event %s of %s: %s', v_bad_ord, n, v_bad_reason),
            jsonb_build_object('argument', 'events', 'index', v_bad_ord - 1, 'reason', v_bad_reason));
    END IF;

    -- 2. Serialize the stream's writers, then lock the stream row; create it
    --    when missing (ON CONFLICT so that two creators cannot both win, then
    --    re-select to take the lock).
    --    The transaction-level advisory lock comes first because taking it
    --    needs no transaction id: a plain append is given its id (by the row
    --    lock) only after the previous writer of the stream has committed, so
    --    its id is the newer one and the feed sees the stream in order (see
    --    step 5). The two-key form (class 1163088978 = 'ESTR') keeps these
    --    locks apart from single-key advisory locks (subscriptions, goose).
    PERFORM pg_advisory_xact_lock(1163088978, hashtext(p_stream_id));
    SELECT * INTO v_stream FROM eventstore.streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, false, 0);
        INSERT INTO eventstore.streams (stream_id, guild_id) VALUES (p_stream_id, p_guild_id)
            ON CONFLICT (stream_id) DO NOTHING;
        SELECT * INTO STRICT v_stream FROM eventstore.streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
    END IF;

    IF v_stream.guild_id <> p_guild_id THEN
        PERFORM eventstore.raise_error('ES009',
            format('stream %L belongs to another guild', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'guild_id', p_guild_id));
    END IF;

    -- 3. Idempotent replay: the same event ids already stored at the same
    --    positions of this stream return the original result.
    SELECT e.stream_id, e.stream_version INTO v_dup_stream, v_dup_version
      FROM eventstore.events e WHERE e.event_id = p_event_ids[1];
    IF FOUND THEN
        IF v_dup_stream = p_stream_id THEN
            SELECT count(*), min(e.global_position), max(e.global_position)
              INTO v_matches, v_first, v_last
              FROM unnest(p_event_ids) WITH ORDINALITY AS u(id, ord)
              JOIN eventstore.events e
                ON e.event_id = u.id AND e.stream_id = p_stream_id AND e.stream_version = v_dup_version + u.ord - 1;
            IF v_matches = n THEN
                RETURN QUERY SELECT v_dup_version + n - 1, v_first, v_last;
                RETURN;
            END IF;
        END IF;
        PERFORM eventstore.raise_error('ES007',
            format('event %s is already stored in stream %L at version %s', p_event_ids[1], v_dup_stream, v_dup_version),
            jsonb_build_object('stream_id', p_stream_id, 'event_id', p_event_ids[1],
                               'stored_stream_id', v_dup_stream, 'stored_version', v_dup_version));
    END IF;

    -- 4. Stream state and expected version.
    IF v_stream.deleted_at IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES004', format('stream %L is deleted', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'deleted_at', v_stream.deleted_at));
    END IF;
    IF v_stream.archived_at IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES005', format('stream %L is archived and read-only', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'archived_at', v_stream.archived_at));
    END IF;
    IF NOT (p_expected_version = -1 OR p_expected_version = -3 OR p_expected_version = v_stream.version
            OR (p_expected_version = -2 AND v_stream.version = 0)) THEN
        PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, true, v_stream.version);
    END IF;

    -- 5. Feed order within the stream. The feed orders by transaction id, so
    --    a transaction whose id is older than the stream's last writer must
    --    not append after it (it can happen to a transaction that took its id
    --    before another one appended and committed). Such a transaction is
    --    refused with serialization_failure: retried, it gets a newer id.
    IF v_stream.last_transaction_id IS NOT NULL AND v_stream.last_transaction_id > pg_current_xact_id() THEN
        RAISE EXCEPTION USING
            ERRCODE = '40001',
            MESSAGE = format('stream %L was appended to by a newer transaction; retry the transaction', p_stream_id),
            DETAIL = jsonb_build_object('stream_id', p_stream_id,
                                        'last_transaction_id', v_stream.last_transaction_id::text,
                                        'transaction_id', pg_current_xact_id()::text)::text,
            HINT = 'The global feed keeps each stream in version order; a retried transaction gets a newer transaction id.';
    END IF;

    -- 6. Size limit.
    v_limit := coalesce(v_stream.max_events, p_max_stream_events);
    IF v_limit IS NOT NULL AND v_stream.version + n > v_limit THEN
        PERFORM eventstore.raise_error('ES006',
            format('stream %L would exceed its limit of %s events (version %s + %s)', p_stream_id, v_limit, v_stream.version, n),
            jsonb_build_object('stream_id', p_stream_id, 'limit', v_limit, 'version', v_stream.version, 'batch', n));
    END IF;

    -- 7. Insert and bump.
    WITH ins AS (
        INSERT INTO eventstore.events AS e
            (stream_id, stream_version, event_id, event_type, event_version, guild_id,
             data, metadata, causation_id, correlation_id)
        SELECT p_stream_id, v_stream.version + u.ord, u.id, u.typ, u.ver, p_guild_id,
               u.d, coalesce(u.m, '{}'::jsonb), u.c, u.r
          FROM unnest(p_event_ids, p_types, p_versions, p_data, p_metadata, p_causation_ids, p_correlation_ids)
               WITH ORDINALITY AS u(id, typ, ver, d, m, c, r, ord)
        RETURNING e.global_position
    )
    SELECT min(ins.global_position), max(ins.global_position) INTO v_first, v_last FROM ins;

    UPDATE eventstore.streams s
       SET version = v_stream.version + n, updated_at = now(), last_transaction_id = pg_current_xact_id()
     WHERE s.stream_id = p_stream_id;

    RETURN QUERY SELECT v_stream.version + n, v_first, v_last;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.append_events IS
    'Append a batch to one stream. expected_version: -1 any, -2 no_stream, -3 stream_exists, n exact. Returns new version and first/last global position.';

-- create_stream registers an empty stream for a guild (version 0).
-- +goose StatementBegin
CREATE FUNCTION eventstore.create_stream(p_stream_id text, p_guild_id text)
RETURNS void
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    PERFORM eventstore.check_stream_id(p_stream_id);
    PERFORM eventstore.check_guild_id(p_guild_id);
    INSERT INTO eventstore.streams (stream_id, guild_id) VALUES (p_stream_id, p_guild_id)
        ON CONFLICT (stream_id) DO NOTHING;
    IF NOT FOUND THEN
        PERFORM eventstore.raise_error('ES003', format('stream %L already exists', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'expected', -2,
                'actual', (SELECT s.version FROM eventstore.streams s WHERE s.stream_id = p_stream_id)));
    END IF;
END;
$$;
-- +goose StatementEnd

-- lock_stream locks an existing stream's row for a lifecycle change and
-- returns it: ES002 when it does not exist (DETAIL carries the caller's
-- expected version), ES009 when p_guild_id is set and owns it not.
-- +goose StatementBegin
CREATE FUNCTION eventstore.lock_stream(p_stream_id text, p_guild_id text, p_expected_version bigint)
RETURNS eventstore.streams
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    v_stream eventstore.streams%ROWTYPE;
BEGIN
    SELECT * INTO v_stream FROM eventstore.streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM eventstore.raise_error('ES002', format('stream %L does not exist', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'expected', p_expected_version, 'actual', NULL));
    END IF;
    IF p_guild_id IS NOT NULL AND v_stream.guild_id <> p_guild_id THEN
        PERFORM eventstore.raise_error('ES009', format('stream %L belongs to another guild', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'guild_id', p_guild_id));
    END IF;
    RETURN v_stream;
END;
$$;
-- +goose StatementEnd

-- delete_stream soft-deletes a stream: its events stay, but it can no longer
-- be read or appended to. p_guild_id NULL skips the guild check (admin).
-- +goose StatementBegin
CREATE FUNCTION eventstore.delete_stream(p_stream_id text, p_guild_id text, p_expected_version bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    v_stream eventstore.streams%ROWTYPE;
BEGIN
    PERFORM eventstore.check_stream_id(p_stream_id);
    v_stream := eventstore.lock_stream(p_stream_id, p_guild_id, p_expected_version);
    IF v_stream.deleted_at IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES004', format('stream %L is deleted', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'deleted_at', v_stream.deleted_at));
    END IF;
    PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, true, v_stream.version);
    UPDATE eventstore.streams s SET deleted_at = now(), updated_at = now() WHERE s.stream_id = p_stream_id;
    RETURN v_stream.version;
END;
$$;
-- +goose StatementEnd

-- Events are immutable. Only explicit admin paths (hard delete, archive) set
-- eventstore.allow_event_mutation = on for their own transaction. The same
-- trigger function guards every table of events (the archive too).
-- +goose StatementBegin
CREATE FUNCTION eventstore.refuse_event_mutation()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    IF coalesce(current_setting('eventstore.allow_event_mutation', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'ES010',
        MESSAGE = format('events are immutable: %s on %I.%I is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
        HINT = 'Soft-delete, archive or hard-delete the stream through the store instead.';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER events_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.refuse_event_mutation();

-- +goose Down
DROP SCHEMA eventstore CASCADE;
