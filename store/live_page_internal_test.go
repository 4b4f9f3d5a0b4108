package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPageLimitShrinksAndGrows: each read the server cancels halves the
// page, down to one event; other errors leave it; pageGrowAfter successes
// in a row double it, up to the batch size.
func TestPageLimitShrinksAndGrows(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	canceled := fmt.Errorf("read feed: %w", ErrStatementCanceled)
	var p pageLimit
	require.Equal(t, 100, p.limit(100))
	p.outcome(nil, 100, log)
	require.Equal(t, 100, p.limit(100), "a full page stays full")

	for _, want := range []int{50, 25, 12, 6, 3, 1, 1} {
		p.outcome(canceled, 100, log)
		require.Equal(t, want, p.limit(100))
	}
	p.outcome(errors.New("connection reset"), 100, log)
	require.Equal(t, 1, p.limit(100), "other errors say nothing about the page")

	for _, want := range []int{2, 4, 8, 16, 32, 64, 100, 100} {
		for range pageGrowAfter - 1 {
			p.outcome(nil, 100, log)
		}
		p.outcome(nil, 100, log)
		require.Equal(t, want, p.limit(100))
	}

	// A cancellation resets the count of successes.
	p.outcome(canceled, 100, log)
	require.Equal(t, 50, p.limit(100))
	for range pageGrowAfter - 1 {
		p.outcome(nil, 100, log)
	}
	p.outcome(canceled, 100, log)
	require.Equal(t, 25, p.limit(100))
	for range pageGrowAfter - 1 {
		p.outcome(nil, 100, log)
	}
	require.Equal(t, 25, p.limit(100))
	p.outcome(nil, 100, log)
	require.Equal(t, 50, p.limit(100))
}
