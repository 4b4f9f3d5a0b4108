package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
)

// deadLetterJSON is one dead letter in the output of `subscriptions
// dead-letters`.
type deadLetterJSON struct {
	ID             int64     `json:"id"`
	Subscription   string    `json:"subscription"`
	Member         int       `json:"member"`
	GuildID        string    `json:"guild_id,omitempty"`
	StreamID       string    `json:"stream_id"`
	Version        int64     `json:"version"`
	EventID        uuid.UUID `json:"event_id"`
	Type           string    `json:"type"`
	GlobalPosition int64     `json:"global_position"`
	// Checkpoint is the event's feed checkpoint, as `feed` prints it.
	Checkpoint       string     `json:"checkpoint"`
	Error            string     `json:"error"`
	Attempts         int        `json:"attempts"`
	Failures         int        `json:"failures"`
	FirstFailedAt    time.Time  `json:"first_failed_at"`
	LastFailedAt     time.Time  `json:"last_failed_at"`
	RetryRequestedAt *time.Time `json:"retry_requested_at,omitempty"`
}

// deadLetterListJSON is the --json output of `subscriptions dead-letters`.
type deadLetterListJSON struct {
	DeadLetters []deadLetterJSON `json:"dead_letters"`
}

// deadLetterActionJSON is the --json output of --retry and --drop.
type deadLetterActionJSON struct {
	// Action is "retry" (the running consumer redelivers it) or "drop".
	Action     string         `json:"action"`
	DeadLetter deadLetterJSON `json:"dead_letter"`
}

func toDeadLetterJSON(d store.DeadLetter) deadLetterJSON {
	return deadLetterJSON{
		ID: d.ID, Subscription: d.Subscription, Member: d.Member, GuildID: d.GuildID, StreamID: d.StreamID,
		Version: d.Version, EventID: d.EventID, Type: d.EventType, GlobalPosition: d.GlobalPosition,
		Checkpoint: d.Checkpoint.String(), Error: d.Error, Attempts: d.Attempts, Failures: d.Failures,
		FirstFailedAt: d.FirstFailedAt, LastFailedAt: d.LastFailedAt, RetryRequestedAt: d.RetryRequestedAt,
	}
}

// deadLetters lists the dead letters of subscription name, or retries or
// drops one of them.
func (c *cmdContext) deadLetters(ctx context.Context, s *store.Store, name string, retry, drop int64) error {
	if retry != 0 || drop != 0 {
		// The dead letter must be one of name's: check before acting.
		list, err := s.DeadLetters(ctx, name)
		if err != nil {
			return err
		}
		id, action := retry, "retry"
		if drop != 0 {
			id, action = drop, "drop"
		}
		found := false
		for _, d := range list {
			found = found || d.ID == id
		}
		if !found {
			return fmt.Errorf("%s dead letter %d: %w (subscription %s has no dead letter %d)", action, id, store.ErrDeadLetterNotFound, name, id)
		}
		var d store.DeadLetter
		if action == "retry" {
			d, err = s.RetryDeadLetter(ctx, id)
		} else {
			d, err = s.DropDeadLetter(ctx, id)
		}
		if err != nil {
			return err
		}
		out := deadLetterActionJSON{Action: action, DeadLetter: toDeadLetterJSON(d)}
		if action == "retry" {
			return c.print(out, "dead letter %d (%s@%d) will be redelivered by the running consumer of %s within about its poll interval\n",
				d.ID, d.StreamID, d.Version, name)
		}
		return c.print(out, "dropped dead letter %d (%s@%d); the event stays in the store\n", d.ID, d.StreamID, d.Version)
	}
	list, err := s.DeadLetters(ctx, name)
	if err != nil {
		return err
	}
	out := deadLetterListJSON{DeadLetters: make([]deadLetterJSON, len(list))}
	for i, d := range list {
		out.DeadLetters[i] = toDeadLetterJSON(d)
	}
	if c.json {
		return printJSON(c.env.Stdout, out)
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tMEMBER\tEVENT\tCHECKPOINT\tTYPE\tATTEMPTS\tLAST FAILED\tRETRY\tERROR")
	for _, d := range out.DeadLetters {
		retry := "-"
		if d.RetryRequestedAt != nil {
			retry = "requested"
		}
		fmt.Fprintf(w, "%d\t%d\t%s@%d\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Member, d.StreamID, d.Version, d.Checkpoint,
			d.Type, d.Attempts, formatTime(d.LastFailedAt), retry, oneLine(d.Error, 80))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.env.Stdout, "%d dead letter(s)\n", len(out.DeadLetters))
	return err
}

// oneLine shortens s to its first line, at most n characters.
func oneLine(s string, n int) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			s = s[:i]
			break
		}
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
