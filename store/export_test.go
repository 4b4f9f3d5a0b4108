package store

// CoalescerQueued reports how many appends wait in s's coalescer for a
// flusher (tests use it to line calls up behind a flush in flight).
func CoalescerQueued(s *Store) int {
	if s.coalescer == nil {
		return 0
	}
	s.coalescer.mu.Lock()
	defer s.coalescer.mu.Unlock()
	return len(s.coalescer.queue)
}
