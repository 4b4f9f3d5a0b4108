// Package reliability holds the event store's reliability and security
// suite. It has no API: everything lives in its tests, which run against a
// real PostgreSQL like the rest of the project.
//
//   - Faults: while several writers append (distinct and shared streams,
//     batches of 1 to 100 events, exact and "any" expected versions), the
//     suite terminates backends, restarts a dedicated PostgreSQL server,
//     cancels contexts mid-batch, exhausts the pool and sets a tiny
//     statement_timeout. It then checks that every acknowledged append is
//     stored exactly once where the store said, every refused one is
//     absent, every ambiguous one (ErrConnection, a cancelled context) is
//     stored exactly once or absent after re-appending the same events,
//     stream versions are contiguous, the feed delivers every event once
//     and persistent subscriptions deliver every event, never again once a
//     checkpoint passed it.
//   - Load and soak: writers with random expected versions, readers and
//     subscribers for a bounded time (20 s in `make test`; set
//     EVENTSTORE_SOAK to a duration, as `make test/soak` does, for a long
//     run), then the same invariants, and conflicts counted by the writers
//     equal to the store's own counters.
//   - Security: SQL injection through every string input is inert, and the
//     application role eventstore_app can neither change events, read
//     another guild's rows, run maintenance functions nor run DDL.
//
// The fuzz targets live beside the code they exercise (store/fuzz_test.go,
// cmd/eventstore/fuzz_test.go); docs/RELIABILITY.md records what was tried
// and the figures of real runs.
package reliability
