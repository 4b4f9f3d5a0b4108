package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/stretchr/testify/require"
)

type attemptKey struct{}

// attempt is what a starter puts in the context of one attempt.
type attempt struct {
	id     int
	op     string
	parent *attempt // the attempt whose context this one started from
}

// starter is an Observer and OperationStarter that numbers attempts and
// checks that Observe gets the context StartOperation returned.
type starter struct {
	mu       sync.Mutex
	started  []*attempt
	observed map[int]store.Observation
}

func (s *starter) StartOperation(ctx context.Context, o store.Observation) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, _ := ctx.Value(attemptKey{}).(*attempt)
	a := &attempt{id: len(s.started) + 1, op: o.Op, parent: parent}
	s.started = append(s.started, a)
	return context.WithValue(ctx, attemptKey{}, a)
}

func (s *starter) Observe(ctx context.Context, o store.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	if a == nil {
		panic(fmt.Sprintf("observation of %s without its started context", o.Op))
	}
	if _, dup := s.observed[a.id]; dup || a.op != o.Op {
		panic(fmt.Sprintf("attempt %d (%s) observed again or as %s", a.id, a.op, o.Op))
	}
	s.observed[a.id] = o
}

// TestOperationStarter: an Observer that implements OperationStarter is
// told before every attempt; the attempt's SQL runs with the context it
// returned (so a tracer can make it a child of the attempt), operations
// inside a transaction start from the transaction's context, and every
// start is observed exactly once.
func TestOperationStarter(t *testing.T) {
	t.Parallel()
	var sqlMu sync.Mutex
	sqlBy := map[int][]string{} // attempt id -> SQL run in it
	pool := tracedPool(t, &store.Tracer{TraceFunc: func(ctx context.Context, q store.QueryTrace) {
		if a, ok := ctx.Value(attemptKey{}).(*attempt); ok && q.SQL != "" {
			sqlMu.Lock()
			sqlBy[a.id] = append(sqlBy[a.id], q.SQL)
			sqlMu.Unlock()
		}
	}})
	st := &starter{observed: map[int]store.Observation{}}
	s := store.New(pool, store.Config{Observer: st})
	t.Cleanup(s.Close)
	ctx := store.WithGuild(t.Context(), testGuild)

	_, err := s.Append(ctx, "start", store.NoStream, rawEvents(2, 0)...)
	require.NoError(t, err)
	_, err = s.ReadForward(ctx, "start", 0, 10)
	require.NoError(t, err)
	require.NoError(t, s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.Append(ctx, "start", store.Exact(2), rawEvent("test_event", 3))
		return err
	}))

	st.mu.Lock()
	defer st.mu.Unlock()
	require.Len(t, st.observed, len(st.started), "every started attempt is observed once")
	ops := make([]string, len(st.started))
	for i, a := range st.started {
		ops[i] = a.op
	}
	require.Equal(t, []string{store.OpAppend, store.OpReadForward, store.OpTransaction, store.OpAppend}, ops)

	appendOut, read, tx, appendIn := st.started[0], st.started[1], st.started[2], st.started[3]
	require.Nil(t, appendOut.parent)
	require.Same(t, tx, appendIn.parent, "an operation inside InTx starts from the transaction's context")
	require.True(t, st.observed[appendIn.id].InTx)
	require.Equal(t, int64(1), int64(st.observed[appendIn.id].Events))

	sqlMu.Lock()
	defer sqlMu.Unlock()
	require.NotEmpty(t, sqlBy[appendOut.id], "the append's SQL runs with the started context")
	require.NotEmpty(t, sqlBy[read.id], "the read's SQL runs with the started context")
	require.NotEmpty(t, sqlBy[appendIn.id], "the append inside the transaction too")
	require.NotEmpty(t, sqlBy[tx.id], "and the transaction's own statements (guild, commit)")
}
