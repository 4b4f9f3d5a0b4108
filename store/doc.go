// Package store is the public face of the GameBot event store: a
// PostgreSQL-only store of versioned, immutable event streams.
//
// Stream versioning, optimistic concurrency checks and batched reads live in
// SQL (the eventstore schema's plpgsql functions and sqlc-generated queries);
// this package adds serialization, validation before any SQL runs, error
// mapping to the sentinels in errors.go, and the guild carried in the
// context.
//
// Appending:
//
//	ctx = store.WithGuild(ctx, "guild-1")
//	res, err := s.Append(ctx, "game-42", store.NoStream, store.Event{Data: ev})
//
// Expected versions: Any, NoStream, StreamExists or Exact(n). A mismatch is a
// *VersionConflictError that matches ErrWrongExpectedVersion with errors.Is.
//
// Versions: a stream's version is its number of events; the first event has
// version 1, and an empty or missing stream has version 0.
//
// Reading: ReadForward/ReadBackward read one page; Stream iterates a whole
// stream in batches; ReadFeed reads every stream in commit-safe order after a
// Checkpoint (see docs/FEED.md).
//
// Transactions and guilds: InTx runs a function in one transaction that
// store calls made with its context join, with eventstore.guild_id set for
// row-level security and whole-transaction retries of recoverable errors
// (RetryPolicy). Every operation is reported to the Config.Observer and
// counted in Stats; Tracer reports every pgx call (see docs/GUILDS.md).
//
// Subscriptions: Subscribe delivers the feed (or one stream) to a handler,
// catching up and then following live; named subscriptions keep a
// checkpoint and have one active consumer across processes (a lease in
// their row); SubscribeGroup spreads a subscription's partitions over the
// live members of a consumer group, rebalancing as they join, stop or die;
// a Broadcaster fans events out in process (see docs/FEED.md).
//
// The live layer runs every subscription: the Store's one listener (a
// single LISTEN connection, open while a subscription runs) and in-process
// waker (live.go), the consume loop (live_consume.go) and the leases
// (live_lease.go). A subscription's state (SubscriptionState) moves
//
//	standby ──lease granted──► catching up ◄──full page── live
//	   ▲                           │                      ▲
//	   └──lease lost───────────────┴──caught up───────────┘
//
// and ends stopped (Stop, its context) or failed (Wait says why).
//
// Standbys: Config.Replicas sends the reads to hot standbys of the primary,
// with read-your-writes for the Store's own writes (and ConsistencyToken
// for others'), health and lag checks, and the feed's order intact (see
// ReplicaConfig and docs/SCALING.md).
//
// Lifecycle: snapshots (SaveSnapshot, ReadSnapshot), per-stream limits,
// archiving (ArchiveStream, ArchiveCompleted), soft and hard deletion, and
// ListStreams for operators (see docs/LIFECYCLE.md).
//
// Appends are idempotent by event id: re-appending a batch whose ids are
// already stored at the same positions returns the original result, so a
// retry after an ambiguous failure (a lost connection during commit) never
// duplicates events.
package store
