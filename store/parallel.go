package store

import (
	"runtime"
	"sync"
)

// parallelMin is the smallest batch that is encoded or decoded on several
// goroutines; smaller ones are not worth the hand-off.
const parallelMin = 128

// forEachChunk calls fn(lo, hi) over consecutive chunks covering [0, n):
// on one goroutine when n is small or only one CPU is usable, otherwise on
// up to GOMAXPROCS goroutines at once (while one decodes, a single reader's
// other core would sit idle). fn must only touch indexes in [lo, hi). A
// panic in fn is raised again on the caller's goroutine once every chunk
// has finished, as if the chunks had run one after the other.
func forEachChunk(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/(parallelMin/2))
	if n < parallelMin || workers < 2 {
		fn(0, n)
		return
	}
	size := (n + workers - 1) / workers
	var (
		wg       sync.WaitGroup
		panicked sync.Once
		panicVal any
	)
	run := func(lo, hi int) {
		defer func() {
			if r := recover(); r != nil {
				panicked.Do(func() { panicVal = r })
			}
		}()
		fn(lo, hi)
	}
	for lo := size; lo < n; lo += size {
		wg.Go(func() { run(lo, min(lo+size, n)) })
	}
	run(0, size)
	wg.Wait()
	if panicVal != nil {
		panic(panicVal)
	}
}
