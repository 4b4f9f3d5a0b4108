-- Tables, roles and the rules every other migration builds on.
--
-- The store keeps streams of versioned, immutable events:
--
--   eventstore.streams         one row per stream: its guild, version, limit, state
--   eventstore.events          the hot event log (global feed order: transaction_id, global_position)
--   eventstore.events_archive  events moved out of the hot log (same columns, same values)
--   eventstore.snapshots       the latest snapshot of a stream
--   eventstore.subscriptions   checkpoints and consumer leases of persistent subscriptions
--   eventstore.subscription_group_members  the live members of consumer groups
--
-- Roles. The schema owner (the role that runs the migrations) is the admin
-- path: it is not subject to row-level security. The application role
-- eventstore_app (NOLOGIN; a bot's login role is made a member of it) may
-- only SELECT, and row-level security shows it only the rows of the guild
-- in the transaction's eventstore.guild_id setting. It holds no other table
-- privilege, so it can neither write directly nor take a row or table lock
-- that blocks anyone: every write goes through a guild-checked SECURITY
-- DEFINER function. Every function of the schema pins
--   search_path = pg_catalog, eventstore, pg_temp
-- so that nothing a caller creates (pg_temp is otherwise searched first for
-- types and tables) can change what a function resolves.
--
-- Errors use our own SQLSTATEs (class "ES"), mapped in store/errors.go, with
-- a JSON DETAIL (docs/ERRORS.md). An error raised for a guild may say that
-- an id is taken, never what another guild holds.
--
--   ES001 wrong_expected_version   ES007 duplicate_event        ES013 confirmation_required
--   ES002 stream_not_found         ES008 invalid_argument       ES014 snapshot_required
--   ES003 stream_exists            ES009 guild_mismatch         ES015 guild_required
--   ES004 stream_deleted           ES010 event_immutable        ES016 subscription_name_taken
--   ES005 stream_archived          ES011 snapshot_beyond_stream ES017 subscription_not_found
--   ES006 stream_full              ES012 admin_required

-- +goose Up
CREATE SCHEMA IF NOT EXISTS eventstore;

COMMENT ON SCHEMA eventstore IS 'GameBot event store: streams of versioned, immutable domain events';

-- The role is cluster-wide: created here when missing (many databases of one
-- cluster, test clones among them, share it) and kept by Down.
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
) WITH (fillfactor = 80);

-- Every append updates its stream's row. No index covers a column an append
-- changes (version, updated_at, last_transaction_id), and fillfactor leaves
-- room on each page, so the update is a HOT update: one new heap tuple, no
-- index entries.
COMMENT ON TABLE eventstore.streams IS 'One row per stream; version = number of events = last stream_version';
COMMENT ON COLUMN eventstore.streams.max_events IS 'Per-stream override of the event limit (NULL = the store''s limit)';
COMMENT ON COLUMN eventstore.streams.last_transaction_id IS 'Feed label of the last append (see events.transaction_id); never goes down, which keeps a stream''s events in version order in the feed';
COMMENT ON COLUMN eventstore.streams.updated_at IS 'Last append or lifecycle change';

CREATE INDEX streams_guild_idx ON eventstore.streams (guild_id, stream_id);
-- Every stream, and a guild's streams, by creation time: the keyset order of
-- stream listings (stream ids compare bytewise, whatever the locale).
CREATE INDEX streams_created_idx ON eventstore.streams (created_at, stream_id COLLATE "C");
CREATE INDEX streams_guild_created_idx ON eventstore.streams (guild_id, created_at, stream_id COLLATE "C");

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
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_type_check CHECK (event_type <> '' AND length(event_type) <= 255),
    CONSTRAINT events_data_check CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT events_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON TABLE eventstore.events IS 'Immutable event log; written only through eventstore.append_events';
COMMENT ON COLUMN eventstore.events.transaction_id IS 'Feed label: the writing transaction''s id, or the stream''s previous label when higher; the global feed orders by (transaction_id, global_position)';

CREATE INDEX events_feed_idx ON eventstore.events (transaction_id, global_position);
-- A guild's feed (its consumers, and every feed read with a guild in the
-- context) walks this index instead of the whole feed.
CREATE INDEX events_guild_feed_idx ON eventstore.events (guild_id, transaction_id, global_position);

-- events_archive: events moved out of the hot table by archive_stream. Same
-- columns, same values (global positions and transaction ids are kept).
CREATE TABLE eventstore.events_archive (
    global_position bigint      PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
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
    created_at      timestamptz NOT NULL,
    CONSTRAINT events_archive_event_id_key UNIQUE (event_id),
    CONSTRAINT events_archive_stream_version_key UNIQUE (stream_id, stream_version)
);

