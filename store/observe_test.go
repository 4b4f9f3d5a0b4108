package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/gamebot/eventstore/serde"
	"github.com/gamebot/eventstore/store"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// recorder is an Observer that keeps every observation.
type recorder struct {
	mu  sync.Mutex
	obs []store.Observation
}

func (r *recorder) Observe(_ context.Context, o store.Observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, o)
}

func (r *recorder) all() []store.Observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Observation(nil), r.obs...)
}

// of returns the observations of op.
func (r *recorder) of(op string) []store.Observation {
	var out []store.Observation
	for _, o := range r.all() {
		if o.Op == op {
			out = append(out, o)
		}
	}
	return out
}

// TestObserverSeesEveryOperation: each operation is reported once per
// attempt with its name, stream, guild, event count and outcome, and the
// counters add up.
func TestObserverSeesEveryOperation(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, store.Config{Observer: rec})

	_, err := b.store.Append(b.ctx, "obs", store.NoStream, rawEvents(3, 0)...)
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "obs", store.Exact(1), rawEvent("test_event", 9))
	require.ErrorIs(t, err, store.ErrWrongExpectedVersion)
	_, err = b.store.Append(b.ctx, "", store.Any, rawEvent("test_event", 9))
	require.ErrorIs(t, err, store.ErrInvalidStreamID)
	_, err = b.store.ReadForward(b.ctx, "obs", 0, 10)
	require.NoError(t, err)
	_, err = b.store.ReadBackward(b.ctx, "obs", store.End, 2)
	require.NoError(t, err)
	_, err = b.store.ReadForward(b.ctx, "missing", 0, 10)
	require.ErrorIs(t, err, store.ErrStreamNotFound)
	_, err = b.store.StreamInfo(b.ctx, "obs")
	require.NoError(t, err)
	require.NoError(t, b.store.CreateStream(b.ctx, "empty"))
	_, err = b.store.DeleteStream(b.ctx, "empty", store.Exact(0))
	require.NoError(t, err)
	_, err = b.store.ReadFeed(t.Context(), store.Checkpoint{}, store.FeedOptions{Limit: 10})
	require.NoError(t, err)
	_, err = b.store.Append(t.Context(), "obs", store.Any, rawEvent("test_event", 9))
	require.ErrorIs(t, err, store.ErrGuildRequired)
	require.NoError(t, b.store.InTx(b.ctx, func(ctx context.Context) error {
		_, err := b.store.Append(ctx, "obs", store.Exact(3), rawEvents(2, 3)...)
		return err
	}))

	type seen struct {
		Op, Stream, Guild string
		Events            int
		Class             store.ErrorClass
		Attempt           int
		InTx              bool
	}
	var got []seen
	for _, o := range rec.all() {
		require.Equal(t, o.Class != store.ClassNone, o.Err != nil, o.Op)
		require.False(t, o.Retrying)
		got = append(got, seen{o.Op, o.StreamID, o.GuildID, o.Events, o.Class, o.Attempt, o.InTx})
	}
	// The feed's events depend on the feed horizon; only its outcome counts.
	for i := range got {
		if got[i].Op == store.OpReadFeed {
			got[i].Events = 0
		}
	}
	require.Equal(t, []seen{
		{store.OpAppend, "obs", testGuild, 3, store.ClassNone, 1, false},
		{store.OpAppend, "obs", testGuild, 0, store.ClassConflict, 1, false},
		{store.OpAppend, "", testGuild, 0, store.ClassValidation, 1, false},
		{store.OpReadForward, "obs", testGuild, 3, store.ClassNone, 1, false},
		{store.OpReadBackward, "obs", testGuild, 2, store.ClassNone, 1, false},
		{store.OpReadForward, "missing", testGuild, 0, store.ClassStream, 1, false},
		{store.OpStreamInfo, "obs", testGuild, 0, store.ClassNone, 1, false},
		{store.OpCreateStream, "empty", testGuild, 0, store.ClassNone, 1, false},
		{store.OpDeleteStream, "empty", testGuild, 0, store.ClassNone, 1, false},
		{store.OpReadFeed, "", "", 0, store.ClassNone, 1, false},
		{store.OpAppend, "obs", "", 0, store.ClassGuild, 1, false},
		{store.OpAppend, "obs", testGuild, 2, store.ClassNone, 1, true},
		{store.OpTransaction, "", testGuild, 2, store.ClassNone, 1, false},
	}, got)

	st := b.store.Stats()
	require.Equal(t, int64(len(got)), st.Operations)
	require.Equal(t, int64(2), st.Appends)
	require.Equal(t, int64(5), st.EventsAppended)
	require.GreaterOrEqual(t, st.EventsRead, int64(5))
	require.Equal(t, int64(1), st.Conflicts)
	require.Zero(t, st.Retries)
	require.Equal(t, int64(1), st.Transactions)
	require.Zero(t, st.Rollbacks)
	require.Equal(t, map[store.ErrorClass]int64{
		store.ClassConflict: 1, store.ClassValidation: 1, store.ClassStream: 1, store.ClassGuild: 1,
	}, st.Errors)
}

// TestLogObserver: the default observer logs operations through the
// configured logger with their guild and outcome.
func TestLogObserver(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, store.Config{Logger: logger})
	_, err := b.store.Append(b.ctx, "logged", store.NoStream, rawEvent("test_event", 1))
	require.NoError(t, err)
	_, err = b.store.Append(b.ctx, "logged", store.NoStream, rawEvent("test_event", 2))
	require.Error(t, err)

	lines := buf.lines(`msg="eventstore append"`)
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], "level=DEBUG")
	require.Contains(t, lines[0], "stream_id=logged guild_id=guild-1")
	require.Contains(t, lines[0], "events=1 attempt=1")
	require.Contains(t, lines[1], "level=INFO")
	require.Contains(t, lines[1], "error_class=conflict")
	require.Contains(t, lines[1], "retrying=false")
}

// TestClassify sorts the store's errors into their classes.
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want store.ErrorClass
	}{
		{nil, store.ClassNone},
		{context.Canceled, store.ClassCanceled},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), store.ClassCanceled},
		{store.ErrConnection, store.ClassConnection},
		{&pgconn.PgError{Code: "57P01"}, store.ClassConnection},
		{&pgconn.PgError{Code: "53300"}, store.ClassConnection},
		{&pgconn.PgError{Code: "40001"}, store.ClassTransient},
		{&pgconn.PgError{Code: "40P01"}, store.ClassTransient},
		{&store.VersionConflictError{Expected: store.NoStream, Actual: 3}, store.ClassConflict},
		{store.ErrStreamDeleted, store.ClassStream},
		{&store.StreamFullError{}, store.ClassStream},
		{store.ErrGuildMismatch, store.ClassGuild},
		{&pgconn.PgError{Code: "ES015"}, store.ClassGuild},
		{&pgconn.PgError{Code: "42501"}, store.ClassPermission},
		{store.ErrEventImmutable, store.ClassPermission},
		{store.ErrInvalidStreamID, store.ClassValidation},
		{store.ErrDuplicateEvent, store.ClassValidation},
		{serde.ErrInvalidEventData, store.ClassDomain},
		{&store.DecodeError{Err: errors.New("bad")}, store.ClassDomain},
		{errors.New("something else"), store.ClassOther},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			require.Equal(t, tt.want, store.Classify(tt.err))
		})
	}
}
