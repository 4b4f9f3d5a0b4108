-- Reads and the global feed: read functions an operator can call from psql
-- (the store itself reads through sqlc queries, sql/queries/), and the
-- feed's horizon status.
--
--   SELECT * FROM eventstore.read_stream('game-42', 1, 100);
--   SELECT * FROM eventstore.read_stream_backward('game-42');
--   SELECT * FROM eventstore.read_feed('0', 0, 100);
--   SELECT * FROM eventstore.feed_horizon_status();
--
-- They run as the caller (SECURITY INVOKER): row-level security limits the
-- application role to its guild, and with eventstore.guild_id set they are
-- scoped to that guild for every role, the owner included.

-- +goose Up

-- check_read_window validates a read function's start and count.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_read_window(p_from bigint, p_count integer)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    IF p_from IS NULL OR p_from < 0 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid start version %s', coalesce(p_from::text, 'NULL')),
            jsonb_build_object('argument', 'from_version', 'value', p_from));
    END IF;
    IF p_count IS NULL OR p_count < 1 OR p_count > 10000 THEN
        PERFORM eventstore.raise_error('ES008', format('invalid count %s (want 1 to 10000)', coalesce(p_count::text, 'NULL')),
            jsonb_build_object('argument', 'count', 'value', p_count));
    END IF;
END;
$$;
-- +goose StatementEnd

-- check_readable raises ES002 for a missing stream (or, with
-- eventstore.guild_id set, another guild's) and ES004 for a deleted one.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_readable(p_stream_id text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild      text := nullif(current_setting('eventstore.guild_id', true), '');
    v_deleted_at timestamptz;
BEGIN
    PERFORM eventstore.check_stream_id(p_stream_id);
    SELECT s.deleted_at INTO v_deleted_at FROM eventstore.streams s
     WHERE s.stream_id = p_stream_id AND (v_guild IS NULL OR s.guild_id = v_guild);
    IF NOT FOUND THEN
        PERFORM eventstore.raise_error('ES002', format('stream %L does not exist', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'actual', NULL));
    END IF;
    IF v_deleted_at IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES004', format('stream %L is deleted', p_stream_id),
            jsonb_build_object('stream_id', p_stream_id, 'deleted_at', v_deleted_at));
    END IF;
END;
$$;
-- +goose StatementEnd

