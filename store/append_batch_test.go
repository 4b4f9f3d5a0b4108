package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/store"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// batchCall is one call of an append_batch statement in these tests.
type batchCall struct {
	stream   string
	expected store.ExpectedVersion
	ids      []uuid.UUID // nil: one fresh id
}

// batchRow is one row append_batch returns.
type batchRow struct {
	version, first, last int64
	err                  error // the call's error, mapped as the store maps it
}

// appendBatchSQL calls eventstore.append_batch for the test guild on q, one
// small raw event per id, and returns its rows in call order.
func appendBatchSQL(t *testing.T, ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, limit *int64, calls ...batchCall) ([]batchRow, error) {
	t.Helper()
	var (
		streams  []string
		expected []int64
		counts   []int32
		ids      []uuid.UUID
		types    []string
		versions []int32
		data     []string
	)
	for _, c := range calls {
		cids := c.ids
		if cids == nil {
			cids = []uuid.UUID{uuid.New()}
		}
		streams = append(streams, c.stream)
		expected = append(expected, int64(c.expected))
		counts = append(counts, int32(len(cids)))
		for _, id := range cids {
			ids = append(ids, id)
			types = append(types, "e")
			versions = append(versions, 1)
			data = append(data, fmt.Sprintf(`{"n": %d}`, len(ids)))
		}
	}
	rows, err := q.Query(ctx, `SELECT r.new_version, r.first_position, r.last_position, r.error_code,
			r.error_message, r.error_detail, r.error_constraint, r.error_table
		FROM eventstore.append_batch($1, $2, $3, $4, $5::text[]::uuid[], $6, $7, $8::text[]::jsonb[],
			p_max_stream_events => $9) AS r
		ORDER BY r.call_index`, testGuild, streams, expected, counts, idTexts(ids), types, versions, data, limit)
	if err != nil {
		return nil, err
	}
	var out []batchRow
	for rows.Next() {
		var (
			version, first, last                 *int64
			code, msg, detail, constraint, table *string
		)
		if err := rows.Scan(&version, &first, &last, &code, &msg, &detail, &constraint, &table); err != nil {
			return nil, err
		}
		var r batchRow
		if code != nil {
			pe := &pgconn.PgError{Severity: "ERROR", Code: *code, Message: *msg}
			for _, f := range []struct {
				dst *string
				src *string
			}{{&pe.Detail, detail}, {&pe.ConstraintName, constraint}, {&pe.TableName, table}} {
				if f.src != nil {
					*f.dst = *f.src
				}
			}
			r.err = store.MapError(pe)
		} else {
			r.version, r.first, r.last = *version, *first, *last
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// TestAppendBatchNewStreams: calls of a coalesced statement that create
// their streams are stored by append_batch's one statement, with the
// earlier calls of the batch on the same stream counted, exactly as
// append_events would store them one after the other; only a call that
// cannot create its stream (stream_exists on a missing one) leaves it for
// append_events. The calls to append_events are counted in the
// transaction's function statistics, which needs the server's superuser.
func TestAppendBatchNewStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.store.Append(b.ctx, "old", store.NoStream, rawEvent("e", 1))
	require.NoError(t, err)

	tx := trackedFunctionsTx(t, b)
	_, err = tx.Exec(b.ctx, `SELECT set_config('eventstore.guild_id', $1, true)`, testGuild)
	require.NoError(t, err)
	// A refused call is seen by the check_stream_id call of append_events'
	// full path (the refused append_events call itself is not counted).
	calls := func(function string) int64 { return functionCalls(t, tx, function) }

	two := []uuid.UUID{uuid.New(), uuid.New()}
	rows, err := appendBatchSQL(t, b.ctx, tx, nil,
		batchCall{"new-a", store.NoStream, two},
		batchCall{"new-b", store.Any, nil},
		batchCall{"new-a", store.Exact(2), nil},
		batchCall{"new-c", store.Exact(0), nil},
		batchCall{"new-a", store.StreamExists, nil},
		batchCall{"old", store.Exact(1), nil},
		batchCall{"new-d", store.Any, []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}},
	)
	require.NoError(t, err)
	require.Len(t, rows, 7)
	for i, want := range []int64{2, 1, 3, 1, 4, 2, 3} {
		require.NoError(t, rows[i].err, "call %d", i+1)
		require.Equal(t, want, rows[i].version, "call %d", i+1)
		if i > 0 {
			require.Equal(t, rows[i-1].last+1, rows[i].first, "call %d: positions follow call order", i+1)
		}
	}
	require.Equal(t, rows[0].first+1, rows[0].last)
	require.Equal(t, rows[6].first+2, rows[6].last)
	require.Zero(t, calls("append_events"), "new streams are created by append_batch's statement")
	require.Zero(t, calls("check_stream_id"))

	for stream, version := range map[string]int64{"new-a": 4, "new-b": 1, "new-c": 1, "new-d": 3, "old": 2} {
		var got, events, lo, hi int64
		require.NoError(t, tx.QueryRow(b.ctx, `SELECT s.version, count(e.*), min(e.stream_version), max(e.stream_version)
			FROM eventstore.streams s JOIN eventstore.events e USING (stream_id)
			WHERE s.stream_id = $1 AND s.guild_id = $2 GROUP BY s.version`, stream, testGuild).Scan(&got, &events, &lo, &hi))
		require.Equal(t, version, got, stream)
		require.Equal(t, []int64{version, 1, version}, []int64{events, lo, hi}, "%s: versions 1..%d, once each", stream, version)
	}

	// A missing stream with stream_exists cannot be created: that call goes
	// to append_events, and fails alone.
	rows, err = appendBatchSQL(t, b.ctx, tx, nil,
		batchCall{"new-e", store.StreamExists, nil},
		batchCall{"new-f", store.NoStream, nil},
	)
	require.NoError(t, err)
	require.ErrorIs(t, rows[0].err, store.ErrStreamNotFound)
	require.NoError(t, rows[1].err)
	require.Equal(t, int64(1), rows[1].version)
	require.Zero(t, calls("append_events"))
	require.Equal(t, int64(1), calls("check_stream_id"), "the refused call alone took append_events' full path")
}

// TestAppendBatchNewStreamRefusals: every refusal of a new stream holds in
// a coalesced statement as it does alone (TestAppendNewStreamRefusals): the
// call fails with its own error and leaves no stream row, and the new
// stream next to it is stored. A stored or repeated id fails the
// statement as a whole (the store then sends each call alone).
func TestAppendBatchNewStreamRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, tt := range newStreamRefusals(t, b) {
		t.Run(tt.name, func(t *testing.T) {
			neighbour := fmt.Sprintf("ok-%d", i)
			rows, err := appendBatchSQL(t, b.ctx, b.pool, tt.limit,
				batchCall{neighbour, store.NoStream, nil},
				batchCall{tt.stream, tt.expected, tt.ids})
			if tt.failsBatch {
				require.ErrorIs(t, store.MapError(err), tt.want, "%v", err)
				require.Zero(t, countRows(t, b, neighbour), "the failed statement stored nothing")
			} else {
				require.NoError(t, err)
				require.ErrorIs(t, rows[1].err, tt.want, "%v", rows[1].err)
				require.NoError(t, rows[0].err)
				require.Equal(t, int64(1), rows[0].version)
				require.Equal(t, 1, countRows(t, b, neighbour))
			}
			tt.requireNothingStored(t, b)
		})
	}
}

