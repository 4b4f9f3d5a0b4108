-- Guild isolation: row-level security keyed on the eventstore.guild_id
-- setting, the least-privilege role eventstore_app, and a guild check in
-- front of every write function.
--
-- The store sends SELECT set_config('eventstore.guild_id', <guild>, true) with
-- every operation that has a guild (in the same batch, so it is one round
-- trip), so the setting always belongs to the current transaction only.
--
--   * eventstore_app (NOLOGIN) may SELECT streams and events, but row-level
--     security shows it only the rows of the guild in eventstore.guild_id
--     (none when the setting is missing). It cannot INSERT, UPDATE, DELETE or
--     TRUNCATE anything: it writes only through append_events, create_stream
--     and delete_stream.
--   * Those three functions are SECURITY DEFINER wrappers (they run as the
--     schema owner) around the original functions, renamed *_unchecked and no
--     longer executable by PUBLIC. Before doing anything they call
--     check_guild_context: when eventstore.guild_id is set, it must equal the
--     guild being written to (ES009 guild_mismatch); when it is not set, only
--     an administrator (the schema owner, a superuser, a BYPASSRLS role or a
--     member of eventstore_admin) may write (ES015 guild_required).
--   * The owner of the tables (the role that runs the migrations) is not
--     subject to row-level security: it is the admin path for the global feed,
--     projections and maintenance.
--
-- The role is cluster-wide. Up creates it only when it does not exist yet
-- (many databases of one cluster, test clones among them, share it); Down
-- revokes everything this database granted to it and keeps the role, since
-- other databases may still grant to it or a DBA may have created it with
-- members. Drop it by hand (DROP ROLE eventstore_app) once no database uses it.
--
--   ES009 guild_mismatch   ES015 guild_required

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'eventstore_app') THEN
        CREATE ROLE eventstore_app NOLOGIN;
        COMMENT ON ROLE eventstore_app IS
            'GameBot event store application role: reads its guild''s rows (row-level security on eventstore.guild_id), writes only through the eventstore functions';
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created at the same moment by the migration of another database
END;
$$;
-- +goose StatementEnd

-- check_guild_context guards every write: the transaction's guild
-- (eventstore.guild_id) must be the guild written to. Without a guild in the
-- transaction only an administrator may write: the schema owner (or a
-- member of it), a superuser, a BYPASSRLS role or a member of
-- eventstore_admin (when that role exists).
-- Inside the SECURITY DEFINER wrappers current_user is the owner, so the role
-- the session acts as is read from the "role" setting (SET ROLE) or else
-- session_user.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_guild_context(p_guild_id text)
RETURNS void
LANGUAGE plpgsql
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    v_context text := nullif(current_setting('eventstore.guild_id', true), '');
    v_role    name;
BEGIN
    IF v_context IS NOT NULL THEN
        IF p_guild_id IS DISTINCT FROM v_context THEN
            PERFORM eventstore.raise_error('ES009',
                format('this transaction belongs to guild %L and cannot write to guild %L', v_context, p_guild_id),
                jsonb_build_object('guild_id', p_guild_id, 'context_guild_id', v_context));
        END IF;
        RETURN;
    END IF;
    v_role := current_setting('role');
    IF v_role = 'none' THEN
        v_role := session_user;
    END IF;
    IF NOT (EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                     WHERE r.rolname = v_role AND (r.rolsuper OR r.rolbypassrls))
            OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
                        WHERE n.nspname = 'eventstore' AND pg_catalog.pg_has_role(v_role, n.nspowner, 'MEMBER'))
            OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                        WHERE a.rolname = 'eventstore_admin' AND pg_catalog.pg_has_role(v_role, a.oid, 'MEMBER'))) THEN
        PERFORM eventstore.raise_error('ES015',
            format('role %I must set eventstore.guild_id before writing', v_role),
            jsonb_build_object('guild_id', p_guild_id, 'role', v_role));
    END IF;
END;
$$;
-- +goose StatementEnd

REVOKE EXECUTE ON FUNCTION eventstore.check_guild_context(text) FROM PUBLIC;

ALTER FUNCTION eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint)
    RENAME TO append_events_unchecked;
