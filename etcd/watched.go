package etcd

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/verso-config/verso"
)

// watched is a state in memory that this process replaces, each time with
// a newer one, as it follows etcd (the tree's snapshot, the lock table),
// and that callers wait on until it has what they need. Those who replace
// it order their replacements among themselves.
type watched[T any] struct {
	cur atomic.Pointer[T]
	mu  sync.Mutex    // guards ch
	ch  chan struct{} // closed when cur is next replaced; nil while no one waits
}

// Load returns the state.
func (w *watched[T]) Load() *T { return w.cur.Load() }

// Store makes v the state and wakes everything waiting for a change.
func (w *watched[T]) Store(v *T) {
	w.cur.Store(v)
	w.mu.Lock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
	w.mu.Unlock()
}

// changed returns a channel closed when the state is next replaced.
func (w *watched[T]) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

// wait blocks until ok holds for the state and returns it. It returns
// verso.ErrClosed when closed, unless nil, reports true before a look at
// the state, or when stop is closed while it waits; when ctx ends, the
// state it saw last and ctx.Err().
func (w *watched[T]) wait(ctx context.Context, closed func() bool, stop <-chan struct{}, ok func(*T) bool) (*T, error) {
	for {
		if closed != nil && closed() {
			return nil, verso.ErrClosed
		}
		ch := w.changed()
		v := w.Load()
		if ok(v) {
			return v, nil
		}
		select {
		case <-ch:
		case <-stop:
			return nil, verso.ErrClosed
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}
