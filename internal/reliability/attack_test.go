package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// The attack suite: a bot of guild A, connected as a real login role that
// is a member of eventstore_app, tries to leave its guild. Every test here
// is one break that was found and closed (docs/GUILDS.md, threat model).

const (
	attackerGuild = "guild-attacker"
	victimGuild   = "guild-victim"
)

// attackBed is a migrated database with a victim guild's stream, written
// by the owner, and an attacker: a login role in eventstore_app.
type attackBed struct {
	r        *rig
	bot      *appRole
	victim   *appRole // guild B's own bot, a second login role
	victimID string   // the victim's stream
	eventIDs []uuid.UUID
}

func newAttackBed(t *testing.T) *attackBed {
	t.Helper()
	r := newRig(t)
	b := &attackBed{r: r, bot: newAppRole(t, r), victim: newAppRole(t, r), victimID: "victim-1"}
	ctx := store.WithGuild(t.Context(), victimGuild)
	for i := range 3 {
		id := uuid.New()
		b.eventIDs = append(b.eventIDs, id)
		_, err := r.check.Append(ctx, b.victimID, store.Exact(int64(i)), store.Event{ID: id, Data: serde.Raw{
			Type: "secret", Version: 1, Data: fmt.Appendf(nil, `{"n":%d}`, i),
		}})
		require.NoError(t, err)
	}
	return b
}

