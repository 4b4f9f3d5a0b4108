-- Persistent subscriptions: one row per subscription name and partition
-- member, holding the checkpoint of the last event its handler finished.
--
-- A consumer writes its checkpoint only after its handler succeeded, so a
-- restart resumes right after the last handled event (at-least-once). One
-- consumer per (name, member) is active at a time: it holds a session
-- advisory lock on hashtextextended('eventstore.subscription:' || name ||
-- ':' || member, 0) on a dedicated connection and saves checkpoints on that
-- same connection.

-- +goose Up
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
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, partition_member),
    CHECK (partition_member >= 0 AND partition_member < partition_count)
);

COMMENT ON TABLE eventstore.subscriptions IS
    'Checkpoints of persistent subscriptions, saved after the handler succeeded';
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
    'The guild the subscription belongs to (its guild filter), NULL for store-wide subscriptions';
COMMENT ON COLUMN eventstore.subscriptions.handled_count IS
    'Events handled (or dead-lettered) since the subscription was created';
COMMENT ON COLUMN eventstore.subscriptions.holder IS
    'The consumer that last took the subscription''s lock (host, process id and backend pid)';

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
SET search_path = eventstore, pg_catalog
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

-- +goose Down
DROP FUNCTION eventstore.feed_horizon_status();
DROP TABLE eventstore.subscriptions;
