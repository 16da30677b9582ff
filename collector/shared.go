package collector

import (
	"sync"
	"time"
)

// shared lets concurrent callers share one run of a piece of work: the
// read of chronyd, the gathering of the exporter's own metrics. A caller
// joins the run in progress or, when there is none, leads a new one.
type shared[T any] struct {
	mu  sync.Mutex
	cur *run[T]
}

// run is one run of a shared piece of work; val is set once done is
// closed.
type run[T any] struct {
	done chan struct{}
	val  T
	// deadline is when the run ends at the latest; zero when it has none.
	// Set before any caller joins.
	deadline time.Time
}

// join returns the run in progress, or a new one with deadline that the
// caller leads: it must end it with finish.
func (s *shared[T]) join(deadline time.Time) (r *run[T], lead bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur, false
	}
	s.cur = &run[T]{done: make(chan struct{}), deadline: deadline}
	return s.cur, true
}

// finish ends run r with its value; the next caller leads a new run.
func (s *shared[T]) finish(r *run[T], v T) {
	r.val = v
	s.mu.Lock()
	s.cur = nil
	s.mu.Unlock()
	close(r.done)
}