// TestCoalescedNewStreamsRace: the writers of two Stores (two coalescers,
// so statements of both race) create the same new streams, each writer in
// an order of its own, with no_stream. Every stream is created exactly once:
// one append wins, every other gets the version conflict, and only the
// winner's event is stored.
func TestCoalescedNewStreamsRace(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Retry: fastRetry(), Observer: rec})
	other := store.New(b.pool, store.Config{Retry: fastRetry(), Observer: rec})
	t.Cleanup(other.Close)
	const writers, streams = 8, 40
	var (
		mu   sync.Mutex
		wins = map[string][]uuid.UUID{}
	)
	var wg sync.WaitGroup
	for w := range writers {
		s := b.store
		if w%2 == 1 {
			s = other
		}
		wg.Go(func() {
			for _, k := range rand.New(rand.NewPCG(uint64(w), 7)).Perm(streams) {
				stream := fmt.Sprintf("race-%d", k)
				ev := withID(rawEvent("race", w))
				_, err := s.Append(b.ctx, stream, store.NoStream, ev)
				if err != nil {
					require.ErrorIs(t, err, store.ErrWrongExpectedVersion, "%s: %v", stream, err)
					continue
				}
				mu.Lock()
				wins[stream] = append(wins[stream], ev.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, wins, streams)
	for k := range streams {
		stream := fmt.Sprintf("race-%d", k)
		require.Len(t, wins[stream], 1, stream)
		recs, err := b.store.ReadForward(b.ctx, stream, 1, 10)
		require.NoError(t, err)
		require.Len(t, recs, 1, stream)
		require.Equal(t, wins[stream][0], recs[0].ID, stream)
	}
	together := 0
	for _, o := range rec.of(store.OpAppend) {
		if o.Coalesced > 1 {
			together++
		}
	}
	require.Positive(t, together, "appends went out together")
	t.Logf("%d of %d appends went out together", together, writers*streams)
}