ALTER FUNCTION eventstore.create_stream(text, text) RENAME TO create_stream_unchecked;
ALTER FUNCTION eventstore.delete_stream(text, text, bigint) RENAME TO delete_stream_unchecked;
REVOKE EXECUTE ON FUNCTION
    eventstore.append_events_unchecked(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint),
    eventstore.create_stream_unchecked(text, text),
    eventstore.delete_stream_unchecked(text, text, bigint)
    FROM PUBLIC;

-- The wrappers keep the original names, signatures and defaults. After the
-- renames CREATE OR REPLACE creates them afresh; "OR REPLACE" is for sqlc,
-- which reads the schema without following function renames.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION eventstore.append_events(
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

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION eventstore.create_stream(p_stream_id text, p_guild_id text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = eventstore, pg_catalog
AS $$
BEGIN
    PERFORM eventstore.check_guild_context(p_guild_id);
    PERFORM eventstore.create_stream_unchecked(p_stream_id, p_guild_id);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.create_stream IS
    'Register an empty stream (version 0) for a guild (guild-checked, runs as the owner).';

-- delete_stream: a NULL guild means the transaction's guild; with neither,
-- only an admin may delete (and the stream's guild is not checked).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION eventstore.delete_stream(p_stream_id text, p_guild_id text, p_expected_version bigint)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = eventstore, pg_catalog
AS $$
DECLARE
    v_guild text := coalesce(p_guild_id, nullif(current_setting('eventstore.guild_id', true), ''));
BEGIN
    PERFORM eventstore.check_guild_context(v_guild);
    RETURN eventstore.delete_stream_unchecked(p_stream_id, v_guild, p_expected_version);
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION eventstore.delete_stream IS
    'Soft-delete a stream at the expected version (guild-checked, runs as the owner). Returns its version.';

REVOKE EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint),
    eventstore.create_stream(text, text),
    eventstore.delete_stream(text, text, bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint),
    eventstore.create_stream(text, text),
    eventstore.delete_stream(text, text, bigint)
    TO eventstore_app;

GRANT USAGE ON SCHEMA eventstore TO eventstore_app;
GRANT SELECT ON eventstore.streams, eventstore.events TO eventstore_app;

-- Row-level security: a role other than the owner (and BYPASSRLS roles) sees
-- only the rows of the transaction's guild. An unset setting reads as NULL or
-- '' and matches no row (guild ids are never empty).
ALTER TABLE eventstore.streams ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.events ENABLE ROW LEVEL SECURITY;

CREATE POLICY streams_guild_isolation ON eventstore.streams
    USING (guild_id = current_setting('eventstore.guild_id', true))
    WITH CHECK (guild_id = current_setting('eventstore.guild_id', true));
CREATE POLICY events_guild_isolation ON eventstore.events
    USING (guild_id = current_setting('eventstore.guild_id', true))
    WITH CHECK (guild_id = current_setting('eventstore.guild_id', true));

-- +goose Down
DROP POLICY events_guild_isolation ON eventstore.events;
DROP POLICY streams_guild_isolation ON eventstore.streams;
ALTER TABLE eventstore.events DISABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.streams DISABLE ROW LEVEL SECURITY;

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'eventstore_app') THEN
        REVOKE SELECT ON eventstore.streams, eventstore.events FROM eventstore_app;
        REVOKE USAGE ON SCHEMA eventstore FROM eventstore_app;
    END IF;
END;
$$;
-- +goose StatementEnd

DROP FUNCTION eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint);
DROP FUNCTION eventstore.create_stream(text, text);
DROP FUNCTION eventstore.delete_stream(text, text, bigint);

ALTER FUNCTION eventstore.append_events_unchecked(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint)
    RENAME TO append_events;
ALTER FUNCTION eventstore.create_stream_unchecked(text, text) RENAME TO create_stream;
ALTER FUNCTION eventstore.delete_stream_unchecked(text, text, bigint) RENAME TO delete_stream;
GRANT EXECUTE ON FUNCTION
    eventstore.append_events(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb[], uuid[], uuid[], bigint),
    eventstore.create_stream(text, text),
    eventstore.delete_stream(text, text, bigint)
    TO PUBLIC;

DROP FUNCTION eventstore.check_guild_context(text);
