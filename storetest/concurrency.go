package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// testWait checks that Wait returns once the head reaches a revision, and
// returns early with the context's error.
func testWait(t *testing.T, open func(t *testing.T) verso.Store) {
	s := newStore(t, open)

	t.Run("AlreadyReached", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		mustCommit(t, s, txn(opPut("/a", "1")))
		mustCommit(t, s, txn(opPut("/a", "2")))
		for _, rev := range []verso.Revision{0, 1, 2} {
			if h, err := s.Wait(ctx, rev); err != nil || h != 2 {
				t.Errorf("Wait(%d) with head 2 = %d, %v; want 2, nil", rev, h, err)
			}
		}
	})

	t.Run("UnblocksOnCommit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		head := mustHead(t, s)
		type result struct {
			rev verso.Revision
			err error
		}
		done := make(chan result, 1)
		go func() {
			h, err := s.Wait(ctx, head+1)
			done <- result{h, err}
		}()
		select {
		case r := <-done:
			t.Fatalf("Wait(%d) with head %d returned %d, %v before any commit", head+1, head, r.rev, r.err)
		case <-time.After(50 * time.Millisecond):
		}
		committed := make(chan error, 1)
		go func() {
			_, err := s.Commit(ctx, txn(opPut("/b", "1")))
			committed <- err
		}()
		r := <-done
		if err := <-committed; err != nil {
			t.Fatalf("Commit from another goroutine error: %v", err)
		}
		if r.err != nil || r.rev < head+1 {
			t.Errorf("Wait(%d) after a commit = %d, %v; want at least %d, nil", head+1, r.rev, r.err, head+1)
		}
	})

	t.Run("ContextEnds", func(t *testing.T) {
		head := mustHead(t, s)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if h, err := s.Wait(ctx, head+5); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait(%d) with head %d and a deadline = %d, %v; want context.DeadlineExceeded", head+5, head, h, err)
		}
		ctx, cancel = context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		if h, err := s.Wait(ctx, head+5); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait(%d) with head %d, canceled = %d, %v; want context.Canceled", head+5, head, h, err)
		}
	})
}

