package store

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gamebot/eventstore/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

// TestWireReserveSendsNoBytes: the write reservation sent before a large
// statement, and the probe sent after it, put nothing on the wire (the
// messages written with them are byte for byte those written without);
// the reservation makes room for at least its size; messagesSize is at
// least the size of the messages it reserves for, so that they are copied
// into the buffer once; and the probe tells whether the frontend still
// holds the lent buffer.
func TestWireReserveSendsNoBytes(t *testing.T) {
	r := &writeBuffer{n: 100}
	grown, err := r.Encode([]byte("abc"))
	require.NoError(t, err)
	require.Equal(t, "abc", string(grown))
	require.GreaterOrEqual(t, cap(grown), 103)
	require.NotNil(t, r.lent, "no buffer lent")
	require.Same(t, &(*r.lent)[:1][0], &grown[:1][0], "the buffer returned is not the one lent")
	roomy := make([]byte, 3, 200)
	r = &writeBuffer{n: 100}
	same, err := r.Encode(roomy)
	require.NoError(t, err)
	require.Same(t, &roomy[:1][0], &same[:1][0], "a buffer with room enough was replaced")
	require.Nil(t, r.lent)

	for _, n := range []int{1, 2, 100, 1000} {
		p := testAppendParams(n)
		batch := db.EventsAppendBatchParams{GuildID: p.GuildID, LockWait: "100ms", MaxStreamEvents: p.MaxStreamEvents,
			EventIds: p.EventIds, EventTypes: p.EventTypes, EventVersions: p.EventVersions, Data: p.Data,
			Metadata: p.Metadata, CausationIds: p.CausationIds, CorrelationIds: p.CorrelationIds}
		for i := range n {
			batch.StreamIds = append(batch.StreamIds, fmt.Sprintf("game-%d", i))
			batch.ExpectedVersions = append(batch.ExpectedVersions, int64(i))
			batch.Counts = append(batch.Counts, 1)
		}
		cases := []struct {
			name string
			st   *wireStmt
			w    *wireParams
		}{
			{"append", wireAppend, encodeAppend(&p)},
			{"batch", wireAppendBatch, encodeAppendBatch(&batch)},
		}
		if n == 1 {
			one := db.EventsAppendOneParams{GuildID: p.GuildID, StreamID: p.StreamID, ExpectedVersion: p.ExpectedVersion,
				EventID: p.EventIds[0], EventType: p.EventTypes[0], EventVersion: p.EventVersions[0], Data: p.Data[0],
				Metadata: p.Metadata[0], CausationID: p.CausationIds[0], CorrelationID: p.CorrelationIds[0],
				MaxStreamEvents: p.MaxStreamEvents}
			cases = append(cases, struct {
				name string
				st   *wireStmt
				w    *wireParams
			}{"one", wireAppendOne, encodeAppendOne(&one)})
		}
		for _, c := range cases {
			for _, parse := range []bool{false, true} {
				name := fmt.Sprintf("%s/%d events/parse=%v", c.name, n, parse)
				plain := writeStatement(t, c.st, c.w, parse, 0)
				reserved := writeStatement(t, c.st, c.w, parse, c.w.messagesSize(c.st, parse))
				require.Equal(t, plain, reserved, "%s: the reservation changed the bytes sent", name)
				require.LessOrEqual(t, len(plain), c.w.messagesSize(c.st, parse),
					"%s: the messages are larger than their reservation", name)
			}
			putWireParams(c.w)
		}
	}
}

// writeStatement returns the bytes a frontend writes for st with w's
// values, as pgconn sends them (prepared: Bind, Execute, Sync; parsed:
// Parse, Bind, Describe, Execute, Sync), after a reservation of reserve
// bytes and followed by the probe when reserve > 0. With a reservation,
// the messages must have gone out from the lent buffer, and after the
// write the probe must find the frontend let go of it when they were
// larger than the frontend's small buffer, and still holding it when not.
func writeStatement(t *testing.T, st *wireStmt, w *wireParams, parse bool, reserve int) []byte {
	t.Helper()
	var out bytes.Buffer
	f := pgproto3.NewFrontend(strings.NewReader(""), &out)
	var r *writeBuffer
	if reserve > 0 {
		r = &writeBuffer{n: reserve}
		f.Send(r)
		require.NotNil(t, r.lent, "a fresh frontend's buffer has room for %d bytes", reserve)
	}
	name := st.name
	if parse {
		name = ""
		f.SendParse(&pgproto3.Parse{Query: st.sql, ParameterOIDs: st.params})
	}
	f.SendBind(&pgproto3.Bind{PreparedStatement: name, ParameterFormatCodes: w.formats, Parameters: w.values,
		ResultFormatCodes: st.formats})
	if parse {
		f.SendDescribe(&pgproto3.Describe{ObjectType: 'P'})
	}
	f.SendExecute(&pgproto3.Execute{})
	f.SendSync(&pgproto3.Sync{})
	if r != nil {
		var before writeBuffer
		f.Send(&before)
		require.True(t, before.seen)
		require.Same(t, &(*r.lent)[:1][0], before.held, "the messages were not written into the lent buffer")
	}
	require.NoError(t, f.Flush())
	if r != nil {
		var after writeBuffer
		f.Send(&after)
		require.True(t, after.seen)
		if out.Len() > smallWrite {
			require.NotSame(t, &(*r.lent)[:1][0], after.held, "the frontend still holds the lent buffer after the write")
		} else { // the frontend keeps a buffer of a small write: it must not go back to the pool
			require.Same(t, &(*r.lent)[:1][0], after.held, "the frontend let go of the buffer of a small write")
		}
	}
	return out.Bytes()
}

// testAppendParams is an append of n events of about 600 bytes each, with
// metadata, causation and correlation ids.
func testAppendParams(n int) db.EventsAppendParams {
	p := db.EventsAppendParams{GuildID: "guild-1", StreamID: "game-1", ExpectedVersion: -1,
		MaxStreamEvents: pgtype.Int8{Int64: 10000, Valid: true}}
	for i := range n {
		p.EventIds = append(p.EventIds, toPgUUID(uuid.New()))
		p.EventTypes = append(p.EventTypes, "guess_processed")
		p.EventVersions = append(p.EventVersions, 1)
		p.Data = append(p.Data, []byte(fmt.Sprintf(`{"guess":%q,"n":%d}`, strings.Repeat("x", 580), i)))
		p.Metadata = append(p.Metadata, []byte(`{"actor":{"id":"42"}}`))
		p.CausationIds = append(p.CausationIds, toPgUUID(uuid.New()))
		p.CorrelationIds = append(p.CorrelationIds, toPgUUID(uuid.New()))
	}
	return p
}
