package commitq

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/verso-config/verso"
)

// TestQueue: every Send that returns true reaches the committer before C
// closes, every one after Stop returns false, and Stop is true once.
func TestQueue(t *testing.T) {
	q := New[int](4)
	got := make(chan int, 1000)
	done := make(chan struct{})
	go func() { // the committer, slow enough that senders block
		for r := range q.C() {
			got <- r
		}
		close(done)
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := map[int]bool{}
	for i := range 200 {
		wg.Go(func() {
			if q.Send(i) {
				mu.Lock()
				sent[i] = true
				mu.Unlock()
			}
		})
	}
	if q.Closed() || q.Ready(context.Background()) != nil {
		t.Error("Closed() or Ready() say closed before Stop")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Ready(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Ready(cancelled) = %v, want context.Canceled", err)
	}
	if !q.Stop() {
		t.Fatal("first Stop() = false")
	}
	if !q.Closed() || !errors.Is(q.Ready(context.Background()), verso.ErrClosed) {
		t.Error("after Stop, Closed() = false or Ready() is not ErrClosed")
	}
	if q.Stop() {
		t.Error("second Stop() = true")
	}
	if q.Send(-1) {
		t.Error("Send after Stop = true")
	}
	q.Drain()
	<-done
	wg.Wait()
	close(got)
	received := map[int]bool{}
	for r := range got {
		received[r] = true
	}
	for i := range sent {
		if !received[i] {
			t.Errorf("request %d was admitted but never reached the committer", i)
		}
	}
	if len(received) != len(sent) {
		t.Errorf("committer got %d requests, %d were admitted", len(received), len(sent))
	}
}
