-- Writes: append, create and soft-delete streams.
--
-- Every write function here is SECURITY DEFINER (it runs as the schema
-- owner, since the application role may not write tables) and checks the
-- guild first (check_guild_context). A stream belongs to the guild that
-- created it. Per-stream writers are serialized by the stream row's lock,
-- which only these functions (running as the owner) can take: the
-- application role has no UPDATE privilege, so it cannot lock a stream row,
-- not even one of its own guild, outside them.
--
-- Expected versions: -1 any, -2 no_stream (no stream or version 0),
-- -3 stream_exists, n >= 0 exactly version n (store/expected.go).

-- +goose Up

-- check_expected_version raises the conflict (ES001, ES002, ES003) when a
-- stream's state is not what the caller expected, or ES008 for an expected
-- version that is none of the above. p_exists is false for a missing
-- stream. The caller has checked the guild: the DETAIL's actual version is
-- the caller's own guild's.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_expected_version(
    p_stream_id text, p_expected bigint, p_exists boolean, p_current bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    c_any           CONSTANT bigint := -1;
    c_no_stream     CONSTANT bigint := -2;
    c_stream_exists CONSTANT bigint := -3;
    v_detail jsonb := jsonb_build_object(
        'stream_id', p_stream_id, 'expected', p_expected,
        'actual', CASE WHEN p_exists THEN p_current END);
BEGIN
    IF p_expected IS NULL OR p_expected < c_stream_exists THEN
        PERFORM eventstore.raise_error('ES008', format('invalid expected version %s', coalesce(p_expected::text, 'NULL')),
            jsonb_build_object('argument', 'expected_version', 'value', p_expected));
    ELSIF p_expected = c_any THEN
        RETURN;
    ELSIF p_expected = c_no_stream THEN
        IF p_exists AND p_current <> 0 THEN
            PERFORM eventstore.raise_error('ES003',
                format('stream %L already exists at version %s (expected no_stream)', p_stream_id, p_current), v_detail);
        END IF;
    ELSIF p_expected = c_stream_exists THEN
        IF NOT p_exists THEN
            PERFORM eventstore.raise_error('ES002',
                format('stream %L does not exist (expected stream_exists)', p_stream_id), v_detail);
        END IF;
    ELSIF NOT p_exists AND p_expected <> 0 THEN
        PERFORM eventstore.raise_error('ES001',
            format('stream %L does not exist, expected version %s', p_stream_id, p_expected), v_detail);
    ELSIF p_exists AND p_current <> p_expected THEN
        PERFORM eventstore.raise_error('ES001',
            format('stream %L is at version %s, expected %s', p_stream_id, p_current, p_expected), v_detail);
    END IF;
END;
$$;
-- +goose StatementEnd

-- lock_stream locks a stream of guild p_guild_id (any guild when NULL: the
-- admin path) and returns its row. It never locks another guild's row: it
-- raises ES009 when the id is taken by another guild (saying nothing else
-- about it), ES002 when no stream has the id (DETAIL: the caller's expected
-- version) and, with p_live, ES004 when the stream is soft-deleted.
-- +goose StatementBegin
CREATE FUNCTION eventstore.lock_stream(p_stream_id text, p_guild_id text, p_expected_version bigint, p_live boolean)
RETURNS eventstore.streams
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_stream eventstore.streams%ROWTYPE;
BEGIN
    SELECT * INTO v_stream FROM eventstore.streams s
     WHERE s.stream_id = p_stream_id AND (p_guild_id IS NULL OR s.guild_id = p_guild_id)
       FOR UPDATE;
    IF NOT FOUND THEN
        IF p_guild_id IS NOT NULL AND EXISTS (SELECT 1 FROM eventstore.streams s WHERE s.stream_id = p_stream_id) THEN
            PERFORM eventstore.raise_error('ES009', format('stream id %L is taken by another guild', p_stream_id),
                jsonb_build_object('stream_id', p_stream_id, 'guild_id', p_guild_id));
        END IF;
        PERFORM eventstore.raise_error('ES002', format('stream %L does not exist', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'expected', p_expected_version, 'actual', NULL));
    END IF;
    IF p_live AND v_stream.deleted_at IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES004', format('stream %L is deleted', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'deleted_at', v_stream.deleted_at));
    END IF;
    RETURN v_stream;
END;
$$;
-- +goose StatementEnd

-- append_events appends a batch of events to one stream of p_guild_id.
--
-- Fast path: an append to an existing, live stream of the guild that is at
-- the expected version and has room, or to a new stream (a valid id that
-- no stream has, no_stream, any or 0 expected, a batch within the limit),
-- whose row one INSERT creates at its new version (where the existing
-- stream's row is updated below). The events table's constraints check
-- each row (type, version, JSON objects) and its unique index checks the
-- event ids. With p_probe_ids (the default) the fast path locks the stream
-- row, looks the ids up (in the hot table and the archive), so that a
-- stored one takes the full path below and gets its exact answer, inserts
-- the batch and bumps the row. Without it (the store's own calls outside a
-- caller's transaction) one UPDATE checks, locks and bumps the row, and
-- the batch is inserted: two statements. A stored id then raises
-- unique_violation on events_event_id_key with nothing stored (for an id
-- in the archive, which the index does not cover, the function raises it
-- itself: it looks the ids up there after the insert, which also sees an
-- archiving that moved one of them while the insert waited for it in the
-- index), and the caller sends the batch again with the probe to learn
-- whether it was a replay. The duplicate check then costs nothing unless
-- something conflicts.
--
-- Full path (anything else): validate with precise errors, create a missing
-- stream, recognise an exact replay, check state, expected version, feed
-- order and limit, then insert. A batch is a replay only when all of its ids
-- are stored in this stream, in this order, at consecutive versions, where
-- the expected version puts them (exact n: from n+1; no_stream: from 1; any
-- and stream_exists: wherever they are); then the original result comes
-- back. Any other stored id is ES007 (or the version conflict, when the
-- expected version is wrong), and nothing is stored.
--
-- Feed order: the global feed orders events by (transaction_id,
-- global_position) and delivers an event only once every transaction with
-- an id up to its transaction_id has ended. An event's transaction_id is
-- its feed label: the id of the transaction that wrote it, raised to the
-- stream's last label when that is higher (a transaction that took its id
-- before the stream's previous writer did, such as a caller's transaction
-- or a writer that queued behind the row lock in another order). The label
-- is never below the writer's own id, so the horizon rule still holds, and
-- a stream's labels never go down, so the feed keeps every stream in
-- version order without refusing or retrying anyone.
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
    p_probe_ids         boolean DEFAULT true,
    OUT new_version     bigint,
    OUT first_position  bigint,
    OUT last_position   bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    c_any           CONSTANT bigint := -1;
    c_no_stream     CONSTANT bigint := -2;
    c_stream_exists CONSTANT bigint := -3;
    n              integer := coalesce(cardinality(p_event_ids), 0);
    v_stream       eventstore.streams%ROWTYPE;
    v_base         bigint;
    v_fast         boolean;
    v_exists       boolean;
    v_bad_ord      bigint;
    v_bad_reason   text;
    v_limit        bigint;
    v_stored       integer;
    v_replay_first bigint;
    v_replays      boolean;
    v_dup_id       uuid;
    v_dup_stream   text;
    v_dup_version  bigint;
    v_label        xid8;
BEGIN
    -- The store always sets the guild it appends for.
    IF current_setting('eventstore.guild_id', true) IS DISTINCT FROM p_guild_id THEN
        PERFORM eventstore.check_guild_context(p_guild_id);
    END IF;

    IF n > 0 AND p_expected_version >= c_stream_exists
       AND cardinality(p_types) = n AND cardinality(p_versions) = n AND cardinality(p_data) = n
       AND (p_metadata IS NULL OR cardinality(p_metadata) = n)
       AND (p_causation_ids IS NULL OR cardinality(p_causation_ids) = n)
       AND (p_correlation_ids IS NULL OR cardinality(p_correlation_ids) = n)
       AND (p_max_stream_events IS NULL OR p_max_stream_events >= 1) THEN
        IF p_probe_ids IS FALSE THEN
            -- One statement checks, locks and bumps the stream row (HOT: no
            -- indexed column changes). In READ COMMITTED a concurrent
            -- writer's update is waited for and the conditions are checked
            -- again on the row it left. No row: the full path says why.
            UPDATE eventstore.streams s
               SET version = s.version + n, updated_at = now(),
                   last_transaction_id = greatest(pg_current_xact_id(), s.last_transaction_id)
             WHERE s.stream_id = p_stream_id AND s.guild_id = p_guild_id
               AND s.deleted_at IS NULL AND s.archived_at IS NULL
               AND (p_expected_version = s.version OR p_expected_version = c_any
                    OR p_expected_version = c_stream_exists
                    OR (p_expected_version = c_no_stream AND s.version = 0))
               AND s.version + n <= coalesce(s.max_events, p_max_stream_events, s.version + n)
            RETURNING s.version - n, s.last_transaction_id INTO v_base, v_label;
            v_fast := FOUND;
            v_exists := NULL; -- unknown: the INSERT below tells
        ELSE
            SELECT * INTO v_stream FROM eventstore.streams s
             WHERE s.stream_id = p_stream_id AND s.guild_id = p_guild_id
               FOR NO KEY UPDATE;
            v_exists := FOUND;
            v_fast := FOUND AND v_stream.deleted_at IS NULL AND v_stream.archived_at IS NULL
               AND (p_expected_version = v_stream.version OR p_expected_version = c_any
                    OR p_expected_version = c_stream_exists
                    OR (p_expected_version = c_no_stream AND v_stream.version = 0))
               AND v_stream.version + n <= coalesce(v_stream.max_events, p_max_stream_events, v_stream.version + n)
               AND NOT EXISTS (SELECT FROM eventstore.events e WHERE e.event_id = ANY (p_event_ids))
               -- A stored or archived id takes the full path, which tells
               -- a replay from a duplicate.
               AND NOT EXISTS (SELECT FROM eventstore.events_archive a WHERE a.event_id = ANY (p_event_ids));
            IF v_fast THEN
                v_base := v_stream.version;
                v_label := greatest(pg_current_xact_id(), v_stream.last_transaction_id);
                -- No indexed column changes: a HOT update (see streams' fillfactor).
                UPDATE eventstore.streams s
                   SET version = v_base + n, updated_at = now(), last_transaction_id = v_label
                 WHERE s.stream_id = p_stream_id;
            END IF;
        END IF;
        -- A condition with a subquery or a function call runs through the
        -- executor, which sets up all of its parts (relations, indexes,
        -- subplans) before AND skips any: on the fast path such a test
        -- would cost as much as the lookups it skips. Hence the simple
        -- test first, here and before the archive lookup below.
        IF v_fast THEN
            NULL;
        ELSIF v_exists IS NOT TRUE AND p_expected_version IN (c_any, c_no_stream, 0)
           AND n <= coalesce(p_max_stream_events, n)
           AND eventstore.stream_id_problem(p_stream_id) IS NULL
           AND eventstore.guild_id_problem(p_guild_id) IS NULL
           AND (p_probe_ids IS FALSE
                OR (NOT EXISTS (SELECT FROM eventstore.events e WHERE e.event_id = ANY (p_event_ids))
                    AND NOT EXISTS (SELECT FROM eventstore.events_archive a WHERE a.event_id = ANY (p_event_ids)))) THEN
            -- A new stream: one INSERT creates its row at its new version.
            -- A row of the id (another guild's, a deleted or archived
            -- stream, or one created meanwhile: two creators cannot both
            -- win) takes the full path, which says why.
            INSERT INTO eventstore.streams AS s (stream_id, guild_id, version, last_transaction_id)
            VALUES (p_stream_id, p_guild_id, n, pg_current_xact_id())
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING 0::bigint, s.last_transaction_id INTO v_base, v_label;
            v_fast := FOUND;
        END IF;
        IF v_fast THEN
            IF n = 1 THEN
                INSERT INTO eventstore.events AS e
                    (transaction_id, stream_id, stream_version, event_id, event_type, event_version, guild_id,
                     data, metadata, causation_id, correlation_id)
                VALUES (v_label, p_stream_id, v_base + 1, p_event_ids[1], p_types[1], p_versions[1],
                        p_guild_id, p_data[1], coalesce(p_metadata[1], '{}'::jsonb), p_causation_ids[1],
                        p_correlation_ids[1])
                RETURNING e.global_position INTO first_position;
                last_position := first_position;
            ELSE
                WITH ins AS (
                    INSERT INTO eventstore.events AS e
                        (transaction_id, stream_id, stream_version, event_id, event_type, event_version, guild_id,
                         data, metadata, causation_id, correlation_id)
                    SELECT v_label, p_stream_id, v_base + u.ord, u.id, u.typ, u.ver, p_guild_id,
                           u.d, coalesce(u.m, '{}'::jsonb), u.c, u.r
                      FROM unnest(p_event_ids, p_types, p_versions, p_data, p_metadata, p_causation_ids,
                                  p_correlation_ids) WITH ORDINALITY AS u(id, typ, ver, d, m, c, r, ord)
                    RETURNING e.global_position
                )
                SELECT min(ins.global_position), max(ins.global_position) INTO first_position, last_position
                  FROM ins;
            END IF;
            -- The unique index covers the hot table only: look the ids up
            -- in the archive too, after the insert. An archiving that moved
            -- one of them out of the hot table while this insert waited for
            -- it in the index has committed by now, and this statement sees
            -- it (so does one of this stream, which held the row lock).
            IF p_probe_ids IS FALSE THEN
                IF EXISTS (SELECT FROM eventstore.events_archive a WHERE a.event_id = ANY (p_event_ids)) THEN
                    RAISE EXCEPTION 'an event id of the batch is stored in the archive'
                        USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_event_id_key';
                END IF;
            END IF;
            new_version := v_base + n;
            RETURN;
        END IF;
    END IF;

    -- Full path. 1. Arguments, with precise errors.
    PERFORM eventstore.check_stream_id(p_stream_id);
    PERFORM eventstore.check_guild_id(p_guild_id);
    IF p_expected_version IS NULL OR p_expected_version < c_stream_exists THEN
        PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, false, 0);
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
    IF (SELECT count(DISTINCT u.id) FROM unnest(p_event_ids) AS u(id)) <> n THEN
        PERFORM eventstore.raise_error('ES008', 'event ids repeat within the batch',
            jsonb_build_object('argument', 'events', 'reason', 'repeated event_id'));
    END IF;

    -- 2. Lock the guild's stream row, creating it when missing (ON CONFLICT:
    --    two creators cannot both win). Another guild's row is never locked.
    SELECT * INTO v_stream FROM eventstore.streams s
     WHERE s.stream_id = p_stream_id AND s.guild_id = p_guild_id FOR UPDATE;
    v_exists := FOUND;
    IF NOT v_exists THEN
        INSERT INTO eventstore.streams (stream_id, guild_id) VALUES (p_stream_id, p_guild_id)
            ON CONFLICT (stream_id) DO NOTHING;
        v_exists := NOT FOUND; -- created meanwhile by another append
        v_stream := eventstore.lock_stream(p_stream_id, p_guild_id, p_expected_version, false);
    END IF;

    -- 3. Stored ids: an exact replay returns the original result.
    SELECT count(*), min(x.stream_version - x.ord) + 1,
           bool_and(x.stream_id = p_stream_id) AND min(x.stream_version - x.ord) = max(x.stream_version - x.ord)
      INTO v_stored, v_replay_first, v_replays
      FROM (SELECT e.stream_id, e.stream_version, u.ord
              FROM unnest(p_event_ids) WITH ORDINALITY AS u(id, ord)
              JOIN eventstore.events e ON e.event_id = u.id
            UNION ALL
            SELECT a.stream_id, a.stream_version, u.ord
              FROM unnest(p_event_ids) WITH ORDINALITY AS u(id, ord)
              JOIN eventstore.events_archive a ON a.event_id = u.id) AS x;
    IF v_stored > 0 THEN
        IF v_stored = n AND v_replays
           AND (p_expected_version IN (c_any, c_stream_exists)
                OR (p_expected_version = c_no_stream AND v_replay_first = 1)
                OR (p_expected_version >= 0 AND v_replay_first = p_expected_version + 1)) THEN
            new_version := v_replay_first + n - 1;
            SELECT min(x.global_position), max(x.global_position) INTO first_position, last_position
              FROM (SELECT e.global_position FROM eventstore.events e
                     WHERE e.stream_id = p_stream_id AND e.stream_version BETWEEN v_replay_first AND new_version
                    UNION ALL
                    SELECT a.global_position FROM eventstore.events_archive a
                     WHERE a.stream_id = p_stream_id AND a.stream_version BETWEEN v_replay_first AND new_version) AS x;
            RETURN;
        END IF;
        -- Not a replay: a wrong expected version is the conflict; otherwise
        -- the first stored id is the duplicate. Where it is stored is said
        -- only when it is the caller's own guild's.
        PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, v_exists, v_stream.version);
        SELECT x.id, x.stream_id, x.stream_version INTO v_dup_id, v_dup_stream, v_dup_version
          FROM (SELECT u.id, u.ord, e.stream_id, e.stream_version, e.guild_id
                  FROM unnest(p_event_ids) WITH ORDINALITY AS u(id, ord) JOIN eventstore.events e ON e.event_id = u.id
                UNION ALL
                SELECT u.id, u.ord, a.stream_id, a.stream_version, a.guild_id
                  FROM unnest(p_event_ids) WITH ORDINALITY AS u(id, ord) JOIN eventstore.events_archive a ON a.event_id = u.id
               ) AS x
         ORDER BY x.ord LIMIT 1;
        IF v_dup_stream IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM eventstore.streams s WHERE s.stream_id = v_dup_stream AND s.guild_id = p_guild_id) THEN
            v_dup_stream := NULL;
            v_dup_version := NULL;
        END IF;
        PERFORM eventstore.raise_error('ES007',
            CASE WHEN v_dup_stream IS NULL THEN format('event id %s is already taken', v_dup_id)
                 ELSE format('event %s is already stored in stream %L at version %s', v_dup_id, v_dup_stream, v_dup_version) END,
            jsonb_strip_nulls(jsonb_build_object('stream_id', p_stream_id, 'event_id', v_dup_id,
                               'stored_stream_id', v_dup_stream, 'stored_version', v_dup_version)));
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
    PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, v_exists, v_stream.version);

    -- 5. Size limit.
    v_limit := coalesce(v_stream.max_events, p_max_stream_events);
    IF v_limit IS NOT NULL AND v_stream.version + n > v_limit THEN
        PERFORM eventstore.raise_error('ES006',
            format('stream %L would exceed its limit of %s events (version %s + %s)', p_stream_id, v_limit, v_stream.version, n),
            jsonb_build_object('stream_id', p_stream_id, 'limit', v_limit, 'version', v_stream.version, 'batch', n));
    END IF;

    -- 6. Insert and bump, labelled for the feed (see above).
    v_label := greatest(pg_current_xact_id(), v_stream.last_transaction_id);
    WITH ins AS (
        INSERT INTO eventstore.events AS e
            (transaction_id, stream_id, stream_version, event_id, event_type, event_version, guild_id,
             data, metadata, causation_id, correlation_id)
        SELECT v_label, p_stream_id, v_stream.version + u.ord, u.id, u.typ, u.ver, p_guild_id,
               u.d, coalesce(u.m, '{}'::jsonb), u.c, u.r
          FROM unnest(p_event_ids, p_types, p_versions, p_data, p_metadata, p_causation_ids, p_correlation_ids)
               WITH ORDINALITY AS u(id, typ, ver, d, m, c, r, ord)
        RETURNING e.global_position
    )
    SELECT min(ins.global_position), max(ins.global_position) INTO first_position, last_position FROM ins;

    UPDATE eventstore.streams s
       SET version = v_stream.version + n, updated_at = now(), last_transaction_id = v_label
     WHERE s.stream_id = p_stream_id;
    new_version := v_stream.version + n;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.append_events IS
    'Append a batch to one stream of a guild (guild-checked, runs as the owner). expected_version: -1 any, -2 no_stream, -3 stream_exists, n exact. Returns the new version and the first/last global position.';


