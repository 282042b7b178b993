package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// TestWatched checks the wait on a state in memory: it wakes on each new
// state, returns the state it saw last when its context ends, and follows
// its two stop rules (closed, looked at before the state; stop, which only
// ends a wait).
func TestWatched(t *testing.T) {
	var w watched[int]
	one, two := 1, 2
	w.Store(&one)
	atLeast := func(n int) func(*int) bool { return func(v *int) bool { return *v >= n } }

	if v, err := w.wait(t.Context(), nil, nil, atLeast(1)); err != nil || v != &one {
		t.Fatalf("wait for a state there already = %v, %v", v, err)
	}

	got := make(chan error, 1)
	go func() {
		v, err := w.wait(t.Context(), nil, nil, atLeast(2))
		if err == nil && v != &two {
			err = errors.New("wrong state")
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it wait; it must work either way
	w.Store(&two)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not wake on a new state")
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if v, err := w.wait(ctx, nil, nil, atLeast(3)); !errors.Is(err, context.Canceled) || v != &two {
		t.Fatalf("wait with its context ended = %v, %v; want the last state and context.Canceled", v, err)
	}

	stop := make(chan struct{})
	close(stop)
	isClosed := func() bool { return true }
	if v, err := w.wait(t.Context(), isClosed, stop, atLeast(1)); !errors.Is(err, verso.ErrClosed) || v != nil {
		t.Fatalf("wait when closed = %v, %v; want ErrClosed although the state is there", v, err)
	}
	if v, err := w.wait(t.Context(), nil, stop, atLeast(1)); err != nil || v != &two {
		t.Fatalf("wait with stop closed for a state there = %v, %v; want the state", v, err)
	}
	if v, err := w.wait(t.Context(), nil, stop, atLeast(3)); !errors.Is(err, verso.ErrClosed) || v != nil {
		t.Fatalf("wait with stop closed = %v, %v; want ErrClosed", v, err)
	}
}