COMMENT ON TABLE eventstore.events_archive IS
    'Archived events, moved here from eventstore.events by eventstore.archive_stream; read through the same stream read API';

-- snapshots: the latest snapshot of each stream.
CREATE TABLE eventstore.snapshots (
    stream_id      text        PRIMARY KEY REFERENCES eventstore.streams (stream_id),
    guild_id       text        NOT NULL,
    stream_version bigint      NOT NULL CHECK (stream_version >= 1),
    snapshot_type  text        NOT NULL CHECK (snapshot_type <> '' AND length(snapshot_type) <= 255),
    schema_version integer     NOT NULL CHECK (schema_version >= 1),
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE eventstore.snapshots IS
    'Latest snapshot of a stream: the state after its first stream_version events, in the caller''s format snapshot_type/schema_version';

CREATE INDEX snapshots_guild_idx ON eventstore.snapshots (guild_id, stream_id);

-- subscriptions: one row per persistent subscription name and partition
-- member. The checkpoint is saved after the handler succeeded; the lease
-- (holder, lease_token, lease_expires_at) names the one consumer that may
-- deliver and save: a claim bumps the token, and a save or renewal carrying
-- an older token changes nothing (see 00004_subscriptions.sql).
CREATE TABLE eventstore.subscriptions (
    name                      text        NOT NULL CHECK (name <> '' AND length(name) <= 200),
    partition_member          integer     NOT NULL DEFAULT 0,
    partition_count           integer     NOT NULL DEFAULT 1 CHECK (partition_count >= 1),
    stream_id                 text,
    checkpoint_transaction_id xid8        NOT NULL DEFAULT '0'::xid8,
    checkpoint_position       bigint      NOT NULL DEFAULT 0 CHECK (checkpoint_position >= 0),
    checkpoint_version        bigint      NOT NULL DEFAULT 0 CHECK (checkpoint_version >= 0),
    filter                    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    guild_id                  text,
    handled_count             bigint      NOT NULL DEFAULT 0 CHECK (handled_count >= 0),
    holder                    text,
    lease_token               bigint      NOT NULL DEFAULT 0,
    lease_expires_at          timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    consumer_group            boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (name, partition_member),
    CHECK (partition_member >= 0 AND partition_member < partition_count),
    CHECK (NOT consumer_group OR stream_id IS NULL)
);

-- subscription_group_members: the members of consumer groups. A consumer
-- group is a partitioned subscription (its rows in eventstore.subscriptions,
-- consumer_group = true, one per partition) whose partitions are spread over
-- the members that heartbeat here: each member renews its row (and the
-- leases of the partitions it holds) every third of its lease, and a member
-- whose lease has run out is gone (see subscription_group_heartbeat in
-- 00004_subscriptions.sql).
CREATE TABLE eventstore.subscription_group_members (
    name             text        NOT NULL,
    member_id        text        NOT NULL CHECK (member_id <> '' AND length(member_id) <= 200),
    guild_id         text,
    joined_at        timestamptz NOT NULL DEFAULT now(),
    heartbeat_at     timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL,
    PRIMARY KEY (name, member_id)
);

COMMENT ON TABLE eventstore.subscription_group_members IS
    'Members of consumer groups: each holds a fair share of the group''s partitions while its lease lasts';
COMMENT ON COLUMN eventstore.subscription_group_members.member_id IS
    'The member: host, process id and a per-member id; the holder of the partitions it holds';
COMMENT ON COLUMN eventstore.subscription_group_members.lease_expires_at IS
    'When the member counts as gone unless it heartbeats again';

COMMENT ON TABLE eventstore.subscriptions IS
    'Checkpoints of persistent subscriptions (saved after the handler succeeded) and the lease of the consumer that holds each';
COMMENT ON COLUMN eventstore.subscriptions.stream_id IS
    'The subscribed stream (checkpoint_version applies), or NULL for the global feed (checkpoint_transaction_id/position apply)';
COMMENT ON COLUMN eventstore.subscriptions.checkpoint_transaction_id IS
    'Feed checkpoint: transaction id of the last event handled or passed by the filter';
COMMENT ON COLUMN eventstore.subscriptions.checkpoint_position IS
    'Feed checkpoint: global position of the last event handled or passed by the filter';
COMMENT ON COLUMN eventstore.subscriptions.checkpoint_version IS
    'Stream subscriptions: version of the last handled event of stream_id';
COMMENT ON COLUMN eventstore.subscriptions.filter IS
    'The filter the consumer last started with: {"event_types": [...], "stream_prefix": "...", "guild_id": "..."}';
COMMENT ON COLUMN eventstore.subscriptions.guild_id IS
    'The guild the subscription belongs to (its guild filter), NULL for store-wide (admin) subscriptions';
COMMENT ON COLUMN eventstore.subscriptions.handled_count IS
    'Events handled (or dead-lettered) since the subscription was created';
COMMENT ON COLUMN eventstore.subscriptions.holder IS
    'The consumer that holds (or last held) the lease: host, process id and a per-consumer id';
COMMENT ON COLUMN eventstore.subscriptions.lease_token IS
    'Bumped by every claim; saves and renewals must carry the current token (fencing)';
COMMENT ON COLUMN eventstore.subscriptions.lease_expires_at IS
    'When the holder''s lease runs out unless renewed (NULL: released)';
COMMENT ON COLUMN eventstore.subscriptions.consumer_group IS
    'The row is a partition of a consumer group (see subscription_group_members)';

-- raise_error raises one of our ES… conditions with a JSON DETAIL.
-- +goose StatementBegin
CREATE FUNCTION eventstore.raise_error(p_code text, p_message text, p_detail jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message, DETAIL = p_detail::text;
END;
$$;
-- +goose StatementEnd

-- name_problem is THE rule for stream and guild ids (store/validate.go
-- mirrors it; a test compares both over every code point): 1 to p_max_length
-- characters; no control, format (zero-width, bidi, BOM…) or line/paragraph
-- separator characters anywhere; no white space at either end. It returns
-- what is wrong, or NULL.
-- +goose StatementBegin
CREATE FUNCTION eventstore.name_problem(p_name text, p_max_length integer)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, eventstore, pg_temp
RETURN CASE
    WHEN p_name IS NULL OR p_name = '' THEN 'must not be empty'
    WHEN length(p_name) > p_max_length THEN format('must be at most %s characters', p_max_length)
    WHEN p_name ~ '[\u0001-\u001F\u007F-\u009F\u00AD\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0001\U000E0020-\U000E007F]'
        THEN 'must not contain control, format or line separator characters'
    WHEN p_name ~ '^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028-\u2029\u202F\u205F\u3000]|[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028-\u2029\u202F\u205F\u3000]$'
        THEN 'must not start or end with white space'
END;
-- +goose StatementEnd

-- stream_id_problem: a stream id is a name of 1..255 characters that does
-- not start with the reserved "$".
--
-- stream_id_problem and guild_id_problem are plpgsql: as SQL functions
-- calling name_problem, each call cost 40 µs (the inner call set up
-- afresh every time), against 5 µs now.
-- +goose StatementBegin
CREATE FUNCTION eventstore.stream_id_problem(p_stream_id text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    RETURN coalesce(eventstore.name_problem(p_stream_id, 255),
                    CASE WHEN left(p_stream_id, 1) = '$' THEN 'must not start with "$"' END);
END;
$$;
-- +goose StatementEnd

-- guild_id_problem: a guild id is a name of 1..100 characters.
-- +goose StatementBegin
CREATE FUNCTION eventstore.guild_id_problem(p_guild_id text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    RETURN eventstore.name_problem(p_guild_id, 100);
END;
$$;
-- +goose StatementEnd

-- check_stream_id and check_guild_id raise ES008 for an id that breaks the rule.
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_stream_id(p_stream_id text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_problem text := eventstore.stream_id_problem(p_stream_id);
BEGIN
    IF v_problem IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES008', 'invalid stream id: ' || v_problem,
            jsonb_build_object('argument', 'stream_id', 'value', left(p_stream_id, 300)));
    END IF;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION eventstore.check_guild_id(p_guild_id text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_problem text := eventstore.guild_id_problem(p_guild_id);
BEGIN
    IF v_problem IS NOT NULL THEN
        PERFORM eventstore.raise_error('ES008', 'invalid guild id: ' || v_problem,
            jsonb_build_object('argument', 'guild_id', 'value', left(p_guild_id, 300)));
    END IF;
END;
$$;
-- +goose StatementEnd

-- is_admin reports whether the role the session acts as may run maintenance
-- and write without a guild: a superuser, a role with BYPASSRLS, the owner of
-- the eventstore schema (or a member of it) or a member of eventstore_admin
-- (when that role exists). Inside SECURITY DEFINER functions current_user is
-- the owner, so the acting role is read from the "role" setting (SET ROLE),
-- else session_user.
-- +goose StatementBegin
CREATE FUNCTION eventstore.is_admin()
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_role name := current_setting('role');
BEGIN
    IF v_role = 'none' THEN
        v_role := session_user;
    END IF;
    RETURN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                    WHERE r.rolname = v_role AND (r.rolsuper OR r.rolbypassrls))
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
                    WHERE n.nspname = 'eventstore' AND pg_catalog.pg_has_role(v_role, n.nspowner, 'MEMBER'))
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                    WHERE a.rolname = 'eventstore_admin' AND pg_catalog.pg_has_role(v_role, a.oid, 'MEMBER'));
END;
$$;
-- +goose StatementEnd

-- require_admin raises ES012 unless the acting role is an admin.
-- +goose StatementBegin
CREATE FUNCTION eventstore.require_admin(p_operation text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
BEGIN
    IF NOT eventstore.is_admin() THEN
        PERFORM eventstore.raise_error('ES012',
            format('%s is reserved to administrators (schema owner, superuser, BYPASSRLS or eventstore_admin)', p_operation),
            jsonb_build_object('operation', p_operation));
    END IF;
END;
$$;
-- +goose StatementEnd

-- check_guild_context guards every write: the transaction's guild
-- (eventstore.guild_id) must be the guild written to (ES009). Without a
-- guild in the transaction only an administrator may write (ES015).
-- +goose StatementBegin
CREATE FUNCTION eventstore.check_guild_context(p_guild_id text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
AS $$
DECLARE
    v_context text := nullif(current_setting('eventstore.guild_id', true), '');
BEGIN
    IF v_context IS NOT NULL THEN
        IF p_guild_id IS DISTINCT FROM v_context THEN
            PERFORM eventstore.raise_error('ES009',
                format('this transaction belongs to guild %L and cannot write to guild %L', v_context, p_guild_id),
                jsonb_build_object('guild_id', p_guild_id, 'context_guild_id', v_context));
        END IF;
    ELSIF NOT eventstore.is_admin() THEN
        PERFORM eventstore.raise_error('ES015',
            'set eventstore.guild_id before writing (only an administrator writes without a guild)',
            jsonb_build_object('guild_id', p_guild_id));
    END IF;
END;
$$;
-- +goose StatementEnd

-- Events are immutable. Only the admin paths (hard delete, archive) set
-- eventstore.allow_event_mutation = on for their own transaction. The same
-- trigger function guards the hot table and the archive.
-- +goose StatementBegin
CREATE FUNCTION eventstore.refuse_event_mutation()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, eventstore, pg_temp
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
CREATE TRIGGER events_archive_immutable
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON eventstore.events_archive
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.refuse_event_mutation();

-- Nothing of the schema is PUBLIC's but is_admin and require_admin:
-- functions are granted one by one (every migration revokes what
-- PostgreSQL grants PUBLIC by default on the functions it creates).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventstore FROM PUBLIC;

-- Maintenance functions run as their caller and ask require_admin first:
-- anyone may ask.
GRANT EXECUTE ON FUNCTION eventstore.is_admin(), eventstore.require_admin(text) TO PUBLIC;

-- Row-level security: a role other than the owner (and BYPASSRLS roles) sees
-- only the rows of the transaction's guild. An unset setting reads as NULL or
-- '' and matches no row (guild ids are never empty).
ALTER TABLE eventstore.streams ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.events_archive ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.subscription_group_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY streams_guild_isolation ON eventstore.streams
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));
CREATE POLICY events_guild_isolation ON eventstore.events
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));
CREATE POLICY events_archive_guild_isolation ON eventstore.events_archive
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));
CREATE POLICY snapshots_guild_isolation ON eventstore.snapshots
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));
CREATE POLICY subscriptions_guild_isolation ON eventstore.subscriptions
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));
CREATE POLICY subscription_group_members_guild_isolation ON eventstore.subscription_group_members
    FOR SELECT USING (guild_id = current_setting('eventstore.guild_id', true));

-- The application role reads (its guild's rows) and nothing else.
GRANT USAGE ON SCHEMA eventstore TO eventstore_app;
GRANT SELECT ON eventstore.streams, eventstore.events, eventstore.events_archive,
                eventstore.snapshots, eventstore.subscriptions,
                eventstore.subscription_group_members TO eventstore_app;

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'eventstore_app') THEN
        REVOKE ALL ON ALL TABLES IN SCHEMA eventstore FROM eventstore_app;
        REVOKE USAGE ON SCHEMA eventstore FROM eventstore_app;
    END IF;
END;
$$;
-- +goose StatementEnd
DROP SCHEMA eventstore CASCADE;