-- append_batch runs many appends of one guild in one statement: the
-- store's coalesced appends (group commit), one transaction and one commit
-- for appends that would otherwise each pay for their own. Call i appends
-- p_counts[i] events, taken in order from the event arrays, to
-- p_stream_ids[i] at p_expected[i], exactly as append_events would, and
-- calls on one stream take effect in call order. Returns one row per call,
-- in call order: the append's result, or its error (SQLSTATE, message,
-- DETAIL, constraint and table, as append_events would have raised it). At
-- most 1000 calls per statement.
--
-- Three plain statements and a loop, no subtransaction on the way: one
-- statement locks the guild's stream rows the calls name (in stream id
-- order, bytewise, so two batches cannot deadlock each other) and reads
-- them into arrays; a loop over the calls, in call order, decides which
-- pass the fast path's checks (a live stream of the guild, or a new one
-- with a valid id, at the expected version once the earlier calls of the
-- batch are counted, with room, every earlier call on the stream passing
-- too); an INSERT creates the new streams' rows (in id order too), when
-- there are any; and one statement stores every passing call's events and
-- moves each existing stream row on once. A call that does not pass runs
-- afterwards through append_events in a subtransaction of its own, so
-- that its failure fails it alone. A stored event id among the fast calls
-- fails the statement (unique_violation on events_event_id_key), and so
-- does one that an archiving moved to the archive while the INSERT waited
-- for it (an id archived before is every call's to append_events): the
-- store then sends each call alone, and append_events tells a replay from
-- a duplicate.
--
-- (The decisions were one statement of chained CTEs before: the executor
-- set up its thirty-odd nodes and their expressions on every call. See
-- docs/PERFORMANCE.md, "A flush as plain statements".)
-- +goose StatementBegin
CREATE FUNCTION eventstore.append_batch(
    p_guild_id          text,
    p_stream_ids        text[],
    p_expected          bigint[],
    p_counts            integer[],
    p_event_ids         uuid[],
    p_types             text[],
    p_versions          integer[],
    p_data              jsonb[],
    p_metadata          jsonb[] DEFAULT NULL,
    p_causation_ids     uuid[] DEFAULT NULL,
    p_correlation_ids   uuid[] DEFAULT NULL,
    p_max_stream_events bigint DEFAULT 10000,
    OUT call_index       integer,
    OUT new_version      bigint,
    OUT first_position   bigint,
    OUT last_position    bigint,
    OUT error_code       text,
    OUT error_message    text,
    OUT error_detail     text,
    OUT error_constraint text,
    OUT error_table      text)
RETURNS SETOF record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
-- Generic plans: the statements take their arrays as parameters, and
-- planning them for each call's values costs more than running them.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    c_max_calls CONSTANT integer := 1000;
    v_calls    integer := coalesce(cardinality(p_stream_ids), 0);
    v_total    integer := coalesce(cardinality(p_event_ids), 0);
    v_xid      xid8;
    v_sum      integer := 0;
    v_n        integer;
    v_exp      bigint;
    v_base     bigint;
    v_pass     boolean;
    v_guild_ok boolean;
    v_created  text[];
    v_pos      bigint[];
    v_off      integer := 0;
    j          integer;
    -- The streams the calls name, locked: first the guild's rows found, in
    -- id order, then the new ones in the order the calls name them.
    s_id    text[];
    s_ver   bigint[];   -- the version after the batch's passing calls so far
    s_lim   bigint[];
    s_live  boolean[];
    s_label xid8[];     -- the feed label of the stream's new events
    s_ok    boolean[];  -- every call on it so far passed
    s_new   boolean[];  -- not found: the batch creates it
    s_hit   boolean[];  -- a call on it passed
    -- per call, in call order. The function's own arrays run from 1; the
    -- caller's are read by subscript only, whatever their bounds, so that a
    -- call's events go where its checks were made.
    c_fast  boolean[];
    c_n     integer[];
    c_from  integer[];
    c_sj    integer[];  -- its stream's index in s_*
    r_new   bigint[];
    r_first bigint[];
    r_last  bigint[];
    r_code   text[] := '{}'::text[];
    r_msg    text[] := '{}'::text[];
    r_detail text[] := '{}'::text[];
    r_constr text[] := '{}'::text[];
    r_table  text[] := '{}'::text[];
    r       record;
BEGIN
    IF current_setting('eventstore.guild_id', true) IS DISTINCT FROM p_guild_id THEN
        PERFORM eventstore.check_guild_context(p_guild_id);
    END IF;
    IF v_calls BETWEEN 1 AND c_max_calls
       AND cardinality(p_expected) = v_calls AND cardinality(p_counts) = v_calls THEN
        c_from := array_fill(0, ARRAY[v_calls]);
        c_n := c_from;
        FOR i IN 1 .. v_calls LOOP
            v_n := p_counts[i];
            IF v_n IS NULL OR v_n < 1 THEN
                v_sum := -1;
                EXIT;
            END IF;
            c_n[i] := v_n;
            c_from[i] := v_sum + 1;
            v_sum := v_sum + v_n;
        END LOOP;
    END IF;
    IF c_from IS NULL OR v_sum <> v_total THEN
        PERFORM eventstore.raise_error('ES008',
            format('invalid batch of appends: 1 to %s calls, each with its expected version and a count of at least 1 event, the counts adding up to the events given', c_max_calls),
            jsonb_build_object('argument', 'events', 'value', v_calls));
    END IF;
    c_fast := array_fill(false, ARRAY[v_calls]);
    r_new := array_fill(NULL::bigint, ARRAY[v_calls]);
    r_first := r_new;
    r_last := r_new;

    -- Arrays of other lengths, an invalid limit or an archived id (the
    -- unique index covers the hot table only): append_events, call by
    -- call, says what is wrong or tells a replay.
    IF cardinality(p_types) = v_total AND cardinality(p_versions) = v_total AND cardinality(p_data) = v_total
       AND (p_metadata IS NULL OR cardinality(p_metadata) = v_total)
       AND (p_causation_ids IS NULL OR cardinality(p_causation_ids) = v_total)
       AND (p_correlation_ids IS NULL OR cardinality(p_correlation_ids) = v_total)
       AND (p_max_stream_events IS NULL OR p_max_stream_events >= 1)
       AND NOT EXISTS (SELECT FROM eventstore.events_archive a WHERE a.event_id = ANY (p_event_ids)) THEN
        v_xid := pg_current_xact_id();
        SELECT array_agg(x.stream_id), array_agg(x.version), array_agg(x.lim), array_agg(x.live),
               array_agg(x.label)
          INTO s_id, s_ver, s_lim, s_live, s_label
          FROM (SELECT s.stream_id, s.version, coalesce(s.max_events, p_max_stream_events) AS lim,
                       s.deleted_at IS NULL AND s.archived_at IS NULL AS live,
                       greatest(v_xid, s.last_transaction_id) AS label
                  FROM eventstore.streams s
                 WHERE s.stream_id = ANY (p_stream_ids) AND s.guild_id = p_guild_id
                 ORDER BY s.stream_id COLLATE "C"
                   FOR NO KEY UPDATE) AS x;
        s_id := coalesce(s_id, '{}'::text[]);
        s_ok := array_fill(true, ARRAY[cardinality(s_id)]);
        s_new := array_fill(false, ARRAY[cardinality(s_id)]);
        s_hit := s_new;
        c_sj := array_fill(0, ARRAY[v_calls]);
        FOR i IN 1 .. v_calls LOOP
            j := array_position(s_id, p_stream_ids[i]);
            IF j IS NULL THEN
                -- A new stream: append_events' rules for its first call
                -- (its row is created below); its later calls see it.
                IF v_guild_ok IS NULL THEN
                    v_guild_ok := eventstore.guild_id_problem(p_guild_id) IS NULL;
                END IF;
                CONTINUE WHEN NOT v_guild_ok OR p_stream_ids[i] IS NULL
                    OR eventstore.stream_id_problem(p_stream_ids[i]) IS NOT NULL;
                j := cardinality(s_id) + 1;
                s_id[j] := p_stream_ids[i];
                s_ver[j] := 0;
                s_lim[j] := p_max_stream_events;
                s_live[j] := true;
                s_label[j] := v_xid;
                s_ok[j] := true;
                s_new[j] := true;
                s_hit[j] := false;
            END IF;
            CONTINUE WHEN NOT s_ok[j];
            v_n := c_n[i];
            v_exp := p_expected[i];
            v_base := s_ver[j];
            IF s_new[j] THEN
                v_pass := v_exp = v_base OR v_exp = -1 OR (v_exp = -3 AND v_base > 0) OR (v_exp = -2 AND v_base = 0);
            ELSE
                v_pass := s_live[j] AND (v_exp = v_base OR v_exp = -1 OR v_exp = -3 OR (v_exp = -2 AND v_base = 0));
            END IF;
            IF v_pass AND (s_lim[j] IS NULL OR v_base + v_n <= s_lim[j]) THEN
                c_fast[i] := true;
                c_sj[i] := j;
                r_new[i] := v_base + v_n;
                s_ver[j] := v_base + v_n;
                s_hit[j] := true;
            ELSE
                s_ok[j] := false; -- this call and the stream's later ones: append_events
            END IF;
        END LOOP;

        IF true = ANY (s_new) THEN
            -- The new streams' rows, at their new versions, in id order. A
            -- row of the id that this transaction could not see (another
            -- guild's, or one created meanwhile: two creators cannot both
            -- win) leaves the stream's calls to append_events, which says
            -- why.
            WITH created AS (
                INSERT INTO eventstore.streams AS s (stream_id, guild_id, version, last_transaction_id)
                SELECT u.sid, p_guild_id, u.v, v_xid
                  FROM unnest(s_id, s_ver, s_new, s_hit) AS u(sid, v, nw, hit)
                 WHERE u.nw AND u.hit
                 ORDER BY u.sid COLLATE "C"
                ON CONFLICT (stream_id) DO NOTHING
                RETURNING s.stream_id)
            SELECT coalesce(array_agg(created.stream_id), '{}'::text[]) INTO v_created FROM created;
            FOR i IN 1 .. v_calls LOOP
                IF c_fast[i] AND s_new[c_sj[i]] AND NOT s_id[c_sj[i]] = ANY (v_created) THEN
                    c_fast[i] := false;
                    r_new[i] := NULL;
                END IF;
            END LOOP;
        END IF;

        IF true = ANY (c_fast) THEN
            -- The passing calls' events, in call order (the positions,
            -- identity values drawn row by row, follow that order), and each
            -- existing stream row moved on once: no indexed column changes,
            -- a HOT update (see streams' fillfactor).
            WITH ins AS (
                INSERT INTO eventstore.events AS e
                    (transaction_id, stream_id, stream_version, event_id, event_type, event_version, guild_id,
                     data, metadata, causation_id, correlation_id)
                SELECT s_label[u.j], s_id[u.j], u.nv - u.n + k.k, p_event_ids[u.f + k.k - 1], p_types[u.f + k.k - 1],
                       p_versions[u.f + k.k - 1], p_guild_id, p_data[u.f + k.k - 1],
                       coalesce(p_metadata[u.f + k.k - 1], '{}'::jsonb), p_causation_ids[u.f + k.k - 1],
                       p_correlation_ids[u.f + k.k - 1]
                  FROM unnest(c_fast, c_sj, r_new, c_n, c_from) AS u(go, j, nv, n, f)
                 CROSS JOIN LATERAL generate_series(1, u.n) AS k(k)
                 WHERE u.go
                RETURNING e.global_position
            ), upd AS (
                UPDATE eventstore.streams s
                   SET version = u.v, updated_at = now(), last_transaction_id = u.label
                  FROM unnest(s_id, s_ver, s_label, s_hit, s_new) AS u(sid, v, label, hit, nw)
                 WHERE u.hit AND NOT u.nw AND s.stream_id = u.sid)
            SELECT array_agg(ins.global_position ORDER BY ins.global_position) INTO v_pos FROM ins;
            FOR i IN 1 .. v_calls LOOP
                CONTINUE WHEN NOT c_fast[i];
                r_first[i] := v_pos[v_off + 1];
                v_off := v_off + c_n[i];
                r_last[i] := v_pos[v_off];
            END LOOP;
            -- The unique index covers the hot table only: look the ids up in
            -- the archive too, after the insert. An archiving that moved one
            -- of them out of the hot table while the INSERT waited for it in
            -- the index has committed by now, and this lookup sees it.
            IF EXISTS (SELECT FROM eventstore.events_archive a WHERE a.event_id = ANY (p_event_ids)) THEN
                RAISE EXCEPTION 'an event id of the batch is stored in the archive'
                    USING ERRCODE = 'unique_violation', CONSTRAINT = 'events_event_id_key';
            END IF;
        END IF;
    END IF;

    -- The other calls, in call order, each in its own subtransaction.
    FOR i IN 1 .. v_calls LOOP
        CONTINUE WHEN c_fast[i];
        BEGIN
            SELECT a.new_version, a.first_position, a.last_position INTO r
              FROM eventstore.append_events(
                    p_stream_ids[i], p_guild_id, p_expected[i],
                    p_event_ids[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_types[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_versions[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_data[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_metadata[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_causation_ids[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_correlation_ids[c_from[i] : c_from[i] + p_counts[i] - 1],
                    p_max_stream_events, true) AS a;
            r_new[i] := r.new_version;
            r_first[i] := r.first_position;
            r_last[i] := r.last_position;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT,
                error_detail = PG_EXCEPTION_DETAIL, error_constraint = CONSTRAINT_NAME, error_table = TABLE_NAME;
            r_code[i] := error_code; r_msg[i] := error_message; r_detail[i] := error_detail;
            r_constr[i] := error_constraint; r_table[i] := error_table;
        END;
    END LOOP;

    FOR i IN 1 .. v_calls LOOP
        call_index := i;
        new_version := r_new[i]; first_position := r_first[i]; last_position := r_last[i];
        error_code := r_code[i]; error_message := r_msg[i]; error_detail := r_detail[i];
        error_constraint := r_constr[i]; error_table := r_table[i];
        RETURN NEXT;
    END LOOP;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.append_batch IS
    'Run many appends of one guild in one statement and transaction, each in its own subtransaction (guild-checked, runs as the owner). Returns each call''s result or error, in call order.';

-- create_stream registers an empty stream (version 0) for a guild.
-- +goose StatementBegin
CREATE FUNCTION eventstore.create_stream(p_stream_id text, p_guild_id text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_version bigint;
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    PERFORM eventstore.check_stream_id(p_stream_id);
    PERFORM eventstore.check_guild_id(p_guild_id);
    INSERT INTO eventstore.streams (stream_id, guild_id) VALUES (p_stream_id, p_guild_id)
        ON CONFLICT (stream_id) DO NOTHING;
    IF NOT FOUND THEN
        SELECT s.version INTO v_version FROM eventstore.streams s
         WHERE s.stream_id = p_stream_id AND s.guild_id = p_guild_id;
        IF NOT FOUND THEN
            PERFORM eventstore.raise_error('ES009', format('stream id %L is taken by another guild', p_stream_id),
                jsonb_build_object('stream_id', p_stream_id, 'guild_id', p_guild_id));
        END IF;
        PERFORM eventstore.raise_error('ES003', format('stream %L already exists', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'expected', -2, 'actual', v_version));
    END IF;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.create_stream IS
    'Register an empty stream (version 0) for a guild (guild-checked, runs as the owner).';

-- delete_stream soft-deletes a stream at the expected version: its events
-- stay, but it can no longer be read or appended to. A NULL guild means the
-- transaction's guild; with neither, only an admin may delete (any guild's
-- stream). Returns the stream's version.
-- +goose StatementBegin
CREATE FUNCTION eventstore.delete_stream(p_stream_id text, p_guild_id text, p_expected_version bigint)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild  text := coalesce(p_guild_id, nullif(current_setting('eventstore.guild_id', true), ''));
    v_stream eventstore.streams%ROWTYPE;
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    PERFORM eventstore.check_stream_id(p_stream_id);
    v_stream := eventstore.lock_stream(p_stream_id, v_guild, p_expected_version, true);
    PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, true, v_stream.version);
    UPDATE eventstore.streams s SET deleted_at = now(), updated_at = now() WHERE s.stream_id = p_stream_id;
    RETURN v_stream.version;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.delete_stream IS
    'Soft-delete a stream at the expected version (guild-checked, runs as the owner). Returns its version.';

REVOKE ALL ON FUNCTION
    eventstore.append_batch(text, text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint),
    eventstore.delete_stream(text, text, bigint),
    eventstore.create_stream(text, text),
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint, boolean),
    eventstore.lock_stream(text, text, bigint, boolean),
    eventstore.check_expected_version(text, bigint, boolean, bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.append_batch(text, text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint),
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint, boolean),
    eventstore.create_stream(text, text),
    eventstore.delete_stream(text, text, bigint)
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.append_batch(text, text[], bigint[], integer[], uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint);
DROP FUNCTION eventstore.delete_stream(text, text, bigint);
DROP FUNCTION eventstore.create_stream(text, text);
DROP FUNCTION eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint, boolean);
DROP FUNCTION eventstore.lock_stream(text, text, bigint, boolean);
DROP FUNCTION eventstore.check_expected_version(text, bigint, boolean, bigint);
