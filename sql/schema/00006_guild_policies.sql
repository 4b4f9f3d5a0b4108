-- Guild isolation for the tables added after 00002_security.sql that it
-- could not cover: eventstore.subscriptions (00003).
--
-- A persistent subscription belongs to the guild of its guild filter
-- (guild_id). A store-wide subscription (guild_id NULL) belongs to no guild
-- and is reserved to administrators (the owner, BYPASSRLS roles). The
-- application role eventstore_app sees, creates, claims, checkpoints and
-- deletes the subscriptions of the guild in eventstore.guild_id only; a row
-- of another guild (or a store-wide one) cannot be written, and row-level
-- security refuses it with 42501. Subscription names stay global: name a
-- guild's subscriptions after their guild.
--
-- Tables of later migrations that hold guild rows enable row-level security
-- and grant eventstore_app themselves, as 00004_lifecycle.sql does.

-- +goose Up
ALTER TABLE eventstore.subscriptions ENABLE ROW LEVEL SECURITY;

CREATE POLICY subscriptions_guild_isolation ON eventstore.subscriptions
    USING (guild_id = current_setting('eventstore.guild_id', true))
    WITH CHECK (guild_id = current_setting('eventstore.guild_id', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON eventstore.subscriptions TO eventstore_app;

-- +goose Down
REVOKE SELECT, INSERT, UPDATE, DELETE ON eventstore.subscriptions FROM eventstore_app;
DROP POLICY subscriptions_guild_isolation ON eventstore.subscriptions;
ALTER TABLE eventstore.subscriptions DISABLE ROW LEVEL SECURITY;
