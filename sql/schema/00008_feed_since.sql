-- Reading the feed from a time: `eventstore feed --since T` and the
-- subscription start store.FromTime(T) look up, through this index, the
-- first event in feed order created at or after T (see docs/FEED.md,
-- "Starting from a time"):
--
--   SELECT transaction_id, global_position FROM eventstore.events
--    WHERE created_at >= '2026-12-01T00:00:00Z'
--    ORDER BY transaction_id, global_position LIMIT 1;
--
-- created_at is the writing transaction's start time (now()), so it is not
-- monotonic in feed order: the index gives the events created at or after T
-- (an index-only scan: the feed key and guild are included), of which the
-- query keeps the first in feed order.

-- +goose Up
CREATE INDEX events_created_idx ON eventstore.events (created_at) INCLUDE (transaction_id, global_position, guild_id);

-- +goose Down
DROP INDEX eventstore.events_created_idx;
