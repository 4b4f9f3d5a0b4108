package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"

	"github.com/gamebot/eventstore/store"
)

func migrateCommand() *command {
	var (
		to    int64
		toSet bool // --to was given; without it down rolls back one step
		yes   bool
	)
	return &command{
		name:  "migrate",
		usage: "up | down [--to N] | status | check | reset [--yes]",
		short: "apply, roll back, list, check or reset the schema migrations (goose, embedded)",
		flags: func(fs *flag.FlagSet, _ *cmdContext) {
			fs.Func("to", "with down: roll back until version `N` is the newest applied, 0 removes the schema (default: one step)", func(s string) error {
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return errors.New("not a number")
				}
				to, toSet = v, true
				return nil
			})
			fs.BoolVar(&yes, "yes", false, "with reset: confirm dropping every event (needed unless the database is local)")
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 1 {
				return usagef("want one of up, down, status, check, reset")
			}
			if !slices.Contains([]string{"up", "down", "status", "check", "reset"}, args[0]) {
				return usagef("unknown migrate action %q (want up, down, status, check or reset)", args[0])
			}
			if toSet && to < 0 {
				return usagef("--to must be a version >= 0, got %d (without --to, down rolls back one migration)", to)
			}
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			switch args[0] {
			case "up":
				applied, err := store.Migrate(ctx, pool)
				if err != nil {
					return err
				}
				return c.printMigrated("applied", applied)
			case "down":
				target := to
				if !toSet {
					st, err := store.MigrateStatus(ctx, pool)
					if err != nil {
						return err
					}
					target = 0
					for i := len(st) - 1; i >= 0; i-- {
						if st[i].Applied {
							if i > 0 {
								target = st[i-1].Version
							}
							break
						}
					}
				}
				rolled, err := store.MigrateDown(ctx, pool, target)
				if err != nil {
					return err
				}
				return c.printMigrated("rolled back", rolled)
			case "status":
				st, err := store.MigrateStatus(ctx, pool)
				if err != nil {
					return err
				}
				if c.json {
					return json.NewEncoder(c.env.Stdout).Encode(st)
				}
				for _, m := range st {
					state := "pending"
					if m.Applied {
						state = "applied"
					}
					fmt.Fprintf(c.env.Stdout, "%05d  %-8s %s\n", m.Version, state, m.Name)
				}
				return nil
			case "check":
				// Any role may check: Store.CheckSchema reads the catalog
				// only (status reads goose's table, which the application
				// role may not).
				s := store.New(pool, store.Config{DisableNotify: true})
				defer s.Close()
				if err := s.CheckSchema(ctx); err != nil {
					return err
				}
				if c.json {
					return json.NewEncoder(c.env.Stdout).Encode(map[string]bool{"up_to_date": true})
				}
				fmt.Fprintln(c.env.Stdout, "the schema has every function this build calls")
				return nil
			default: // reset
				if !yes {
					dev, err := c.isDevDatabase(ctx, pool)
					if err != nil {
						return err
					}
					if !dev {
						return errors.New("reset drops every event: pass --yes to confirm (the database is not local)")
					}
				}
				rolled, err := store.MigrateDown(ctx, pool, 0)
				if err != nil {
					return err
				}
				applied, err := store.Migrate(ctx, pool)
				if err != nil {
					return err
				}
				if c.json {
					return json.NewEncoder(c.env.Stdout).Encode(map[string][]int64{"rolled_back": rolled, "applied": applied})
				}
				fmt.Fprintf(c.env.Stdout, "reset: rolled back %d migrations, applied %d\n", len(rolled), len(applied))
				return nil
			}
		},
	}
}

func (c *cmdContext) printMigrated(verb string, versions []int64) error {
	if c.json {
		if versions == nil {
			versions = []int64{}
		}
		return json.NewEncoder(c.env.Stdout).Encode(map[string][]int64{verb: versions})
	}
	if len(versions) == 0 {
		fmt.Fprintf(c.env.Stdout, "nothing %s: the schema is up to date\n", verb)
		return nil
	}
	for _, v := range versions {
		fmt.Fprintf(c.env.Stdout, "%s %05d\n", verb, v)
	}
	return nil
}
