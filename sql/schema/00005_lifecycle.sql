-- Stream lifecycle: snapshots, per-stream limits, archive storage and hard
-- delete.
--
-- A stream lives hot (events in eventstore.events), may be snapshotted
-- (eventstore.snapshots holds its latest snapshot), may have the events a
-- snapshot covers moved to eventstore.events_archive ("truncate before"),
-- may be archived whole (all events moved, the stream read-only) and may be
-- deleted: softly (eventstore.delete_stream, events kept) or for good
-- (eventstore.hard_delete_stream, admin only).
--
-- The application role writes snapshots and stream limits only through
-- record_snapshot, delete_snapshot and set_stream_limit, which run as the
-- owner after eventstore.check_guild_context. Archiving and hard deletion
-- are maintenance: the application role may not execute them, and they
-- refuse (ES012) any role that is not an administrator.

-- +goose Up

-- record_snapshot stores the snapshot of a stream at p_stream_version.
-- It replaces the stored snapshot unless that one is more useful: a higher
-- schema version, or the same schema version at a higher stream version.
-- A snapshot may not claim a version beyond the stream's (ES011).
-- p_guild_id NULL means the transaction's guild (eventstore.guild_id); with
-- neither, only an admin may record (and the stream's guild is not checked).
-- +goose StatementBegin
CREATE FUNCTION eventstore.record_snapshot(
    p_stream_id      text,
    p_guild_id       text,
    p_stream_version bigint,
    p_snapshot_type  text,
    p_schema_version integer,
    p_data           jsonb,
    p_metadata       jsonb DEFAULT NULL)
RETURNS TABLE (stored boolean, stream_version bigint, schema_version integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild  text := coalesce(p_guild_id, nullif(current_setting('eventstore.guild_id', true), ''));
    v_stream eventstore.streams%ROWTYPE;
    v_kept   eventstore.snapshots%ROWTYPE;
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    PERFORM eventstore.check_stream_id(p_stream_id);
    IF p_stream_version IS NULL OR p_stream_version < 1 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid snapshot version %s: must be at least 1', p_stream_version),
            jsonb_build_object('argument', 'stream_version', 'value', p_stream_version));
    END IF;
    IF p_snapshot_type IS NULL OR p_snapshot_type = '' OR length(p_snapshot_type) > 255 THEN
        PERFORM eventstore.raise_error('ES008', 'invalid snapshot type: must be 1 to 255 characters',
            jsonb_build_object('argument', 'snapshot_type', 'value', left(p_snapshot_type, 300)));
    END IF;
    IF p_schema_version IS NULL OR p_schema_version < 1 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid snapshot schema version %s: must be at least 1', p_schema_version),
            jsonb_build_object('argument', 'schema_version', 'value', p_schema_version));
    END IF;
    IF p_data IS NULL OR jsonb_typeof(p_data) = 'null' THEN
        PERFORM eventstore.raise_error('ES008', 'snapshot data must not be null',
            jsonb_build_object('argument', 'snapshot_data', 'value', NULL));
    END IF;
    IF p_metadata IS NOT NULL AND jsonb_typeof(p_metadata) <> 'object' THEN
        PERFORM eventstore.raise_error('ES008', 'snapshot metadata must be a JSON object',
            jsonb_build_object('argument', 'snapshot_metadata', 'value', jsonb_typeof(p_metadata)));
    END IF;

    v_stream := eventstore.lock_stream(p_stream_id, v_guild, NULL, true);
    IF p_stream_version > v_stream.version THEN
        PERFORM eventstore.raise_error('ES011',
            format('snapshot of stream %L at version %s is beyond the stream''s version %s',
                   p_stream_id, p_stream_version, v_stream.version),
            jsonb_build_object('stream_id', p_stream_id, 'snapshot_version', p_stream_version,
                               'version', v_stream.version));
    END IF;

    INSERT INTO eventstore.snapshots AS sn
        (stream_id, guild_id, stream_version, snapshot_type, schema_version, data, metadata)
    VALUES (p_stream_id, v_stream.guild_id, p_stream_version, p_snapshot_type, p_schema_version,
            p_data, coalesce(p_metadata, '{}'::jsonb))
    ON CONFLICT ON CONSTRAINT snapshots_pkey DO UPDATE
        SET stream_version = excluded.stream_version,
            snapshot_type  = excluded.snapshot_type,
            schema_version = excluded.schema_version,
            data           = excluded.data,
            metadata       = excluded.metadata,
            created_at     = now()
      WHERE excluded.schema_version > sn.schema_version
         OR (excluded.schema_version = sn.schema_version AND excluded.stream_version >= sn.stream_version);
    IF FOUND THEN
        RETURN QUERY SELECT true, p_stream_version, p_schema_version;
        RETURN;
    END IF;
    SELECT * INTO STRICT v_kept FROM eventstore.snapshots sn WHERE sn.stream_id = p_stream_id;
    RETURN QUERY SELECT false, v_kept.stream_version, v_kept.schema_version;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.record_snapshot IS
    'Store the latest snapshot of a stream (kept: a higher schema version, or the same at a higher stream version). Returns whether it was stored and the snapshot now held.';