// testConcurrency checks that concurrent commits are ordered and each gets
// its own revision, that compare-and-set loses no update, and that readers
// only see states that existed.
func testConcurrency(t *testing.T, open func(t *testing.T) verso.Store) {
	t.Run("DistinctGapFreeRevisions", func(t *testing.T) {
		s := newStore(t, open)
		const writers, commits = 16, 25
		type ack struct {
			rev   verso.Revision
			path  verso.Path
			value string
		}
		acks := make([][]ack, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				path := verso.Path(fmt.Sprintf("/w%02d", w))
				for i := range commits {
					if i%5 == 2 {
						// A failing transaction among the others takes no
						// revision and does not disturb them.
						bad := txn(opPut(fmt.Sprintf("/missing-%d/x", w), "x"))
						_, err := s.Commit(t.Context(), bad)
						wantOpError(t, "Commit("+describe(bad)+")", err, 0, verso.OpPut, verso.ErrNoParent)
					}
					value := fmt.Sprintf("%d-%d", w, i)
					c, err := s.Commit(t.Context(), &verso.Txn{Author: string(path), Message: value, Ops: []verso.Op{
						{Kind: verso.OpPut, Path: path, Value: []byte(value), ContentType: "text/plain"},
					}})
					if err != nil {
						t.Errorf("Commit(put %s = %q) error: %v", path, value, err)
						return
					}
					acks[w] = append(acks[w], ack{c.Rev, path, value})
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		var revs []verso.Revision
		for w := range acks {
			for i := 1; i < len(acks[w]); i++ {
				if acks[w][i].rev <= acks[w][i-1].rev {
					t.Errorf("writer %d: commit %d got r%d after commit %d got r%d", w, i, acks[w][i].rev, i-1, acks[w][i-1].rev)
				}
			}
			for _, a := range acks[w] {
				revs = append(revs, a.rev)
			}
		}
		slices.Sort(revs)
		for i, r := range revs {
			if r != verso.Revision(i+1) {
				t.Fatalf("acknowledged revisions sorted: position %d is r%d, want r%d (duplicate or gap)", i, r, i+1)
			}
		}
		wantHead(t, s, writers*commits, "concurrent commits")
		for w := range acks {
			for _, a := range acks[w] {
				e, err := s.Get(t.Context(), a.path, a.rev)
				if err != nil || string(e.Value) != a.value {
					t.Errorf("Get(%q, r%d) = %v, %v; want value %q acknowledged at r%d", a.path, a.rev, e, err, a.value, a.rev)
					continue
				}
				c, err := s.Revision(t.Context(), a.rev)
				if err != nil || c.Message != a.value || len(c.Changes) != 1 || c.Changes[0].Path != a.path {
					t.Errorf("Revision(%d) = %v, %v; want the put of %q = %q", a.rev, c, err, a.path, a.value)
				}
			}
		}
	})

	t.Run("CompareAndSet", func(t *testing.T) {
		s := newStore(t, open)
		const workers, increments = 6, 8
		counter := p("/counter")
		mustCommit(t, s, txn(opPut("/counter", "0")))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := 0; i < increments; {
					e, err := s.Get(t.Context(), counter, verso.Head)
					if err != nil {
						t.Errorf("worker %d: Get(%q, HEAD) error: %v", w, counter, err)
						return
					}
					n, err := strconv.Atoi(string(e.Value))
					if err != nil {
						t.Errorf("worker %d: counter value %q: %v", w, e.Value, err)
						return
					}
					_, err = s.Commit(t.Context(), txn(withIf(opPut("/counter", strconv.Itoa(n+1)), verso.Cond{ModRev: e.ModRev})))
					switch {
					case err == nil:
						i++
					case errors.Is(err, verso.ErrPrecondition):
						// Someone else won; read again.
					default:
						t.Errorf("worker %d: Commit(put %s if-modrev=%d) error: %v", w, counter, e.ModRev, err)
						return
					}
				}
			})
		}
		wg.Wait()
		e := mustGet(t, s, "/counter", verso.Head)
		if want := strconv.Itoa(workers * increments); string(e.Value) != want {
			t.Errorf("Get(%q, HEAD) after %d compare-and-set increments = %q, want %q", counter, workers*increments, e.Value, want)
		}
		if want := int64(workers*increments + 1); e.Version != want {
			t.Errorf("Get(%q, HEAD).Version = %d, want %d", counter, e.Version, want)
		}
		wantHead(t, s, workers*increments+1, "compare-and-set increments")
	})

	t.Run("ReadersSeeCommittedStates", func(t *testing.T) {
		s := newStore(t, open)
		mustCommit(t, s, txn(opMkcol("/inv"), opPut("/inv/a", "0"), opPut("/inv/b", "0")))
		const writers, commits, readers = 2, 20, 2
		ctx, stop := context.WithCancel(t.Context())
		var rwg, wwg sync.WaitGroup
		for r := range readers {
			rwg.Go(func() {
				for reads := 0; ctx.Err() == nil || reads < 5; reads++ {
					checkInvariant(t, s, r)
					time.Sleep(time.Millisecond)
				}
			})
		}
		for w := range writers {
			wwg.Go(func() {
				for i := range commits {
					v := fmt.Sprintf("%d-%d", w, i)
					if _, err := s.Commit(t.Context(), txn(opPut("/inv/a", v), opPut("/inv/b", v))); err != nil {
						t.Errorf("Commit(put /inv/a, /inv/b = %q) error: %v", v, err)
						return
					}
				}
			})
		}
		wwg.Wait()
		stop()
		rwg.Wait()
		// Every past revision keeps the invariant too.
		head := mustHead(t, s)
		for r := verso.Revision(1); r <= head; r++ {
			es := mustWalk(t, s, "/inv", r, verso.Infinite)
			if len(es) != 3 || string(es[1].Value) != string(es[2].Value) || es[0].TreeRev != r {
				t.Errorf("Walk(/inv, r%d) = %s; want /inv (TreeRev %d) and equal /inv/a, /inv/b", r, describeEntries(es), r)
			}
		}
	})
}