func (b *attackBed) victimEvents(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.r.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM eventstore.events WHERE guild_id = $1`, victimGuild).Scan(&n))
	return n
}

// botConn is one connection of the attacker, outside any pool.
func (b *attackBed) botConn(t *testing.T) *pgx.Conn {
	t.Helper()
	cfg := b.bot.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// TestAttackPgTempHijack: the bot shadows a type the SECURITY DEFINER
// functions use (jsonb, text, bigint…) with a domain in pg_temp whose CHECK
// calls the bot's own function, then calls every guild-checked function.
// The bot's function must never run as the schema owner: the victim's
// events survive and no call reports the owner as current_user.
func TestAttackPgTempHijack(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	ctx := t.Context()
	owner := ""
	require.NoError(t, b.r.pool.QueryRow(ctx, `SELECT current_user`).Scan(&owner))

	calls := []string{
		`SELECT * FROM eventstore.record_snapshot('a-1', NULL, 1, 'st', 1, '{"s":1}'::pg_catalog.jsonb)`,
		`SELECT * FROM eventstore.append_events('a-1', 'guild-attacker', -1, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{"a":1}'::pg_catalog.jsonb])`,
		`SELECT * FROM eventstore.append_events('a-2', 'guild-attacker', -2, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{"a":1}'::pg_catalog.jsonb])`,
		`SELECT * FROM eventstore.append_event('a-1', 'guild-attacker', -1, gen_random_uuid(), 't', 1, '{"a":1}'::pg_catalog.jsonb)`,
		`SELECT * FROM eventstore.append_event('a-6', 'guild-attacker', -2, gen_random_uuid(), 't', 1, '{"a":1}'::pg_catalog.jsonb)`,
		`SELECT eventstore.create_stream('a-3', 'guild-attacker')`,
		`SELECT * FROM eventstore.append_batch('guild-attacker', ARRAY['a-4', 'a-5'], ARRAY[-1, -2]::bigint[], ARRAY[1, 1],
			ARRAY[gen_random_uuid(), gen_random_uuid()], ARRAY['t', 't'], ARRAY[1, 1],
			ARRAY['{"a":1}'::pg_catalog.jsonb, '{"a":2}'::pg_catalog.jsonb])`,
		`SELECT eventstore.delete_stream('a-1', NULL, -1)`,
		`SELECT eventstore.set_stream_limit('a-1', NULL, 10)`,
		`SELECT eventstore.delete_snapshot('a-1', NULL)`,
	}
	shadowed := []string{"jsonb", "text", "int8", "bigint", "int4", "integer", "uuid", "bool", "boolean", "xid8", "timestamptz", "streams"}
	hijacks := 0
	for _, call := range calls {
		for _, typ := range shadowed {
			// The bot's payload reports who it runs as (a NOTICE reaches
			// the client even when the call fails) and tries the damage
			// the original report did.
			var who []string
			cfg := b.bot.pool.Config().ConnConfig.Copy()
			cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
				if w, ok := strings.CutPrefix(n.Message, "evil-as:"); ok {
					who = append(who, w)
				}
			}
			conn, err := pgx.ConnectConfig(ctx, cfg)
			require.NoError(t, err)
			_, err = conn.Exec(ctx, `
				CREATE FUNCTION pg_temp.evil(x anyelement) RETURNS boolean LANGUAGE plpgsql AS $$
				BEGIN
					RAISE NOTICE 'evil-as:%', current_user;
					BEGIN
						PERFORM pg_catalog.set_config('eventstore.allow_event_mutation', 'on', true);
						DELETE FROM eventstore.events WHERE guild_id <> 'guild-attacker';
					EXCEPTION WHEN OTHERS THEN
						NULL;
					END;
					RETURN true;
				END $$`)
			require.NoError(t, err)
			base := map[string]string{"bigint": "int8", "integer": "int4", "boolean": "bool"}[typ]
			if base == "" {
				base = typ
			}
			if typ == "streams" {
				_, err = conn.Exec(ctx, `CREATE TABLE pg_temp.streams (stream_id text, guild_id text, version bigint)`)
			} else {
				_, err = conn.Exec(ctx, fmt.Sprintf(
					`CREATE DOMAIN pg_temp.%s AS pg_catalog.%s CHECK (pg_temp.evil(VALUE))`, typ, base))
			}
			require.NoError(t, err)
			_, err = conn.Exec(ctx, `BEGIN`)
			require.NoError(t, err)
			_, err = conn.Exec(ctx, `SELECT set_config('eventstore.guild_id', 'guild-attacker', true)`)
			require.NoError(t, err)
			_, _ = conn.Exec(ctx, call)
			_, _ = conn.Exec(ctx, `COMMIT`)
			require.NoError(t, conn.Close(ctx))
			for _, w := range who {
				if w == owner {
					hijacks++
					t.Errorf("pg_temp.%s hijacked %q: the bot's function ran as the owner %q", typ, call, owner)
				}
			}
		}
	}
	require.Zero(t, hijacks)
	require.Equal(t, 3, b.victimEvents(t), "the victim's events must survive")
}