-- set_stream_limit sets (or, with NULL, clears) a stream's own event limit,
-- which takes precedence over the limit the store passes to append_events.
-- A limit below the current version is allowed: the stream then refuses
-- every append. p_guild_id NULL means the transaction's guild; with
-- neither, only an admin may set it.
-- +goose StatementBegin
CREATE FUNCTION eventstore.set_stream_limit(p_stream_id text, p_guild_id text, p_max_events bigint)
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
    IF p_max_events IS NOT NULL AND p_max_events < 1 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid stream limit %s: must be at least 1', p_max_events),
            jsonb_build_object('argument', 'max_events', 'value', p_max_events));
    END IF;
    v_stream := eventstore.lock_stream(p_stream_id, v_guild, NULL, true);
    UPDATE eventstore.streams s SET max_events = p_max_events WHERE s.stream_id = p_stream_id;
    RETURN v_stream.version;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.set_stream_limit IS
    'Set a stream''s own event limit (NULL clears it: the store''s limit applies again). Returns the stream version.';

-- delete_snapshot removes a stream's snapshot and reports whether there was
-- one. p_guild_id NULL means the transaction's guild; with neither, only an
-- admin may delete (any guild's snapshot).
-- +goose StatementBegin
CREATE FUNCTION eventstore.delete_snapshot(p_stream_id text, p_guild_id text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild text := coalesce(p_guild_id, nullif(current_setting('eventstore.guild_id', true), ''));
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    PERFORM eventstore.check_stream_id(p_stream_id);
    DELETE FROM eventstore.snapshots sn
     WHERE sn.stream_id = p_stream_id AND (v_guild IS NULL OR sn.guild_id = v_guild);
    RETURN FOUND;
END;
$$;
-- +goose StatementEnd

-- move_to_archive moves a stream's events with stream_version < p_before
-- (all of them when p_before is NULL) from eventstore.events to
-- eventstore.events_archive, in the caller's transaction. Internal: the
-- caller has locked the stream row and checked everything. It turns
-- eventstore.allow_event_mutation on (SET LOCAL) to pass the immutability
-- triggers and restores the previous value before returning, so the rest
-- of the caller's transaction stays guarded.
-- +goose StatementBegin
CREATE FUNCTION eventstore.move_to_archive(p_stream_id text, p_before bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_moved bigint;
    v_prev  text := current_setting('eventstore.allow_event_mutation', true);
BEGIN
    PERFORM eventstore.require_admin('archiving a stream');
    PERFORM pg_catalog.set_config('eventstore.allow_event_mutation', 'on', true);
    WITH moved AS (
        DELETE FROM eventstore.events e
         WHERE e.stream_id = p_stream_id AND (p_before IS NULL OR e.stream_version < p_before)
        RETURNING e.global_position, e.transaction_id, e.stream_id, e.stream_version, e.event_id,
                  e.event_type, e.event_version, e.guild_id, e.data, e.metadata,
                  e.causation_id, e.correlation_id, e.created_at
    )
    INSERT INTO eventstore.events_archive
        (global_position, transaction_id, stream_id, stream_version, event_id, event_type, event_version,
         guild_id, data, metadata, causation_id, correlation_id, created_at)
    SELECT * FROM moved;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    PERFORM pg_catalog.set_config('eventstore.allow_event_mutation', coalesce(v_prev, ''), true);
    RETURN v_moved;
END;
$$;
-- +goose StatementEnd

-- archive_stream archives a stream (admin only). With p_before NULL every
-- event moves to the archive and the stream becomes read-only (appends fail
-- with ES005); reads keep working. With p_before = n only events with
-- stream_version < n move ("truncate before"), which needs a snapshot at
-- version n-1 or later (ES014); the stream stays writable. p_guild_id NULL
-- skips the guild check. Returns the stream version and the number of
-- events moved.
-- +goose StatementBegin
CREATE FUNCTION eventstore.archive_stream(
    p_stream_id        text,
    p_expected_version bigint DEFAULT -1,
    p_before           bigint DEFAULT NULL,
    p_guild_id         text DEFAULT NULL)
RETURNS TABLE (version bigint, events_archived bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_stream   eventstore.streams%ROWTYPE;
    v_snapshot bigint;
    v_moved    bigint;
BEGIN
    PERFORM eventstore.require_admin('archiving a stream');
    PERFORM eventstore.check_stream_id(p_stream_id);
    IF p_expected_version IS NULL OR p_expected_version < -3 THEN
        PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, false, 0);
    END IF;
    IF p_before IS NOT NULL AND p_before < 1 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid archive boundary %s: must be at least 1', p_before),
            jsonb_build_object('argument', 'before_version', 'value', p_before));
    END IF;

    v_stream := eventstore.lock_stream(p_stream_id, p_guild_id, p_expected_version, true);
    IF v_stream.archived_at IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES005', format('stream %L is already archived', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'archived_at', v_stream.archived_at));
    END IF;
    PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, true, v_stream.version);

    IF p_before IS NULL THEN
        v_moved := eventstore.move_to_archive(p_stream_id, NULL);
        UPDATE eventstore.streams s SET archived_at = now(), updated_at = now() WHERE s.stream_id = p_stream_id;
        RETURN QUERY SELECT v_stream.version, v_moved;
        RETURN;
    END IF;

    IF p_before > v_stream.version + 1 THEN
        PERFORM eventstore.raise_error('ES008',
            format('invalid archive boundary %s: stream %L is at version %s', p_before, p_stream_id, v_stream.version),
            jsonb_build_object('argument', 'before_version', 'value', p_before));
    END IF;
    SELECT sn.stream_version INTO v_snapshot FROM eventstore.snapshots sn WHERE sn.stream_id = p_stream_id;
    IF v_snapshot IS NULL OR v_snapshot < p_before - 1 THEN
        PERFORM eventstore.raise_error('ES014',
            format('archiving stream %L before version %s needs a snapshot at version %s or later (have %s)',
                   p_stream_id, p_before, p_before - 1, coalesce(v_snapshot::text, 'none')),
            jsonb_build_object('stream_id', p_stream_id, 'before_version', p_before, 'snapshot_version', v_snapshot));
    END IF;
    v_moved := eventstore.move_to_archive(p_stream_id, p_before);
    RETURN QUERY SELECT v_stream.version, v_moved;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.archive_stream IS
    'Admin: move a stream''s events to eventstore.events_archive (p_before NULL: all, stream becomes read-only; n: versions < n, needs a snapshot at n-1 or later).';

-- archive_completed_streams archives, in this transaction, up to
-- p_max_streams live streams whose game completed more than p_older_than
-- ago (admin only). A stream is completed when its last event's type is
-- one of p_completed_types; with p_completed_types NULL every stream
-- counts (idle streams). "Ago" is measured from the stream's last change
-- (streams.updated_at: its last append). Streams being written right now
-- are skipped (SKIP LOCKED). Call again until it returns no rows.
-- It scans the streams table: an index on updated_at would turn every
-- append's row update into a non-HOT one (see eventstore.streams).
-- +goose StatementBegin
CREATE FUNCTION eventstore.archive_completed_streams(
    p_older_than      interval,
    p_completed_types text[],
    p_guild_id        text DEFAULT NULL,
    p_max_streams     integer DEFAULT 100)
RETURNS TABLE (stream_id text, version bigint, events_archived bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_cutoff timestamptz;
    v_id     text;
    v_stream eventstore.streams%ROWTYPE;
    v_moved  bigint;
BEGIN
    PERFORM eventstore.require_admin('archiving completed streams');
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        PERFORM eventstore.raise_error('ES008', 'invalid age: must be zero or more',
            jsonb_build_object('argument', 'older_than', 'value', p_older_than::text));
    END IF;
    IF p_completed_types IS NOT NULL AND cardinality(p_completed_types) = 0 THEN
        PERFORM eventstore.raise_error('ES008', 'empty list of completion event types (pass NULL to archive every idle stream)',
            jsonb_build_object('argument', 'completed_types', 'value', 0));
    END IF;
    IF p_max_streams IS NULL OR p_max_streams < 1 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid batch size %s: must be at least 1', p_max_streams),
            jsonb_build_object('argument', 'max_streams', 'value', p_max_streams));
    END IF;
    v_cutoff := now() - p_older_than;

    FOR v_id IN
        SELECT s.stream_id
          FROM eventstore.streams s
         WHERE s.archived_at IS NULL AND s.deleted_at IS NULL AND s.version > 0
           AND s.updated_at < v_cutoff
           AND (p_guild_id IS NULL OR s.guild_id = p_guild_id)
           AND (p_completed_types IS NULL OR EXISTS (
                SELECT 1 FROM eventstore.events e
                 WHERE e.stream_id = s.stream_id AND e.stream_version = s.version
                   AND e.event_type = ANY (p_completed_types)))
         ORDER BY s.updated_at
         FOR UPDATE OF s SKIP LOCKED
    LOOP
        -- Re-read under the lock: the row may have changed since the scan began.
        SELECT * INTO v_stream FROM eventstore.streams s WHERE s.stream_id = v_id;
        CONTINUE WHEN v_stream.archived_at IS NOT NULL OR v_stream.deleted_at IS NOT NULL
                   OR v_stream.version = 0 OR v_stream.updated_at >= v_cutoff;
        IF p_completed_types IS NOT NULL THEN
            CONTINUE WHEN NOT EXISTS (
                SELECT 1 FROM eventstore.events e
                 WHERE e.stream_id = v_id AND e.stream_version = v_stream.version
                   AND e.event_type = ANY (p_completed_types));
        END IF;
        v_moved := eventstore.move_to_archive(v_id, NULL);
        UPDATE eventstore.streams s SET archived_at = now(), updated_at = now() WHERE s.stream_id = v_id;
        stream_id := v_id;
        version := v_stream.version;
        events_archived := v_moved;
        RETURN NEXT;
        p_max_streams := p_max_streams - 1;
        EXIT WHEN p_max_streams = 0;
    END LOOP;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.archive_completed_streams IS
    'Admin: archive up to p_max_streams streams whose last event type is in p_completed_types (NULL: any) and whose last append is older than p_older_than. Call again until no rows.';

-- hard_delete_stream removes a stream for good (admin only, p_confirm must
-- be true): its events (hot and archived), its snapshot, subscription
-- checkpoints of that stream, and the stream row, so the id can be used
-- again. Works on live, archived and soft-deleted streams. p_guild_id NULL
-- skips the guild check. Returns the version the stream had and the number
-- of events removed. Like move_to_archive it turns
-- eventstore.allow_event_mutation on only while it deletes.
-- +goose StatementBegin
CREATE FUNCTION eventstore.hard_delete_stream(
    p_stream_id        text,
    p_guild_id         text,
    p_expected_version bigint,
    p_confirm          boolean DEFAULT false)
RETURNS TABLE (version bigint, events_deleted bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_stream   eventstore.streams%ROWTYPE;
    v_hot      bigint;
    v_archived bigint;
    v_prev     text := current_setting('eventstore.allow_event_mutation', true);
BEGIN
    PERFORM eventstore.require_admin('hard delete');
    IF p_confirm IS NOT TRUE THEN
        PERFORM eventstore.raise_error('ES013',
            format('hard delete of stream %L removes its events for good; pass p_confirm => true to proceed', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'operation', 'hard delete'));
    END IF;
    PERFORM eventstore.check_stream_id(p_stream_id);
    IF p_expected_version IS NULL OR p_expected_version < -3 THEN
        PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, false, 0);
    END IF;

    v_stream := eventstore.lock_stream(p_stream_id, p_guild_id, p_expected_version, false);
    PERFORM eventstore.check_expected_version(p_stream_id, p_expected_version, true, v_stream.version);

    PERFORM pg_catalog.set_config('eventstore.allow_event_mutation', 'on', true);
    DELETE FROM eventstore.events e WHERE e.stream_id = p_stream_id;
    GET DIAGNOSTICS v_hot = ROW_COUNT;
    DELETE FROM eventstore.events_archive a WHERE a.stream_id = p_stream_id;
    GET DIAGNOSTICS v_archived = ROW_COUNT;
    PERFORM pg_catalog.set_config('eventstore.allow_event_mutation', coalesce(v_prev, ''), true);
    DELETE FROM eventstore.snapshots sn WHERE sn.stream_id = p_stream_id;
    -- Persistent subscriptions to this one stream go with it (their
    -- checkpoints are versions of the deleted stream). Feed subscriptions
    -- keep theirs: global positions stay meaningful.
    DELETE FROM eventstore.subscriptions sub WHERE sub.stream_id = p_stream_id;
    DELETE FROM eventstore.streams s WHERE s.stream_id = p_stream_id;
    RETURN QUERY SELECT v_stream.version, v_hot + v_archived;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.hard_delete_stream IS
    'Admin: remove a stream for good (events hot and archived, snapshot, subscription checkpoints, stream row). Needs p_confirm => true.';

REVOKE ALL ON FUNCTION
    eventstore.hard_delete_stream(text, text, bigint, boolean),
    eventstore.archive_completed_streams(interval, text[], text, integer),
    eventstore.archive_stream(text, bigint, bigint, text),
    eventstore.move_to_archive(text, bigint),
    eventstore.delete_snapshot(text, text),
    eventstore.set_stream_limit(text, text, bigint),
    eventstore.record_snapshot(text, text, bigint, text, integer, jsonb, jsonb)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.record_snapshot(text, text, bigint, text, integer, jsonb, jsonb),
    eventstore.delete_snapshot(text, text),
    eventstore.set_stream_limit(text, text, bigint)
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.hard_delete_stream(text, text, bigint, boolean);
DROP FUNCTION eventstore.archive_completed_streams(interval, text[], text, integer);
DROP FUNCTION eventstore.archive_stream(text, bigint, bigint, text);
DROP FUNCTION eventstore.move_to_archive(text, bigint);
DROP FUNCTION eventstore.delete_snapshot(text, text);
DROP FUNCTION eventstore.set_stream_limit(text, text, bigint);
DROP FUNCTION eventstore.record_snapshot(text, text, bigint, text, integer, jsonb, jsonb);