-- read_stream returns up to p_count (1..10000) events of a stream with
-- version >= p_from, oldest first, archived ones included:
-- SELECT * FROM eventstore.read_stream('game-42', 1, 100).
-- A missing stream raises ES002, a deleted one ES004.
-- +goose StatementBegin
CREATE FUNCTION eventstore.read_stream(p_stream_id text, p_from bigint DEFAULT 1, p_count integer DEFAULT 100)
RETURNS TABLE (version bigint, type text, type_version integer, guild_id text, created_at timestamptz,
               data jsonb, metadata jsonb, event_id uuid, global_position bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_read_window(p_from, p_count);
    PERFORM eventstore.check_readable(p_stream_id);
    -- Hot and archived events; each table gives at most p_count rows in
    -- index order, so the work is bounded by the page size.
    RETURN QUERY
        SELECT u.stream_version, u.event_type, u.event_version, u.guild_id, u.created_at,
               u.data, u.metadata, u.event_id, u.global_position
          FROM ((SELECT e.stream_version, e.event_type, e.event_version, e.guild_id, e.created_at,
                        e.data, e.metadata, e.event_id, e.global_position
                   FROM eventstore.events e
                  WHERE e.stream_id = p_stream_id AND e.stream_version >= p_from
                  ORDER BY e.stream_version
                  LIMIT p_count)
                UNION ALL
                (SELECT a.stream_version, a.event_type, a.event_version, a.guild_id, a.created_at,
                        a.data, a.metadata, a.event_id, a.global_position
                   FROM eventstore.events_archive a
                  WHERE a.stream_id = p_stream_id AND a.stream_version >= p_from
                  ORDER BY a.stream_version
                  LIMIT p_count)) AS u
         ORDER BY u.stream_version
         LIMIT p_count;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.read_stream IS
    'Events of a stream from a version, oldest first: read_stream(stream_id, from_version default 1, count 1..10000 default 100)';

-- read_stream_backward returns up to p_count events of a stream with
-- version <= p_from (NULL: from the last event), newest first.
-- +goose StatementBegin
CREATE FUNCTION eventstore.read_stream_backward(p_stream_id text, p_from bigint DEFAULT NULL, p_count integer DEFAULT 100)
RETURNS TABLE (version bigint, type text, type_version integer, guild_id text, created_at timestamptz,
               data jsonb, metadata jsonb, event_id uuid, global_position bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    PERFORM eventstore.check_read_window(coalesce(p_from, 0), p_count);
    PERFORM eventstore.check_readable(p_stream_id);
    RETURN QUERY
        SELECT u.stream_version, u.event_type, u.event_version, u.guild_id, u.created_at,
               u.data, u.metadata, u.event_id, u.global_position
          FROM ((SELECT e.stream_version, e.event_type, e.event_version, e.guild_id, e.created_at,
                        e.data, e.metadata, e.event_id, e.global_position
                   FROM eventstore.events e
                  WHERE e.stream_id = p_stream_id AND e.stream_version <= coalesce(p_from, 9223372036854775807)
                  ORDER BY e.stream_version DESC
                  LIMIT p_count)
                UNION ALL
                (SELECT a.stream_version, a.event_type, a.event_version, a.guild_id, a.created_at,
                        a.data, a.metadata, a.event_id, a.global_position
                   FROM eventstore.events_archive a
                  WHERE a.stream_id = p_stream_id AND a.stream_version <= coalesce(p_from, 9223372036854775807)
                  ORDER BY a.stream_version DESC
                  LIMIT p_count)) AS u
         ORDER BY u.stream_version DESC
         LIMIT p_count;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.read_stream_backward IS
    'Events of a stream newest first: read_stream_backward(stream_id, from_version default NULL = the end, count 1..10000 default 100)';

-- read_feed returns up to p_count events of every stream after the
-- checkpoint (p_after_tx, p_after_pos), in the global feed's commit-safe
-- order: SELECT * FROM eventstore.read_feed('0', 0, 100) starts at the
-- beginning; continue from the last row's checkpoint column, which is also
-- what `eventstore feed --from` takes.
-- +goose StatementBegin
CREATE FUNCTION eventstore.read_feed(p_after_tx xid8 DEFAULT '0', p_after_pos bigint DEFAULT 0, p_count integer DEFAULT 100)
RETURNS TABLE (checkpoint text, stream_id text, version bigint, type text, type_version integer, guild_id text,
               created_at timestamptz, data jsonb, metadata jsonb, event_id uuid, transaction_id xid8, global_position bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_guild text := nullif(current_setting('eventstore.guild_id', true), '');
BEGIN
    PERFORM eventstore.check_read_window(coalesce(p_after_pos, 0), p_count);
    IF p_after_tx IS NULL OR p_after_pos IS NULL THEN
        PERFORM eventstore.raise_error('ES008', 'invalid checkpoint: transaction id and position must not be NULL',
            jsonb_build_object('argument', 'checkpoint', 'value', NULL));
    END IF;
    RETURN QUERY
        SELECT e.transaction_id::text || '/' || e.global_position::text,
               e.stream_id, e.stream_version, e.event_type, e.event_version, e.guild_id, e.created_at,
               e.data, e.metadata, e.event_id, e.transaction_id, e.global_position
          FROM eventstore.events e
         WHERE (e.transaction_id, e.global_position) > (p_after_tx, p_after_pos)
           AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           AND (v_guild IS NULL OR e.guild_id = v_guild)
         ORDER BY e.transaction_id, e.global_position
         LIMIT p_count;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.read_feed IS
    'The global feed in commit-safe order after a checkpoint: read_feed(after_tx default 0, after_position default 0, count 1..10000 default 100)';

-- feed_horizon_status reports how far the global feed's safe horizon
-- (pg_snapshot_xmin of the current snapshot) trails the committed events, and
-- which transaction holds it back. Transaction ids are cluster-wide, so the
-- oldest running transaction that has one -- in ANY database of the cluster --
-- or a forgotten prepared transaction delays the feed of every database.
-- Sessions of other roles are visible only to roles with pg_read_all_stats.
-- +goose StatementBegin
CREATE FUNCTION eventstore.feed_horizon_status()
RETURNS TABLE (
    horizon         xid8,
    held_events     bigint,
    held_seconds    double precision,
    oldest_pid      integer,
    oldest_database text,
    oldest_state    text,
    oldest_seconds  double precision,
    oldest_prepared boolean)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
    WITH h AS (
        SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon
    ), held AS (
        SELECT count(*) AS n, min(e.created_at) AS oldest
          FROM eventstore.events e
         -- Compared with the expression itself (not the CTE) so that the
         -- planner estimates it and uses the feed index.
         WHERE e.transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
    ), blockers AS (
        SELECT a.pid, a.datname::text AS datname, a.state, a.xact_start AS started,
               age(a.backend_xid) AS xid_age, false AS prepared
          FROM pg_catalog.pg_stat_activity a
         WHERE a.backend_xid IS NOT NULL
        UNION ALL
        SELECT 0, p.database::text, 'prepared', p.prepared, age(p.transaction), true
          FROM pg_catalog.pg_prepared_xacts p
    ), oldest AS (
        SELECT b.pid, b.datname, b.state, b.started, b.prepared
          FROM blockers b
         ORDER BY b.xid_age DESC
         LIMIT 1
    )
    SELECT (SELECT h.horizon FROM h),
           (SELECT held.n FROM held),
           coalesce((SELECT extract(epoch FROM clock_timestamp() - held.oldest)::float8 FROM held), 0),
           coalesce((SELECT o.pid FROM oldest o), 0),
           coalesce((SELECT o.datname FROM oldest o), ''),
           coalesce((SELECT o.state FROM oldest o), ''),
           coalesce((SELECT extract(epoch FROM clock_timestamp() - o.started)::float8 FROM oldest o), 0),
           coalesce((SELECT o.prepared FROM oldest o), false);
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.feed_horizon_status() IS
    'Feed lag: the safe horizon, committed events it still holds back (count, age of the oldest) and the oldest transaction of the cluster holding it';

REVOKE ALL ON FUNCTION
    eventstore.feed_horizon_status(),
    eventstore.read_feed(xid8, bigint, integer),
    eventstore.read_stream_backward(text, bigint, integer),
    eventstore.read_stream(text, bigint, integer),
    eventstore.check_readable(text),
    eventstore.check_read_window(bigint, integer)
    FROM PUBLIC;
-- The read functions run as the caller, so the caller needs the checks
-- they call too (each only validates and raises).
GRANT EXECUTE ON FUNCTION
    eventstore.raise_error(text, text, jsonb),
    eventstore.name_problem(text, integer),
    eventstore.stream_id_problem(text),
    eventstore.check_stream_id(text),
    eventstore.check_read_window(bigint, integer),
    eventstore.check_readable(text),
    eventstore.read_stream(text, bigint, integer),
    eventstore.read_stream_backward(text, bigint, integer),
    eventstore.read_feed(xid8, bigint, integer),
    eventstore.feed_horizon_status()
    TO eventstore_app;

-- +goose Down
DROP FUNCTION eventstore.feed_horizon_status();
DROP FUNCTION eventstore.read_feed(xid8, bigint, integer);
DROP FUNCTION eventstore.read_stream_backward(text, bigint, integer);
DROP FUNCTION eventstore.read_stream(text, bigint, integer);
DROP FUNCTION eventstore.check_readable(text);
DROP FUNCTION eventstore.check_read_window(bigint, integer);
