package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func feedCommand() *command {
	var (
		from   string
		since  string
		count  int
		follow bool
		poll   time.Duration
	)
	return &command{
		name:  "feed",
		usage: "[--from CHECKPOINT | --since TIME] [--count N] [--follow [--poll DURATION] [--metrics-addr HOST:PORT]]",
		short: "print the global feed (every stream, commit order); --follow tails it live",
		flags: func(fs *flag.FlagSet, c *cmdContext) {
			addReplicaFlag(fs, c)
			fs.StringVar(&from, "from", "0", "start after this checkpoint (TRANSACTION_ID/POSITION, as printed; 0 = the beginning)")
			fs.StringVar(&since, "since", "", "start with the first event (in feed order) created at or after this time (RFC 3339 or YYYY-MM-DD; see docs/FEED.md)")
			fs.IntVar(&count, "count", 0, "stop after N events (default: 100, or no limit with --follow)")
			fs.BoolVar(&follow, "follow", false, "keep waiting for new events until interrupted")
			fs.DurationVar(&poll, "poll", time.Second, "with --follow: the longest wait between two reads (new events also wake it at once)")
			metricsFlag(fs, c)
		},
		run: func(ctx context.Context, c *cmdContext, args []string) error {
			if len(args) != 0 {
				return usagef("unexpected argument %q", args[0])
			}
			cp, err := store.ParseCheckpoint(from)
			if err != nil {
				return usagef("--from: %v", err)
			}
			sinceTime, err := parseTimeFlag("--since", since)
			if err != nil {
				return err
			}
			if since != "" && from != "0" {
				return usagef("--from and --since exclude each other")
			}
			if count < 0 {
				return usagef("--count must be at least 1, got %d", count)
			}
			if count == 0 {
				count = -1 // no limit
				if !follow {
					count = 100
				}
			}
			if poll <= 0 {
				return usagef("--poll must be positive, got %s", poll)
			}
			if c.metricsAddr != "" && !follow {
				return usagef("--metrics-addr needs --follow (metrics are served while the feed is followed)")
			}
			if err := c.listenMetrics("feed"); err != nil {
				return err
			}
			s, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			if since != "" {
				if cp, err = s.FeedCheckpointAt(ctx, sinceTime); err != nil {
					return err
				}
			}
			f := &feedTail{c: c, s: s, next: cp, left: count, poll: poll}
			if follow {
				return f.follow(ctx)
			}
			_, err = f.readAvailable(ctx)
			return err
		},
	}
}

// feedTail prints the feed from a checkpoint.
type feedTail struct {
	c    *cmdContext
	s    *store.Store
	next store.Checkpoint
	left int // events still to print; -1: no limit
	poll time.Duration
}

// readAvailable prints the events the feed has now, page by page, and
// reports whether the count limit was reached.
func (f *feedTail) readAvailable(ctx context.Context) (done bool, err error) {
	for f.left != 0 {
		batch := store.DefaultMaxReadBatch
		if f.left > 0 {
			batch = min(batch, f.left)
		}
		page, err := f.s.ReadFeed(ctx, f.next, store.FeedOptions{Limit: batch})
		if err != nil && !errors.As(err, new(*store.DecodeError)) {
			return false, err
		}
		for _, r := range page.Events {
			if err := f.c.printEvent(r, true); err != nil {
				return false, err
			}
		}
		f.next = page.Next
		if f.left > 0 {
			f.left -= len(page.Events)
		}
		if len(page.Events) < batch {
			return f.left == 0, nil
		}
	}
	return true, nil
}

// follow prints the feed and waits for more until the count is reached or
// ctx is cancelled (an interrupt ends it normally). A LISTEN on the store's
// notification channel wakes it as soon as new events commit; the poll
// interval covers writers that do not notify.
//
// A notification that finds nothing new means the events are committed but
// held back by an older transaction that is still running (see ReadFeed),
// in this database or another of the server: the feed is then re-read
// after followRetry, and again after twice as long each time it still finds
// nothing, until the wait reaches the poll interval.
func (f *feedTail) follow(ctx context.Context) error {
	wake := f.listen(ctx)
	defer wake.close()
	chase := time.Duration(0) // the next re-read's delay after a notification; 0: not chasing
	for {
		before := f.next
		done, err := f.readAvailable(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil || done {
			return err
		}
		switch {
		case chase == 0:
		case f.next != before:
			chase = followRetry
		case chase < f.poll:
			chase *= 2
		default:
			chase = 0
		}
		wait := f.poll
		if chase > 0 {
			wait = min(wait, chase)
		}
		if wake.wait(ctx, wait) {
			chase = followRetry
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// followRetry is the first re-read's delay after a notification.
const followRetry = 100 * time.Millisecond

// waker waits for a store notification or a timeout.
type waker struct {
	conn *pgx.Conn // nil: polling only
}

// listen opens a dedicated connection listening on store.NotifyChannel.
// When that fails, the feed is still followed by polling.
func (f *feedTail) listen(ctx context.Context) *waker {
	pool, err := f.c.connect(ctx)
	if err != nil {
		return &waker{}
	}
	return newWaker(ctx, pool)
}

func newWaker(ctx context.Context, pool *pgxpool.Pool) *waker {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return &waker{}
	}
	if _, err := conn.Exec(ctx, "LISTEN "+store.NotifyChannel); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return &waker{}
	}
	return &waker{conn: conn}
}

// wait returns after a notification (reporting true), after d, or when ctx
// is done.
func (w *waker) wait(ctx context.Context, d time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if w.conn == nil {
		<-wctx.Done()
		return false
	}
	_, err := w.conn.WaitForNotification(wctx)
	if err != nil && wctx.Err() == nil {
		// The listening connection broke: fall back to polling.
		_ = w.conn.Close(context.WithoutCancel(ctx))
		w.conn = nil
		<-wctx.Done()
	}
	return err == nil
}

func (w *waker) close() {
	if w.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.conn.Close(ctx)
	}
}
