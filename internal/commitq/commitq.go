// Package commitq is the way into a store's committer, the one goroutine
// that writes: both stores (bolt and etcd) hand it their requests through
// a Queue, which admits them until the store closes and then lets the
// committer finish those it admitted.
package commitq

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/verso-config/verso"
)

// Queue carries requests of type R to a committer, which reads them from
// C until it is closed.
type Queue[R any] struct {
	c        chan R
	mu       sync.Mutex
	stopped  bool
	closed   atomic.Bool    // stopped, for readers that take no lock
	inflight sync.WaitGroup // Send calls admitted, their request not yet in c
}

// New returns a queue that holds up to size requests not yet read.
func New[R any](size int) *Queue[R] {
	return &Queue[R]{c: make(chan R, size)}
}

// C is what the committer reads. It is closed once Drain has seen every
// admitted request into it; the committer reads on until then.
func (q *Queue[R]) C() <-chan R { return q.c }

// Len is the number of requests waiting in C.
func (q *Queue[R]) Len() int { return len(q.c) }

// Send hands r to the committer. It is false, and r is not sent, once
// Stop was called.
func (q *Queue[R]) Send(r R) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.inflight.Add(1)
	q.mu.Unlock()
	q.c <- r
	q.inflight.Done()
	return true
}

// Stop admits no more requests. It is false if the queue was stopped
// already (the store is closing, or closed).
func (q *Queue[R]) Stop() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return false
	}
	q.stopped = true
	q.closed.Store(true)
	return true
}

// Closed reports whether Stop was called: the store is closing or closed.
func (q *Queue[R]) Closed() bool { return q.closed.Load() }

// Ready is the check every store method makes first: verso.ErrClosed once
// Stop was called, else ctx's error, if any.
func (q *Queue[R]) Ready(ctx context.Context) error {
	if q.closed.Load() {
		return verso.ErrClosed
	}
	return ctx.Err()
}

// Drain, after Stop, waits until every admitted request is in C and
// closes it: the committer then finishes what is there and sees C
// closed.
func (q *Queue[R]) Drain() {
	q.inflight.Wait()
	close(q.c)
}
