package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// subscriptionJSON is one persistent subscription member in the output of
// `eventstore subscriptions`.
type subscriptionJSON struct {
	Name    string `json:"name"`
	Member  int    `json:"member"`
	Members int    `json:"members"`
	// Source is the subscribed stream, or "$all" for the global feed.
	Source string `json:"source"`
	// Checkpoint is where the next consumer resumes after: TRANSACTION_ID/
	// POSITION for the feed (as `feed` prints it), a version for a stream.
	Checkpoint string           `json:"checkpoint"`
	GuildID    string           `json:"guild_id,omitempty"`
	Filter     store.FeedFilter `json:"filter"`
	Handled    int64            `json:"handled"`
	// EventsBehind is an upper bound of the events still to pass (feed
	// counts stop at 10001); null when unknown.
	EventsBehind *int64 `json:"events_behind"`
	// ConsumerActive reports a live lease: a consumer runs it now.
	ConsumerActive bool       `json:"consumer_active"`
	Holder         string     `json:"holder,omitempty"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// subscriptionListJSON is the --json output of `subscriptions list`,
// `show` and `reset`.
type subscriptionListJSON struct {
	Subscriptions []subscriptionJSON `json:"subscriptions"`
}

// subscriptionDeleteJSON is the --json output of `subscriptions delete`.
type subscriptionDeleteJSON struct {
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
}

func subscriptionsCommand() *command {
	var (
		guild, to   string
		retry, drop int64
	)
	return &command{
		name: "subscriptions",
		usage: "list [--guild G]\n" +
			"       eventstore subscriptions show NAME [--guild G]\n" +
			"       eventstore subscriptions reset NAME --to start|end|TRANSACTION_ID/POSITION|VERSION|TIME [--guild G]\n" +
			"       eventstore subscriptions delete NAME [--guild G]\n" +
			"       eventstore subscriptions dead-letters NAME [--retry ID | --drop ID] [--guild G]",
		short: "list, inspect, reset or delete persistent subscriptions; list, retry or drop their dead letters",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			addGuildFlag(fs, &guild, "subscription")
			fs.StringVar(&to, "to", "", "with reset: the new checkpoint (start, end, TRANSACTION_ID/POSITION as the feed command prints it, "+
				"a version for a stream subscription, or an RFC 3339 time)")
			fs.Int64Var(&retry, "retry", 0, "with dead-letters: redeliver this dead letter to the subscription's handler")
			fs.Int64Var(&drop, "drop", 0, "with dead-letters: forget this dead letter")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) == 0 {
				return usagef("want list, show, reset, delete or dead-letters")
			}
			sub, args := args[0], args[1:]
			var name string
			switch sub {
			case "list":
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
			case "show", "reset", "delete", "dead-letters":
				if len(args) != 1 {
					return usagef("subscriptions %s wants exactly one subscription name", sub)
				}
				name = args[0]
			default:
				return usagef("unknown subcommand %q (want list, show, reset, delete or dead-letters)", sub)
			}
			if (to != "") != (sub == "reset") {
				if to == "" {
					return usagef("subscriptions reset needs --to start|end|TRANSACTION_ID/POSITION|VERSION|TIME")
				}
				return usagef("--to goes with subscriptions reset only")
			}
			if (retry != 0 || drop != 0) && sub != "dead-letters" {
				return usagef("--retry and --drop go with subscriptions dead-letters only")
			}
			if retry != 0 && drop != 0 {
				return usagef("--retry and --drop exclude each other")
			}
			if retry < 0 || drop < 0 {
				return usagef("a dead letter id is a positive number")
			}
			ctx, err := guildContext(ctx, guild)
			if err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			switch sub {
			case "list":
				infos, err := s.Subscriptions(ctx)
				if err != nil {
					return err
				}
				return c.printSubscriptions(ctx, s.Pool(), infos)
			case "show":
				infos, err := s.SubscriptionInfo(ctx, name)
				if err != nil {
					return err
				}
				return c.printSubscriptions(ctx, s.Pool(), infos)
			case "reset":
				infos, err := s.SubscriptionInfo(ctx, name)
				if err != nil {
					return err
				}
				start, err := parseResetTarget(to, infos[0].StreamID != "")
				if err != nil {
					return err
				}
				if infos, err = s.ResetSubscription(ctx, name, start); err != nil {
					return err
				}
				if !c.json {
					fmt.Fprintf(c.env.Stdout, "reset subscription %s: its next consumer starts after %s\n",
						name, formatCheckpoint(infos[0]))
				}
				return c.printSubscriptions(ctx, s.Pool(), infos)
			case "delete":
				if err := s.DeleteSubscription(ctx, name); err != nil {
					return err
				}
				return c.print(subscriptionDeleteJSON{Name: name, Deleted: true},
					"deleted subscription %s (a consumer started again begins at its start position)\n", name)
			}
			return c.deadLetters(ctx, s, name, retry, drop)
		},
	}
}

// parseResetTarget parses --to for a stream subscription (stream) or a
// feed subscription.
func parseResetTarget(to string, stream bool) (store.SubscriptionStart, error) {
	switch to {
	case "start":
		return store.FromOrigin(), nil
	case "end":
		return store.FromEnd(), nil
	}
	if n, err := strconv.ParseInt(to, 10, 64); err == nil {
		switch {
		case n < 0:
			return store.SubscriptionStart{}, usagef("--to: version %d must not be negative", n)
		case stream:
			return store.AfterVersion(n), nil
		case n == 0:
			return store.FromOrigin(), nil
		}
		return store.SubscriptionStart{}, usagef("--to %s: a feed subscription's checkpoint is TRANSACTION_ID/POSITION (as `feed` prints it), start or end", to)
	}
	if strings.Contains(to, "/") {
		if stream {
			return store.SubscriptionStart{}, usagef("--to %s: a stream subscription's checkpoint is a version, start or end", to)
		}
		cp, err := store.ParseCheckpoint(to)
		if err != nil {
			return store.SubscriptionStart{}, usagef("--to: %v", err)
		}
		return store.AfterCheckpoint(cp), nil
	}
	if stream {
		return store.SubscriptionStart{}, usagef("--to %q: want start, end or a version", to)
	}
	if t, err := parseTimeFlag("--to", to); err == nil {
		return store.FromTime(t), nil
	}
	return store.SubscriptionStart{}, usagef("--to %q: want start, end, TRANSACTION_ID/POSITION or a time (RFC 3339 or YYYY-MM-DD)", to)
}

// formatCheckpoint prints a member's checkpoint as `feed` (or a version).
func formatCheckpoint(info store.SubscriptionInfo) string {
	if info.StreamID != "" {
		return strconv.FormatInt(info.Version, 10)
	}
	return info.Checkpoint.String()
}

// printSubscriptions prints members with their lease and backlog, read
// from the eventstore.subscription_lag view.
func (c *cmdContext) printSubscriptions(ctx context.Context, pool *pgxpool.Pool, infos []store.SubscriptionInfo) error {
	out := subscriptionListJSON{Subscriptions: make([]subscriptionJSON, len(infos))}
	names := make([]string, 0, len(infos))
	index := make(map[string]int, len(infos))
	for i, info := range infos {
		source := info.StreamID
		if source == "" {
			source = "$all"
		}
		out.Subscriptions[i] = subscriptionJSON{
			Name: info.Name, Member: info.Member, Members: info.Members, Source: source,
			Checkpoint: formatCheckpoint(info), GuildID: info.GuildID, Filter: info.Filter, Handled: info.Handled,
			Holder: info.Holder, CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt,
		}
		names = append(names, info.Name)
		index[fmt.Sprintf("%s\x00%d", info.Name, info.Member)] = i
	}
	if len(names) > 0 {
		rows, err := pool.Query(ctx, `
SELECT name, partition_member, events_behind, consumer_active, lease_expires_at
  FROM eventstore.subscription_lag WHERE name = ANY($1::text[])`, names)
		if err != nil {
			return fmt.Errorf("subscription lag: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				name    string
				member  int
				behind  *int64
				active  bool
				expires *time.Time
			)
			if err := rows.Scan(&name, &member, &behind, &active, &expires); err != nil {
				return fmt.Errorf("subscription lag: %w", err)
			}
			if i, ok := index[fmt.Sprintf("%s\x00%d", name, member)]; ok {
				m := &out.Subscriptions[i]
				m.EventsBehind, m.ConsumerActive, m.LeaseExpiresAt = behind, active, utcTimePtr(expires)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("subscription lag: %w", err)
		}
	}
	if c.json {
		return printJSON(c.env.Stdout, out)
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tMEMBER\tSOURCE\tCHECKPOINT\tHANDLED\tBEHIND\tCONSUMER\tGUILD")
	for _, m := range out.Subscriptions {
		behind := "-"
		if m.EventsBehind != nil {
			behind = strconv.FormatInt(*m.EventsBehind, 10)
			if *m.EventsBehind > 10000 {
				behind = ">10000"
			}
		}
		consumer := "none"
		if m.ConsumerActive {
			consumer = "active (" + m.Holder + ")"
		}
		guild := m.GuildID
		if guild == "" {
			guild = "-"
		}
		fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\t%d\t%s\t%s\t%s\n", m.Name, m.Member, m.Members, m.Source, m.Checkpoint,
			m.Handled, behind, consumer, guild)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.env.Stdout, "%d subscription member(s)\n", len(out.Subscriptions))
	return err
}
