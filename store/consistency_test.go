package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamebot/eventstore/internal/testdb"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

func TestConsistencyTokenFormat(t *testing.T) {
	t.Parallel()
	tok, err := store.ParseConsistencyToken("16/B374D848")
	require.NoError(t, err)
	require.Equal(t, "16/B374D848", tok.String())
	again, err := store.ParseConsistencyToken(tok.String())
	require.NoError(t, err)
	require.Equal(t, tok, again)
	zero, err := store.ParseConsistencyToken("0/0")
	require.NoError(t, err)
	require.True(t, zero.IsZero())
	require.Equal(t, tok, zero.Max(tok))
	require.True(t, zero.Less(tok))
	require.False(t, tok.Less(tok))
	for _, bad := range []string{"", "16", "16/", "/1", "x/1", "1/100000000", "-1/2"} {
		_, err := store.ParseConsistencyToken(bad)
		require.ErrorIs(t, err, store.ErrInvalidArgument, bad)
	}
	ctx := store.WithConsistency(t.Context(), tok)
	ctx = store.WithConsistency(ctx, zero)
	require.Equal(t, tok, store.ConsistencyFromContext(ctx), "a context keeps the later token")
}

// TestReplicaNoneConfigured: without replicas every read goes to the
// primary and Stats reports no standby.
func TestReplicaNoneConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "s", store.NoStream, rawEvents(2, 0)...)
	require.NoError(t, err)
	tok, err := b.store.ConsistencyToken(b.ctx)
	require.NoError(t, err)
	require.False(t, tok.IsZero())
	recs, err := b.store.ReadForward(store.WithConsistency(b.ctx, tok), "s", 1, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	st := b.store.Stats()
	require.Nil(t, st.Replicas)
	require.Zero(t, st.PrimaryReads)
	require.Nil(t, b.store.CheckReplicas(b.ctx))
}