// checkInvariant reads /inv at the head and checks /inv/a and /inv/b are
// equal and were written by the same revision.
func checkInvariant(t *testing.T, s verso.Store, reader int) {
	es, err := walkAll(t.Context(), s, "/inv", verso.Head, verso.Infinite)
	if err != nil {
		t.Errorf("reader %d: Walk(/inv, HEAD) error: %v", reader, err)
		return
	}
	if len(es) != 3 || es[1].Path != "/inv/a" || es[2].Path != "/inv/b" ||
		string(es[1].Value) != string(es[2].Value) || es[1].ModRev != es[2].ModRev || es[0].TreeRev != es[1].ModRev {
		t.Errorf("reader %d: Walk(/inv, HEAD) = %s; want /inv/a and /inv/b equal, from one revision", reader, describeEntries(es))
	}
	// A Get at a revision just read back sees the same pair.
	rev := es[1].ModRev
	a, errA := s.Get(t.Context(), "/inv/a", rev)
	b, errB := s.Get(t.Context(), "/inv/b", rev)
	if errA != nil || errB != nil || string(a.Value) != string(b.Value) {
		t.Errorf("reader %d: Get(/inv/a, r%d), Get(/inv/b, r%d) = %v, %v, %v, %v; want equal values", reader, rev, rev, a, errA, b, errB)
	}
}

func describeEntries(es []*verso.Entry) string {
	out := "["
	for i, e := range es {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s=%q@r%d(tree r%d)", e.Path, e.Value, e.ModRev, e.TreeRev)
	}
	return out + "]"
}

// testClose checks that every method returns ErrClosed after Close, and
// that commits in flight either finish or report ErrClosed.
func testClose(t *testing.T, open func(t *testing.T) verso.Store) {
	t.Run("MethodsAfterClose", func(t *testing.T) {
		s := newStore(t, open)
		mustCommit(t, s, txn(opPut("/a", "1")))
		if err := s.Close(); err != nil {
			t.Fatalf("Close() error: %v", err)
		}
		ctx := t.Context()
		checks := []struct {
			call string
			err  error
		}{
			{"Head()", func() error { _, err := s.Head(ctx); return err }()},
			{"Get(/a, HEAD)", func() error { _, err := s.Get(ctx, "/a", verso.Head); return err }()},
			{"Get(/a, r1)", func() error { _, err := s.Get(ctx, "/a", 1); return err }()},
			{"Walk(/, HEAD)", s.Walk(ctx, verso.Root, verso.Head, verso.Infinite, func(*verso.Entry) error { return nil })},
			{"Commit(put /b)", func() error { _, err := s.Commit(ctx, txn(opPut("/b", "1"))); return err }()},
			{"Revision(1)", func() error { _, err := s.Revision(ctx, 1); return err }()},
			{"Log(/)", func() error { _, err := s.Log(ctx, verso.LogQuery{Path: verso.Root}); return err }()},
			{"Wait(1)", func() error { _, err := s.Wait(ctx, 1); return err }()},
		}
		for _, c := range checks {
			if !errors.Is(c.err, verso.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", c.call, c.err)
			}
		}
		if err := s.Close(); err != nil && !errors.Is(err, verso.ErrClosed) {
			t.Errorf("second Close() = %v, want nil or ErrClosed", err)
		}
	})

	t.Run("UnblocksWait", func(t *testing.T) {
		s := newStore(t, open)
		done := make(chan error, 1)
		go func() {
			_, err := s.Wait(t.Context(), 1)
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatalf("Close() with a Wait pending error: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, verso.ErrClosed) {
				t.Errorf("Wait(1) pending at Close = %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Wait(1) pending at Close still blocked 5s after Close")
		}
	})

	t.Run("CommitsInFlight", func(t *testing.T) {
		s := newStore(t, open)
		const writers = 4
		var wg sync.WaitGroup
		started := make(chan struct{}, writers)
		for w := range writers {
			wg.Go(func() {
				for i := 0; ; i++ {
					_, err := s.Commit(t.Context(), txn(opPut(fmt.Sprintf("/w%d", w), strconv.Itoa(i))))
					if i == 0 {
						started <- struct{}{}
					}
					if errors.Is(err, verso.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Commit while closing = %v, want success or ErrClosed", err)
						return
					}
				}
			})
		}
		for range writers {
			<-started
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close() with commits in flight error: %v", err)
		}
		wg.Wait()
	})
}
