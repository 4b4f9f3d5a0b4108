// Package bench measures the event store against raw PostgreSQL.
//
// Run creates a scratch database on the server it is given
// (eventstore_bench_<random>), migrates it with store.Migrate, runs a fixed
// set of scenarios and drops the database again, so it never touches user
// data. Every scenario measures the store and a raw-PostgreSQL baseline in
// the same run, on the same server, with identical rows: the appends write
// the same pre-built rows into eventstore.events (through Store.Append) and
// into a twin table of the same shape and indexes (bench.events, through
// COPY or INSERT); the reads read the same rows of eventstore.events through
// the store and through a plain SELECT. Each side gets a warm-up, then the
// repeats alternate between the two sides: a rate ratio is the median of
// the repeats' own ratios (each repeat of the store over the baseline's
// repeat beside it), latency ratios compare percentiles of every call.
//
// WriteTable and WriteJSON render a Report; `eventstore bench` is the
// command-line front end and docs/PERFORMANCE.md records the figures.
package bench