// holdEveryLock opens a transaction on a bot connection and takes every
// lock the bot's role can take that could touch the store: the advisory
// keys the store used for streams and subscriptions (and a range of
// others), every table lock mode on every table of the schema, and row
// locks on every row it can see. It returns how many it got.
func (b *attackBed) holdEveryLock(t *testing.T, subscriptionNames ...string) int {
	t.Helper()
	ctx := t.Context()
	conn := b.botConn(t)
	_, err := conn.Exec(ctx, `BEGIN`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT set_config('eventstore.guild_id', $1, true)`, attackerGuild)
	require.NoError(t, err)
	held := 0
	try := func(sql string, args ...any) {
		_, err := conn.Exec(ctx, `SAVEPOINT s`)
		require.NoError(t, err)
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			_, rerr := conn.Exec(ctx, `ROLLBACK TO SAVEPOINT s`)
			require.NoError(t, rerr)
			return
		}
		_, err = conn.Exec(ctx, `RELEASE SAVEPOINT s`)
		require.NoError(t, err)
		held++
	}
	// Advisory locks: the keys the store's functions used (readable from
	// their source) and the subscription keys, at session and
	// transaction level.
	try(`SELECT pg_advisory_lock(1163088978, hashtext($1))`, b.victimID)
	try(`SELECT pg_advisory_xact_lock(1163088978, hashtext($1))`, b.victimID)
	for _, name := range subscriptionNames {
		for member := range 4 {
			try(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, fmt.Sprintf("eventstore.subscription:%s:%d", name, member))
		}
	}
	// Table locks in every mode, on every table and view of the schema.
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'eventstore' AND c.relkind IN ('r', 'p', 'v')`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for _, tbl := range tables {
		for _, mode := range []string{"ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE ROW EXCLUSIVE", "SHARE",
			"SHARE UPDATE EXCLUSIVE", "ROW EXCLUSIVE", "ROW SHARE", "ACCESS SHARE"} {
			try(fmt.Sprintf(`LOCK TABLE eventstore.%s IN %s MODE NOWAIT`, tbl, mode))
		}
		// Row locks on whatever the bot can see, in every strength.
		for _, strength := range []string{"UPDATE", "NO KEY UPDATE", "SHARE", "KEY SHARE"} {
			try(fmt.Sprintf(`SELECT 1 FROM eventstore.%s FOR %s NOWAIT`, tbl, strength))
		}
	}
	// Nothing here takes a transaction id: an open transaction that has
	// one holds the global feed's horizon back for every reader of the
	// cluster whatever it locks (any role can take one), a limit
	// docs/GUILDS.md states; this test is about locks.
	var xid *string
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_current_xact_id_if_assigned()::text`).Scan(&xid))
	require.Nil(t, xid, "the lock holder must not hold a transaction id")
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), `ROLLBACK`) })
	return held
}

// TestAttackLocksDoNotStallOtherGuild: while the bot of guild A holds every
// lock it can take, guild B's appends (through its own bot role) and guild
// B's persistent subscription (which must become active and deliver)
// still make progress, each within a bound far below "stalled".
func TestAttackLocksDoNotStallOtherGuild(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	const subName = "victim-announcer"
	held := b.holdEveryLock(t, subName)
	require.Positive(t, held, "the bot should at least hold its ACCESS SHARE locks")

	ctx := store.WithGuild(t.Context(), victimGuild)
	const bound = 10 * time.Second
	for i := range 5 {
		actx, cancel := context.WithTimeout(ctx, bound)
		_, err := b.victim.store.Append(actx, b.victimID, store.Exact(int64(3+i)), store.Event{
			Data: serde.Raw{Type: "more", Version: 1, Data: []byte(`{}`)},
		})
		cancel()
		require.NoError(t, err, "guild B's append %d stalled or failed while the bot holds its locks", i)
		actx, cancel = context.WithTimeout(ctx, bound)
		_, err = b.victim.store.Append(actx, fmt.Sprintf("victim-new-%d", i), store.NoStream, store.Event{
			Data: serde.Raw{Type: "more", Version: 1, Data: []byte(`{}`)},
		})
		cancel()
		require.NoError(t, err, "guild B's new stream %d", i)
	}

	var got atomic.Int64
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := b.victim.store.Subscribe(sctx, store.SubscriptionOptions{
		Name: subName, Start: store.FromOrigin(), Filter: store.FeedFilter{GuildID: victimGuild},
		PollInterval: 50 * time.Millisecond,
	}, func(context.Context, store.Recorded) error { got.Add(1); return nil })
	require.NoError(t, err)
	// The feed's horizon is cluster-wide: a transaction of another test
	// (not the bot's: its table locks take no transaction id) may hold the
	// feed back for a while on a loaded machine, hence three bounds.
	require.Eventually(t, func() bool { return got.Load() >= 13 || !isRunning(sub) }, 3*bound, 10*time.Millisecond,
		"guild B's consumer must become active and deliver while the bot holds its locks (got %d)", got.Load())
	if !isRunning(sub) {
		t.Fatalf("subscription stopped: %v", sub.Wait())
	}
	require.True(t, sub.Active())
	require.NoError(t, sub.Stop())
}

func isRunning(sub *store.Subscription) bool {
	select {
	case <-sub.Done():
		return false
	default:
		return true
	}
}

// TestAttackNoTableLocks: the bot holds no table privilege beyond SELECT,
// so it cannot take a table lock that blocks the store's writes
// (LOCK TABLE … ROW EXCLUSIVE and stronger are refused).
func TestAttackNoTableLocks(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	ctx := t.Context()
	conn := b.botConn(t)
	for _, tbl := range []string{"streams", "events", "subscriptions", "snapshots", "events_archive"} {
		for _, mode := range []string{"ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE ROW EXCLUSIVE", "SHARE", "SHARE UPDATE EXCLUSIVE", "ROW EXCLUSIVE", "ROW SHARE"} {
			_, err := conn.Exec(ctx, fmt.Sprintf(`BEGIN; LOCK TABLE eventstore.%s IN %s MODE NOWAIT`, tbl, mode))
			require.ErrorIs(t, store.MapError(err), store.ErrPermissionDenied, "%s on %s", mode, tbl)
			_, err = conn.Exec(ctx, `ROLLBACK`)
			require.NoError(t, err)
		}
		_, err := conn.Exec(ctx, fmt.Sprintf(`BEGIN; SELECT 1 FROM eventstore.%s FOR KEY SHARE`, tbl))
		require.ErrorIs(t, store.MapError(err), store.ErrPermissionDenied, "row locks on %s", tbl)
		_, err = conn.Exec(ctx, `ROLLBACK`)
		require.NoError(t, err)
	}
}

// TestAttackSubscriptionNameSquatting: the bot of guild A registers the
// subscription name guild B's consumer uses. B's Subscribe fails at once
// with a typed error, without looping, and A's row stays A's.
func TestAttackSubscriptionNameSquatting(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	const name = "announcer"
	actx := store.WithGuild(t.Context(), attackerGuild)
	squat, err := b.bot.store.Subscribe(actx, store.SubscriptionOptions{
		Name: name, Filter: store.FeedFilter{GuildID: attackerGuild}, PollInterval: 50 * time.Millisecond,
	}, func(context.Context, store.Recorded) error { return nil })
	require.NoError(t, err)
	require.Eventually(t, squat.Active, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, squat.Stop())

	vctx := store.WithGuild(t.Context(), victimGuild)
	start := time.Now()
	sub, err := b.victim.store.Subscribe(vctx, store.SubscriptionOptions{
		Name: name, Filter: store.FeedFilter{GuildID: victimGuild}, PollInterval: 50 * time.Millisecond,
	}, func(context.Context, store.Recorded) error { return nil })
	if err == nil {
		// A consumer that started must stop by itself with the typed error.
		select {
		case <-sub.Done():
			err = sub.Wait()
		case <-time.After(10 * time.Second):
			_ = sub.Stop()
			t.Fatal("guild B's consumer keeps running on a name guild A holds, never reporting an error")
		}
	}
	require.ErrorIs(t, err, store.ErrSubscriptionNameTaken)
	require.Less(t, time.Since(start), 5*time.Second, "squatting must fail fast")
	require.NotContains(t, err.Error(), attackerGuild, "the error must not name the other guild")

	var owner string
	require.NoError(t, b.r.pool.QueryRow(t.Context(),
		`SELECT guild_id FROM eventstore.subscriptions WHERE name = $1`, name).Scan(&owner))
	require.Equal(t, attackerGuild, owner)
}

// TestAttackNoCrossGuildLeaks: errors raised for the bot's guild may say
// that an id is taken, never what another guild holds there (its version,
// stream ids, event positions or data).
func TestAttackNoCrossGuildLeaks(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	ctx := store.WithGuild(t.Context(), attackerGuild)
	secrets := []string{victimGuild, `"actual"`, `"stored_stream_id"`, `"stored_version"`, `secret`}
	check := func(what string, err error) {
		t.Helper()
		require.Error(t, err, what)
		text := err.Error()
		var pg *pgconn.PgError
		if errors.As(err, &pg) {
			text += " " + pg.Detail + " " + pg.Hint
		}
		for _, s := range secrets {
			require.NotContains(t, text, s, "%s leaks %q", what, s)
		}
		var vc *store.VersionConflictError
		if errors.As(err, &vc) {
			require.False(t, vc.Actual > 0, "%s reveals the victim's version %d", what, vc.Actual)
		}
	}
	// Through the store.
	err := b.bot.store.CreateStream(ctx, b.victimID)
	check("create_stream of the victim's id", err)
	_, err = b.bot.store.Append(ctx, "attacker-2", store.NoStream, store.Event{ID: b.eventIDs[1],
		Data: serde.Raw{Type: "t", Version: 1, Data: []byte(`{}`)}})
	require.ErrorIs(t, err, store.ErrDuplicateEvent)
	check("append of the victim's event id", err)
	require.NotContains(t, err.Error(), b.victimID)
	for _, ev := range []store.ExpectedVersion{store.NoStream, store.Exact(0), store.Exact(3), store.Any, store.StreamExists} {
		_, err = b.bot.store.Append(ctx, b.victimID, ev, store.Event{Data: serde.Raw{Type: "t", Version: 1, Data: []byte(`{}`)}})
		check(fmt.Sprintf("append to the victim's stream expecting %v", ev), err)
	}
	// With raw SQL, reading the DETAIL the store would hide.
	for _, sql := range []string{
		fmt.Sprintf(`SELECT eventstore.create_stream('%s', '%s')`, b.victimID, attackerGuild),
		fmt.Sprintf(`SELECT eventstore.delete_stream('%s', NULL, 3)`, b.victimID),
		fmt.Sprintf(`SELECT eventstore.set_stream_limit('%s', NULL, 5)`, b.victimID),
		fmt.Sprintf(`SELECT * FROM eventstore.record_snapshot('%s', NULL, 1, 'st', 1, '{}')`, b.victimID),
		fmt.Sprintf(`SELECT * FROM eventstore.append_events('attacker-3', '%s', -1, ARRAY['%s'::uuid], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`,
			attackerGuild, b.eventIDs[2]),
		fmt.Sprintf(`SELECT * FROM eventstore.append_events('%s', '%s', 0, ARRAY[gen_random_uuid()], ARRAY['t'], ARRAY[1], ARRAY['{}'::jsonb])`,
			b.victimID, attackerGuild),
		fmt.Sprintf(`SELECT * FROM eventstore.append_event('attacker-4', '%s', -1, '%s', 't', 1, '{}')`,
			attackerGuild, b.eventIDs[2]),
		fmt.Sprintf(`SELECT * FROM eventstore.append_event('%s', '%s', 0, gen_random_uuid(), 't', 1, '{}')`,
			b.victimID, attackerGuild),
		fmt.Sprintf(`SELECT * FROM eventstore.append_event('%s', '%s', 3, gen_random_uuid(), 't', 1, '{}')`,
			b.victimID, attackerGuild),
		fmt.Sprintf(`SELECT * FROM eventstore.read_stream('%s')`, b.victimID),
	} {
		err := b.bot.exec(t, attackerGuild, sql)
		var pg *pgconn.PgError
		require.True(t, errors.As(err, &pg), "%s: want a PostgreSQL error, got %v", sql, err)
		for _, s := range []string{victimGuild, `"stored_stream_id"`, `"stored_version"`, `secret`, `"version"`, `:3`, `: 3`} {
			require.NotContains(t, pg.Message+" "+pg.Detail+" "+pg.Hint, s, "%s leaks %q", sql, s)
		}
	}
	require.Equal(t, 3, b.victimEvents(t))
}

// TestOwnerReadsScopedToGuild: with the owner's connection (the admin path,
// not subject to row-level security), a guild in the context still scopes
// every read to that guild in SQL: another guild's stream reads as not
// found. Without a guild, the owner reads the whole store.
func TestOwnerReadsScopedToGuild(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	s := b.r.check
	ctx := store.WithGuild(t.Context(), attackerGuild)
	_, err := s.Append(ctx, "attacker-own", store.NoStream, store.Event{Data: serde.Raw{Type: "t", Version: 1, Data: []byte(`{}`)}})
	require.NoError(t, err)
	_, err = s.SaveSnapshot(store.WithGuild(t.Context(), victimGuild), store.Snapshot{
		StreamID: b.victimID, Version: 1, Type: "st", SchemaVersion: 1, Data: []byte(`{"s":1}`),
	})
	require.NoError(t, err)

	_, err = s.ReadForward(ctx, b.victimID, 1, 100)
	require.ErrorIs(t, err, store.ErrStreamNotFound, "ReadForward")
	_, err = s.ReadBackward(ctx, b.victimID, store.End, 100)
	require.ErrorIs(t, err, store.ErrStreamNotFound, "ReadBackward")
	for _, err := range s.Stream(ctx, b.victimID, 1, 100) {
		require.ErrorIs(t, err, store.ErrStreamNotFound, "Stream")
	}
	_, err = s.StreamInfo(ctx, b.victimID)
	require.ErrorIs(t, err, store.ErrStreamNotFound, "StreamInfo")
	_, err = s.ReadSnapshot(ctx, b.victimID, 1)
	require.ErrorIs(t, err, store.ErrSnapshotNotFound, "ReadSnapshot")
	list, err := s.ListStreams(ctx, store.ListOptions{})
	require.NoError(t, err)
	for _, st := range list.Streams {
		require.Equal(t, attackerGuild, st.GuildID, "ListStreams")
	}
	// Another test's open transaction in the shared cluster may hold the
	// feed's horizon back for a moment: wait for the event to be deliverable.
	var page store.FeedPage
	require.Eventually(t, func() bool {
		page, err = s.ReadFeed(ctx, store.Checkpoint{}, store.FeedOptions{Limit: 100})
		require.NoError(t, err)
		return len(page.Events) > 0
	}, 2*time.Minute, 10*time.Millisecond)
	for _, ev := range page.Events {
		require.Equal(t, attackerGuild, ev.GuildID, "ReadFeed")
	}

	// Without a guild: the admin's whole store.
	all, err := s.ReadForward(t.Context(), b.victimID, 1, 100)
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.True(t, strings.HasPrefix(all[0].StreamID, "victim"))
}

// TestAttackConsumerGroupStaysInItsGuild: guild B's bot runs a consumer
// group. The bot of guild A can neither join it (the name is taken), nor
// see it (tables, views, Store.ConsumerGroups), nor take its partitions or
// end its member with the group functions, nor write the rows directly; B's
// member keeps every partition and keeps delivering.
func TestAttackConsumerGroupStaysInItsGuild(t *testing.T) {
	t.Parallel()
	b := newAttackBed(t)
	const name = "scores"
	vctx := store.WithGuild(t.Context(), victimGuild)
	var delivered atomic.Int64
	member, err := b.victim.store.SubscribeGroup(vctx, store.GroupOptions{
		SubscriptionOptions: store.SubscriptionOptions{Name: name, PollInterval: 50 * time.Millisecond, LeaseDuration: 3 * time.Second},
		Partitions:          4,
	}, func(context.Context, store.Recorded) error { delivered.Add(1); return nil })
	require.NoError(t, err)
	t.Cleanup(func() { _ = member.Stop() })
	require.Eventually(t, func() bool { return len(member.Partitions()) == 4 && delivered.Load() == 3 }, time.Minute, 10*time.Millisecond)

	actx := store.WithGuild(t.Context(), attackerGuild)
	_, err = b.bot.store.SubscribeGroup(actx, store.GroupOptions{SubscriptionOptions: store.SubscriptionOptions{Name: name}, Partitions: 4},
		func(context.Context, store.Recorded) error { return nil })
	require.ErrorIs(t, err, store.ErrSubscriptionNameTaken)
	require.NotContains(t, err.Error(), victimGuild)
	_, err = b.bot.store.Subscribe(actx, store.SubscriptionOptions{Name: name, Partition: store.FeedPartition{Member: 0, Count: 4}},
		func(context.Context, store.Recorded) error { return nil })
	require.ErrorIs(t, err, store.ErrSubscriptionNameTaken)

	groups, err := b.bot.store.ConsumerGroups(actx)
	require.NoError(t, err)
	require.Empty(t, groups)
	for _, sql := range []string{
		`SELECT count(*) FROM eventstore.consumer_groups`,
		`SELECT count(*) FROM eventstore.consumer_group_members`,
		`SELECT count(*) FROM eventstore.subscription_group_members`,
		`SELECT count(*) FROM eventstore.subscriptions`,
	} {
		tx, err := b.bot.pool.Begin(t.Context())
		require.NoError(t, err)
		_, err = tx.Exec(t.Context(), `SELECT set_config('eventstore.guild_id', $1, true)`, attackerGuild)
		require.NoError(t, err)
		var n int
		require.NoError(t, tx.QueryRow(t.Context(), sql).Scan(&n))
		require.Zero(t, n, "%s shows guild B's group to guild A", sql)
		require.NoError(t, tx.Rollback(t.Context()))
	}

	// The group functions, called for the victim's guild or the attacker's.
	for _, call := range []struct {
		sql  string
		want error
	}{
		{fmt.Sprintf(`SELECT * FROM eventstore.subscription_group_heartbeat('%s', '%s', 'thief', 60)`, name, victimGuild), store.ErrGuildMismatch},
		{fmt.Sprintf(`SELECT * FROM eventstore.subscription_group_heartbeat('%s', '%s', 'thief', 60)`, name, attackerGuild), store.ErrSubscriptionNameTaken},
		{fmt.Sprintf(`SELECT * FROM eventstore.subscription_group_heartbeat('%s', NULL, 'thief', 60)`, name), store.ErrGuildMismatch},
		{fmt.Sprintf(`SELECT eventstore.subscription_group_leave('%s', '%s', '%s')`, name, victimGuild, member.ID()), store.ErrGuildMismatch},
		{fmt.Sprintf(`SELECT eventstore.subscription_group_join('%s', '%s', 1, '0', 0, '{}')`, name, attackerGuild), store.ErrSubscriptionNameTaken},
		{fmt.Sprintf(`UPDATE eventstore.subscriptions SET holder = 'thief', lease_expires_at = NULL WHERE name = '%s'`, name), store.ErrPermissionDenied},
		{fmt.Sprintf(`DELETE FROM eventstore.subscription_group_members WHERE name = '%s'`, name), store.ErrPermissionDenied},
	} {
		require.ErrorIs(t, b.bot.exec(t, attackerGuild, call.sql), call.want, call.sql)
	}
	// A leave in the attacker's guild naming the victim's member matches nothing.
	require.NoError(t, b.bot.exec(t, attackerGuild,
		fmt.Sprintf(`SELECT eventstore.subscription_group_leave('%s', '%s', '%s')`, name, attackerGuild, member.ID())))

	// B's member still holds everything and delivers a new event.
	_, err = b.r.check.Append(vctx, b.victimID, store.Any, store.Event{Data: serde.Raw{Type: "secret", Version: 1, Data: []byte(`{"n":3}`)}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return delivered.Load() == 4 }, time.Minute, 10*time.Millisecond)
	require.Len(t, member.Partitions(), 4)
	groups, err = b.victim.store.ConsumerGroups(vctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, 4, groups[0].Held)
	require.Equal(t, []int{0, 1, 2, 3}, groups[0].Members[0].Partitions)
}
