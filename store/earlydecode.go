package store

import (
	"runtime"
	"sync"

	"github.com/gamebot/eventstore/db"
	"github.com/gamebot/eventstore/serde"
)

// Decoding a page while it is being read.
//
// A page of typed events read whole and then decoded keeps the two sides
// in turn: while the server sends the rows the client only copies them, and
// while the client decodes the connection is idle. An earlyDecoder overlaps
// them: each time scanEventRows has read earlyChunk more rows, it hands
// them to a goroutine that turns them into Records and decodes their events
// while the rest of the page is still arriving; decodeRowsInto decodes what
// is left and collects the chunks in row order. The Records, their errors
// and their order are those of decoding the whole page afterwards.

// earlyChunk is how many rows are handed to a goroutine at a time. A page
// smaller than that is decoded after it is read, as before.
const earlyChunk = parallelMin

// earlyDecoder decodes the rows of one page in chunks, as they are read.
// Only the reading goroutine calls rowRead and finish; wait may be called
// from anywhere, any number of times.
type earlyDecoder struct {
	s      *Store
	next   int // the first row not yet handed out
	chunks []*decodedChunk
	wg     sync.WaitGroup
}

// decodedChunk is one chunk's Records and decode errors (in row order),
// written by its own goroutine only.
type decodedChunk struct {
	recs     []Recorded
	errs     []error
	panicVal any // what decoding panicked with, if it did
}

// earlyConfig lets tests switch early decoding off and see the chunks
// start; a Store's zero earlyConfig decodes early.
type earlyConfig struct {
	off bool
	// started, if set, is called as each chunk starts, with the number of
	// rows read by then, and finished as each chunk's goroutine ends.
	started  func(rowsRead int)
	finished func()
}

// newEarlyDecoder returns a decoder for a page of s, or nil where decoding
// early gains nothing: events stay raw (serde.Passthrough only wraps the
// stored JSON) or only one CPU is usable.
func (s *Store) newEarlyDecoder() *earlyDecoder {
	if _, raw := s.cfg.Serializer.(serde.Passthrough); raw || s.early.off || runtime.GOMAXPROCS(0) < 2 {
		return nil
	}
	return &earlyDecoder{s: s}
}

// rowRead is called by the reader after each row it appends to list; it
// starts a chunk once earlyChunk rows are waiting.
func (e *earlyDecoder) rowRead(list []*db.EventstoreEvent) {
	if len(list)-e.next < earlyChunk {
		return
	}
	rows := list[e.next:len(list):len(list)]
	e.next = len(list)
	if e.s.early.started != nil {
		e.s.early.started(len(list))
	}
	c := &decodedChunk{}
	e.chunks = append(e.chunks, c)
	e.wg.Go(func() {
		c.decode(e.s, rows)
		if e.s.early.finished != nil {
			e.s.early.finished()
		}
	})
}

// wait returns once every chunk started has been decoded.
func (e *earlyDecoder) wait() {
	if e != nil {
		e.wg.Wait()
	}
}

// decode converts rows into Records and decodes their events, keeping the
// errors; a panic is kept too, to be raised on the caller's goroutine.
func (c *decodedChunk) decode(s *Store, rows []*db.EventstoreEvent) {
	defer func() { c.panicVal = recover() }()
	c.recs = make([]Recorded, len(rows))
	c.errs = s.decodeInto(c.recs, rows)
}

// finish decodes the rows not yet handed out (from e.next on), waits for
// the chunks, and returns every row's Record in order, in buf's array when
// it is large enough, with the decode errors in row order. A panic in a
// chunk is raised here, once all have finished.
func (e *earlyDecoder) finish(buf []Recorded, rows []*db.EventstoreEvent) ([]Recorded, []error) {
	if cap(buf) < len(rows) {
		buf = make([]Recorded, len(rows))
	}
	recs := buf[:len(rows)]
	var tailErrs []error
	func() {
		defer e.wait() // a panic in the tail, too, waits for the chunks
		tailErrs = e.s.decodeInto(recs[e.next:], rows[e.next:])
	}()
	var errs []error
	n := 0
	for _, c := range e.chunks {
		if c.panicVal != nil {
			panic(c.panicVal)
		}
		n += copy(recs[n:], c.recs)
		errs = append(errs, c.errs...)
	}
	return recs, append(errs, tailErrs...)
}