// TestReplicaReadYourWrites makes 10,000 append-then-read pairs across
// streams through a store that reads from the standby: every read sees its
// append, whether the standby or (after MaxWait) the primary served it. A
// second store, which did not write, reads with the writer's token and sees
// the append too; without one, its reads may be stale but never show a
// partial batch.
func TestReplicaReadYourWrites(t *testing.T) {
	t.Parallel()
	rb := setupReplica(t)
	const (
		workers = 8
		pairs   = 10_000
		streams = 16 // per worker
		batch   = 3
	)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			versions := make([]int64, streams)
			for i := next.Add(1); i <= pairs; i = next.Add(1) {
				k := int(i) % streams
				id := fmt.Sprintf("ryw-%d-%d", w, k)
				res, err := rb.store.Append(rb.ctx, id, store.Exact(versions[k]), rawEvents(batch, int(i)*batch)...)
				if err != nil {
					errs <- err
					return
				}
				versions[k] = res.Version
				// Alternate the read paths: a page from the end, a page from
				// the batch's first event, and the stream's info.
				switch i % 3 {
				case 0:
					recs, err := rb.store.ReadBackward(rb.ctx, id, store.End, 1)
					if err == nil && (len(recs) != 1 || recs[0].Version != res.Version) {
						err = fmt.Errorf("pair %d: read %d events, last %v, after appending up to version %d", i, len(recs), recs, res.Version)
					}
					if err != nil {
						errs <- err
						return
					}
				case 1:
					recs, err := rb.store.ReadForward(rb.ctx, id, res.Version-batch+1, 10)
					if err == nil && len(recs) != batch {
						err = fmt.Errorf("pair %d: read %d of the %d events appended", i, len(recs), batch)
					}
					if err != nil {
						errs <- err
						return
					}
				default:
					info, err := rb.store.StreamInfo(rb.ctx, id)
					if err == nil && info.Version != res.Version {
						err = fmt.Errorf("pair %d: stream info says version %d after an append to %d", i, info.Version, res.Version)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := rb.store.Stats()
	t.Logf("read-your-writes: %d reads on the standby (%d waited, %d fell back to the primary), %d on the primary",
		st.Replicas[0].Reads, st.Replicas[0].Waits, st.Replicas[0].Fallbacks, st.PrimaryReads)
	require.Positive(t, st.Replicas[0].Reads, "the standby served reads")

	t.Run("token from another store", func(t *testing.T) {
		reader := store.New(rb.pool, store.Config{Replicas: store.ReplicaConfig{Pools: []*pgxpool.Pool{rb.standby}}})
		t.Cleanup(reader.Close)
		waitReplicaHealthy(t, reader)
		for i := range 300 {
			id := fmt.Sprintf("token-%d", i%10)
			res, err := rb.store.Append(rb.ctx, id, store.Any, rawEvents(batch, i*batch)...)
			require.NoError(t, err)
			tok, err := rb.store.ConsistencyToken(rb.ctx)
			require.NoError(t, err)
			// Through its text form, as between processes.
			parsed, err := store.ParseConsistencyToken(tok.String())
			require.NoError(t, err)
			recs, err := reader.ReadBackward(store.WithConsistency(rb.ctx, parsed), id, store.End, 1)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			require.Equal(t, res.Version, recs[0].Version, "read %d with the writer's token is stale", i)
		}
		st := reader.Stats()
		t.Logf("with tokens: %d reads on the standby (%d fell back), %d on the primary", st.Replicas[0].Reads, st.Replicas[0].Fallbacks, st.PrimaryReads)
	})

	t.Run("no token: stale but never torn", func(t *testing.T) {
		// The reader keeps to the standby however far behind it is.
		reader := store.New(rb.pool, store.Config{Replicas: store.ReplicaConfig{Pools: []*pgxpool.Pool{rb.standby}, MaxLag: time.Hour}})
		t.Cleanup(reader.Close)
		waitReplicaHealthy(t, reader)
		var stale, reads int
		for i := range 500 {
			id := fmt.Sprintf("torn-%d", i%5)
			res, err := rb.store.Append(rb.ctx, id, store.Any, rawEvents(batch, i*batch)...)
			require.NoError(t, err)
			info, err := reader.StreamInfo(rb.ctx, id)
			if errors.Is(err, store.ErrStreamNotFound) {
				stale++
				continue
			}
			require.NoError(t, err)
			recs, err := reader.ReadForward(rb.ctx, id, 1, 1000)
			require.NoError(t, err)
			reads++
			require.Zero(t, info.Version%batch, "stream info shows a partial batch")
			require.Zero(t, len(recs)%batch, "a read shows a partial batch: %d events", len(recs))
			require.LessOrEqual(t, int64(len(recs)), res.Version)
			if info.Version < res.Version {
				stale++
			}
		}
		t.Logf("without a token: %d of %d reads right after the append were stale", stale, 500)
		require.Zero(t, reader.Stats().PrimaryReads, "reads without a token stay on the standby")
	})

	t.Run("asynchronous commit", func(t *testing.T) {
		// With synchronous_commit off an append returns before its commit
		// record is flushed: the store then waits for the WAL insert
		// position instead of the flush position.
		async := testdb.Connect(t, rb.db.URL+"&synchronous_commit=off")
		s := store.New(async, store.Config{Replicas: store.ReplicaConfig{Pools: []*pgxpool.Pool{rb.standby}}})
		t.Cleanup(s.Close)
		waitReplicaHealthy(t, s)
		for i := range 300 {
			id := fmt.Sprintf("async-%d", i%10)
			res, err := s.Append(rb.ctx, id, store.Any, rawEvent("e", i))
			require.NoError(t, err)
			recs, err := s.ReadBackward(rb.ctx, id, store.End, 1)
			require.NoError(t, err)
			require.Equal(t, res.Version, recs[0].Version, "read %d after an asynchronous commit is stale", i)
		}
		st := s.Stats()
		t.Logf("asynchronous commit: %d reads on the standby, %d on the primary", st.Replicas[0].Reads, st.PrimaryReads)
	})

	t.Run("lists, snapshots and transactions", func(t *testing.T) {
		for i := range 50 {
			id := fmt.Sprintf("list-%d", i)
			_, err := rb.store.Append(rb.ctx, id, store.NoStream, rawEvent("e", i))
			require.NoError(t, err)
			page, err := rb.store.ListStreams(rb.ctx, store.ListOptions{Prefix: "list-", Newest: true, Limit: 1})
			require.NoError(t, err)
			require.Equal(t, id, page.Streams[0].StreamID, "the listing misses the stream just created")
			require.EqualValues(t, i+1, page.Total)

			_, err = rb.store.SaveSnapshot(rb.ctx, store.Snapshot{StreamID: id, Version: 1, Type: "state", SchemaVersion: 1, Data: []byte(fmt.Sprint(i))})
			require.NoError(t, err)
			snap, err := rb.store.ReadSnapshot(rb.ctx, id, 1)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), string(snap.Data))

			err = rb.store.InTx(rb.ctx, func(ctx context.Context) error {
				_, err := rb.store.Append(ctx, id, store.Exact(1), rawEvent("tx", i))
				return err
			})
			require.NoError(t, err)
			recs, err := rb.store.ReadBackward(rb.ctx, id, store.End, 1)
			require.NoError(t, err)
			require.EqualValues(t, 2, recs[0].Version, "the read misses the transaction's append")
		}
	})
}
