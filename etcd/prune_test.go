package etcd

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestStore_PruneTwoServers prunes one tree from two servers at once, by
// count and by age, while both commit, with pruning steps so small that
// every trim is split: every read that still answers answers as before,
// the newest states of every path stay, both servers agree on the start
// of history and refuse reads below it, and etcd holds no record that
// pruning should have dropped.
func TestStore_PruneTwoServers(t *testing.T) {
	prefix := newPrefix()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var tick atomic.Int64
	clock := func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Second) }
	stores := []*Store{
		mustOpen(t, &Options{Prefix: prefix, Clock: clock}),
		mustOpen(t, &Options{Prefix: prefix, Clock: clock}),
	}
	for _, s := range stores {
		s.pruneBudget = 3
	}
	const keep = 3
	keys := []string{"/busy", "/ns/a", "/ns/b", "/ns/deep/c", "/other"}
	mustCommit(t, stores[0], mkcol("/ns"), mkcol("/ns/deep"))

	type ack struct {
		rev  verso.Revision
		path string
		val  string
	}
	var (
		mu   sync.Mutex
		acks []ack
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	for si, s := range stores {
		wg.Go(func() {
			for i := 0; i < 40; i++ {
				p := keys[(i+si)%len(keys)]
				if i%7 == 6 {
					p = keys[0]
				}
				v := fmt.Sprintf("s%d-%d", si, i)
				c, err := s.Commit(t.Context(), &verso.Txn{Ops: []verso.Op{put(p, v)}})
				if err != nil {
					t.Errorf("store %d: Commit(put %s) error: %v", si, p, err)
					return
				}
				mu.Lock()
				acks = append(acks, ack{c.Rev, p, v})
				mu.Unlock()
			}
		})
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// By age: keep what was the head about 30 commits ago.
				now := clock().Add(time.Hour - 30*time.Second)
				if _, err := s.Prune(t.Context(), verso.Retention{KeepVersions: keep, KeepFor: time.Hour}, now); err != nil {
					t.Errorf("store %d: Prune error: %v", si, err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	// Let both pruners run until both writers are done.
	for !t.Failed() {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 80 {
			break
		}
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	// A last pruning with nothing racing it finishes what is left.
	if _, err := stores[1].Prune(t.Context(), verso.Retention{KeepVersions: keep}, time.Now()); err != nil {
		t.Fatalf("last Prune error: %v", err)
	}

	ctx := t.Context()
	start, err := stores[0].HistoryStart(ctx)
	if err != nil || start <= 1 {
		t.Fatalf("HistoryStart() = %d, %v; want a start above r1", start, err)
	}
	if s1, err := stores[1].HistoryStart(ctx); err != nil || s1 != start {
		t.Errorf("HistoryStart() on the other server = %d, %v; want %d", s1, err, start)
	}
	head := verso.Revision(len(acks) + 1)
	for _, s := range stores {
		if h, err := s.Wait(ctx, head); err != nil || h != head {
			t.Fatalf("Wait(%d) = %d, %v", head, h, err)
		}
	}

	// The model: each path's states, in revision order.
	slices.SortFunc(acks, func(a, b ack) int { return int(a.rev - b.rev) })
	states := map[string][]ack{}
	for _, a := range acks {
		states[a.path] = append(states[a.path], a)
	}
	valueAt := func(p string, rev verso.Revision) (string, bool) {
		v, ok := "", false
		for _, a := range states[p] {
			if a.rev <= rev {
				v, ok = a.val, true
			}
		}
		return v, ok
	}
	for si, s := range stores {
		for _, p := range keys {
			kept := states[p][max(0, len(states[p])-keep):]
			for rev := verso.Revision(1); rev <= head; rev++ {
				e, err := s.Get(ctx, verso.MustPath(p), rev)
				want, exists := valueAt(p, rev)
				switch {
				case rev < start:
					if !errors.Is(err, verso.ErrGone) {
						t.Errorf("store %d: Get(%s, r%d) below the start r%d = %v, %v; want ErrGone", si, p, rev, start, e, err)
					}
				case errors.Is(err, verso.ErrGone):
					if rev >= kept[0].rev {
						t.Errorf("store %d: Get(%s, r%d) = ErrGone; want %q, one of the newest %d states", si, p, rev, want, keep)
					}
				case !exists:
					if !errors.Is(err, verso.ErrNotFound) {
						t.Errorf("store %d: Get(%s, r%d) = %v, %v; want ErrNotFound", si, p, rev, e, err)
					}
				case err != nil || string(e.Value) != want:
					t.Errorf("store %d: Get(%s, r%d) = %v, %v; want %q", si, p, rev, e, err, want)
				}
			}
		}
		if cs, err := s.Log(ctx, verso.LogQuery{}); err != nil || len(cs) != int(head-start+1) || cs[len(cs)-1].Rev != start {
			t.Errorf("store %d: Log(/) = %d commits, %v; want r%d down to the start r%d", si, len(cs), err, head, start)
		}
		if _, err := s.Revision(ctx, start-1); !errors.Is(err, verso.ErrGone) {
			t.Errorf("store %d: Revision(%d) below the start = %v, want ErrGone", si, start-1, err)
		}
	}
	if diff := cmp.Diff(mustWalk(t, stores[0], "/", head), mustWalk(t, stores[1], "/", head)); diff != "" {
		t.Errorf("the two servers' trees at r%d differ (-store 0 +store 1):\n%s", head, diff)
	}

	// What is left in etcd: no commit record below the start, and each
	// path's history is at most a gone marker, then states, with at most
	// one state at or before the start (the one reads at the start use).
	resp, err := stores[0].cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	hist := map[verso.Path][]verso.Revision{}
	for _, kv := range resp.Kvs {
		key := string(kv.Key[len(prefix):])
		switch {
		case len(key) > 2 && key[:2] == dirCommit:
			if r, _ := commitKeyRev(stores[0].k, kv.Key); r < start {
				t.Errorf("commit record of r%d is left below the start r%d", r, start)
			}
		case len(key) > 2 && key[:2] == dirHist:
			p, r, ok := splitPathRev(key[2:])
			if !ok {
				t.Fatalf("history key %q", kv.Key)
			}
			if codec.IsGone(kv.Value) && len(hist[p]) > 0 {
				t.Errorf("gone marker of %s at r%d after its states %v", p, r, hist[p])
			}
			if !codec.IsGone(kv.Value) {
				hist[p] = append(hist[p], r)
			}
		}
	}
	for p, revs := range hist {
		below := 0
		for _, r := range revs {
			if r <= start {
				below++
			}
		}
		if below > 1 {
			t.Errorf("history of %s keeps %d states at or before the start r%d (%v), want at most 1", p, below, start, revs)
		}
		if len(revs) > keep && p != verso.Root {
			t.Errorf("history of %s keeps %d states (%v), want at most %d", p, len(revs), revs, keep)
		}
	}
}
