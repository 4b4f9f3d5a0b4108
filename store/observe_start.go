package store

import "context"

// OperationStarter is an optional interface of an Observer. When the
// store's Observer implements it, StartOperation is called before every
// attempt of every store operation — each attempt of a transaction
// included — with the Observation's Op, StreamID, GuildID, Attempt and InTx
// set (the rest is zero). The attempt runs with the context StartOperation
// returns: its database calls, and for a transaction the function run
// inside it, see that context, and Observe later receives it for the same
// attempt. Observe is called exactly once for every StartOperation.
//
// Tracing uses it to open a span for the attempt that the attempt's SQL
// round trips (traced by a pgx tracer) become children of. StartOperation
// must return ctx or a context derived from it that is done when ctx is
// (add values only); it must be safe for concurrent use and return
// quickly.
type OperationStarter interface {
	StartOperation(ctx context.Context, o Observation) context.Context
}

// startAttempt gives the Observer, when it implements OperationStarter,
// the attempt about to run, and returns the context to run it with.
func (s *Store) startAttempt(ctx context.Context, o Observation) context.Context {
	if st, ok := s.cfg.Observer.(OperationStarter); ok {
		return st.StartOperation(ctx, o)
	}
	return ctx
}
