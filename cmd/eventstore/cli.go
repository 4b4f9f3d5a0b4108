package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"

	"github.com/jackc/pgx/v5/pgxpool"
)

// env is what a command may touch of the outside world, so that tests run
// commands in-process.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// DevDatabase reports whether the server a connection reached (its
	// remote address: a *net.TCPAddr, or a *net.UnixAddr for a Unix socket)
	// is local or throwaway, so that `migrate reset` may run there without
	// --yes. Nil: the default check (isLocalAddr, or EVENTSTORE_DEV=1).
	DevDatabase func(addr net.Addr) bool
}

// command is one subcommand.
type command struct {
	name  string
	usage string // arguments after the name
	short string // one line for the command list
	// run executes the command. fs is already parsed; args are the remaining
	// arguments.
	run   func(ctx context.Context, c *cmdContext, args []string) error
	flags func(fs *flag.FlagSet, c *cmdContext)
}

// cmdContext holds the global flags and lazily opened resources.
type cmdContext struct {
	env         env
	databaseURL string
	json        bool
	pool        *pgxpool.Pool
	// metricsAddr is --metrics-addr of a long-running command, and
	// metricsListener its socket once listenMetrics opened it.
	metricsAddr     string
	metricsListener net.Listener
	tel             *telemetry // set up by the first connect
	// replicaURLs are the read commands' --replica-url standbys, opened
	// into replicaPools (see replicas.go).
	replicaURLs  []string
	replicaPools []*pgxpool.Pool
}

// usageError is a bad invocation: the message is followed by a hint to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func commands() []*command {
	cmds := []*command{migrateCommand()}
	cmds = append(cmds, extraCommands()...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// extraCommands lists the commands beyond migrate; each lives in its own file.
func extraCommands() []*command {
	return []*command{
		demoCommand(), benchCommand(),
		streamsCommand(), infoCommand(), readCommand(), feedCommand(), appendCommand(), statsCommand(), replayCommand(),
		deleteCommand(), hardDeleteCommand(), archiveCommand(), limitCommand(), snapshotCommand(), subscriptionsCommand(),
	}
}

func run(ctx context.Context, args []string, e env) int {
	c := &cmdContext{env: e}
	defer func() {
		// The final metric export may read the lag gauges: before the pool closes.
		if err := c.tel.close(); err != nil {
			fmt.Fprintf(e.Stderr, "eventstore: OpenTelemetry shutdown: %v\n", err)
		}
		if c.metricsListener != nil {
			_ = c.metricsListener.Close() // already closed when the server ran
		}
		c.closeReplicas()
		if c.pool != nil {
			c.pool.Close()
		}
	}()
	global := flag.NewFlagSet("eventstore", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	addGlobalFlags(global, c)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.Stdout)
			return 0
		}
		fmt.Fprintf(e.Stderr, "eventstore: %v (see eventstore --help)\n", err)
		return 1
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) > 1 {
			if cmd := findCommand(rest[1]); cmd != nil {
				printCommandHelp(e.Stdout, cmd, c)
				return 0
			}
		}
		printHelp(e.Stdout)
		if len(rest) == 0 {
			return 1
		}
		return 0
	}
	cmd := findCommand(rest[0])
	if cmd == nil {
		fmt.Fprintf(e.Stderr, "eventstore: unknown command %q (see eventstore --help)\n", rest[0])
		return 1
	}
	fs := commandFlags(cmd, c)
	positional, err := parseInterspersed(fs, rest[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(e.Stdout, cmd, c)
			return 0
		}
		fmt.Fprintf(e.Stderr, "eventstore %s: %v (see eventstore %s --help)\n", cmd.name, err, cmd.name)
		return 1
	}
	if err := cmd.run(ctx, c, positional); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(e.Stderr, "eventstore %s: %v (see eventstore %s --help)\n", cmd.name, err, cmd.name)
		} else {
			fmt.Fprintf(e.Stderr, "eventstore %s: %v\n", cmd.name, err)
		}
		return 1
	}
	return 0
}

func addGlobalFlags(fs *flag.FlagSet, c *cmdContext) {
	// The current values are the defaults, so flags given before the command
	// survive the command's own flag set.
	fs.StringVar(&c.databaseURL, "database-url", c.databaseURL, "PostgreSQL URL (default: $DATABASE_URL, then libpq PG* variables)")
	fs.BoolVar(&c.json, "json", c.json, "print JSON instead of text")
}

func commandFlags(cmd *command, c *cmdContext) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addGlobalFlags(fs, c)
	if cmd.flags != nil {
		cmd.flags(fs, c)
	}
	return fs
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func findCommand(name string) *command {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "eventstore — operate a GameBot event store (PostgreSQL)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: eventstore [--database-url URL] [--json] COMMAND [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The database URL comes from --database-url, else $DATABASE_URL, else the libpq")
	fmt.Fprintln(w, "variables (PGHOST, PGPORT, PGUSER, PGDATABASE, ...). Run `eventstore COMMAND --help`")
	fmt.Fprintln(w, "for a command's flags. Exit status: 0 on success, 1 on error.")
}

func printCommandHelp(w io.Writer, cmd *command, c *cmdContext) {
	fmt.Fprintf(w, "Usage: eventstore %s %s\n\n%s\n\nFlags:\n", cmd.name, cmd.usage, cmd.short)
	fs := commandFlags(cmd, c)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// connect opens (once) a pool on the configured database.
func (c *cmdContext) connect(ctx context.Context) (*pgxpool.Pool, error) {
	if c.pool != nil {
		return c.pool, nil
	}
	url := c.databaseURL
	if url == "" {
		url = c.env.Getenv("DATABASE_URL")
	}
	if url == "" && !hasLibpqEnv(c.env.Getenv) {
		return nil, errors.New("no database: pass --database-url, or set DATABASE_URL or PGHOST/PGDATABASE")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	tel, err := c.telemetry(ctx)
	if err != nil {
		return nil, err
	}
	tel.installTracer(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	c.pool = pool
	return pool, nil
}

func hasLibpqEnv(getenv func(string) string) bool {
	for _, k := range []string{"PGHOST", "PGDATABASE", "PGSERVICE", "PGPORT", "PGUSER"} {
		if getenv(k) != "" {
			return true
		}
	}
	return false
}

// isDevDatabase reports whether pool points at a throwaway or local database
// where `migrate reset` may run without --yes. It decides on the server a
// connection of the pool actually reached, so a multi-host URL is judged by
// the host it connected to, not by its first host.
func (c *cmdContext) isDevDatabase(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	addr := conn.Conn().PgConn().Conn().RemoteAddr()
	conn.Release()
	if c.env.DevDatabase != nil {
		return c.env.DevDatabase(addr), nil
	}
	return isLocalAddr(addr) || c.env.Getenv("EVENTSTORE_DEV") == "1", nil
}

// isLocalAddr reports whether addr, the server end of a connection, is on
// this machine: a loopback IP address or a Unix socket.
func isLocalAddr(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}
