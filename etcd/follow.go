package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// load reads the whole tree at head, and the head, at one etcd revision.
func (s *Store) load(ctx context.Context) (*snapshot, error) {
	start, end := s.k.prefix+dirTree, s.k.prefix+dirTree[:len(dirTree)-1]+"0"
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.rev()),
		clientv3.OpGet(start, clientv3.WithRange(end)),
		clientv3.OpGet(s.k.start()),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("load tree: %w", err)
	}
	if _, err := s.readStart(resp.Responses[2].GetResponseRange().Kvs); err != nil {
		return nil, err
	}
	snap := &snapshot{etcdRev: resp.Header.Revision, tree: newTree()}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		if snap.head, err = parseRevValue(kvs[0].Value); err != nil {
			return nil, err
		}
		snap.headMod = kvs[0].ModRevision
	}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		p := verso.Path(kv.Key[len(start):])
		e, err := codec.DecodeEntry(p, kv.Value)
		if err != nil {
			return nil, err
		}
		snap.tree.set(e)
	}
	root := snap.tree.get(verso.Root)
	if root == nil {
		root = plan.RootEntry()
	} else {
		c := *root
		root = &c
	}
	root.TreeRev = snap.head
	snap.tree.set(root)
	return snap, nil
}

// publish makes snap the newest known state, unless a newer one is
// already published, and wakes everything waiting for a change. The
// caller holds applyMu.
func (s *Store) publish(snap *snapshot) bool {
	if cur := s.snap.Load(); cur != nil && snap.etcdRev <= cur.etcdRev {
		return false
	}
	s.snap.Store(snap)
	return true
}

// reload replaces the state in memory with a fresh read of etcd: after a
// compaction made the watch lose events, or when the watch seems stuck.
func (s *Store) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.load(ctx)
	if err != nil {
		return err
	}
	s.applyMu.Lock()
	s.publish(snap)
	s.applyMu.Unlock()
	return nil
}

// waitFor blocks until ok holds for the newest snapshot and returns it. It
// returns verso.ErrClosed once the store is closed.
func (s *Store) waitFor(ctx context.Context, ok func(*snapshot) bool) (*snapshot, error) {
	return s.waitUntil(ctx, true, ok)
}

// waitUntil is waitFor; the committer, which finishes its work after Close,
// waits with stopOnClose false.
func (s *Store) waitUntil(ctx context.Context, stopOnClose bool, ok func(*snapshot) bool) (*snapshot, error) {
	if !stopOnClose {
		return s.snap.wait(ctx, nil, nil, ok)
	}
	return s.snap.wait(ctx, s.queue.Closed, s.closeCh, ok)
}

// watchLoop follows every change under the prefix, from the etcd revision
// after the newest snapshot, and applies it to the state in memory. When
// etcd has compacted the revisions it needs, it loads the tree again.
func (s *Store) watchLoop() {
	s.keepWatching(follower{
		done: s.watchDone,
		rev:  func() int64 { return s.snap.Load().etcdRev },
		watch: func(ctx context.Context, start int64) (bool, error) {
			// the tree's keys all sort before "~"; journals (journal.go) after
			return s.follow(s.cli.Watch(ctx, s.k.prefix, clientv3.WithRange(s.k.prefix+"~"), clientv3.WithRev(start)))
		},
		reload: func(start int64) error {
			s.log.Warn("verso: etcd compacted revisions the watch needed; reloading the tree", "prefix", s.k.prefix, "from", start)
			return s.reload(s.ctx)
		},
		reloadFailed: "verso: reload tree",
		ended:        "verso: etcd watch ended; restarting",
	})
}

// A follower is what keepWatching needs to keep one state in memory (the
// tree's snapshot, the lock table) following etcd.
type follower struct {
	done chan<- struct{} // closed when keepWatching returns
	rev  func() int64    // the etcd revision the state reflects
	// watch follows etcd from start and applies what comes to the state
	// until the watch ends; progressed tells whether it applied anything.
	watch func(ctx context.Context, start int64) (progressed bool, err error)
	// reload reads the state again when etcd has compacted the revisions
	// the watch needed.
	reload       func(start int64) error
	reloadFailed string // logged when reload fails
	ended        string // logged when a watch ends with another error
}

// keepWatching runs f's watch from the revision after f's state, and again
// each time it ends, until the store closes; then it closes f.done. After
// a compaction it reloads the state and watches again at once; after a
// failed reload, or any other end, it waits first: 10ms, doubling up to
// 1s, and 10ms again once a watch has applied something.
func (s *Store) keepWatching(f follower) {
	defer close(f.done)
	backoff := 10 * time.Millisecond
	for s.ctx.Err() == nil {
		start := f.rev() + 1
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(s.ctx))
		progressed, err := f.watch(ctx, start)
		cancel()
		if s.ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = 10 * time.Millisecond
		}
		if errors.Is(err, errCompacted) {
			if err := f.reload(start); err != nil {
				s.log.Error(f.reloadFailed, "prefix", s.k.prefix, "err", err)
			} else {
				continue
			}
		} else if err != nil {
			s.log.Warn(f.ended, "prefix", s.k.prefix, "from", start, "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

var errCompacted = errors.New("watch start revision compacted")

// follow applies the events of wch, one etcd revision at a time (etcd
// never splits a revision's events across responses), until the channel
// closes or reports an error.
func (s *Store) follow(wch clientv3.WatchChan) (progressed bool, err error) {
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return progressed, errCompacted
		}
		if err := resp.Err(); err != nil {
			return progressed, err
		}
		evs := resp.Events
		for len(evs) > 0 {
			rev := evs[0].Kv.ModRevision
			n := 1
			for n < len(evs) && evs[n].Kv.ModRevision == rev {
				n++
			}
			s.applyEvents(rev, evs[:n])
			evs = evs[n:]
			progressed = true
		}
	}
	return progressed, nil
}

// applyEvents applies the events of one etcd revision to the newest
// snapshot: the entries in t/ and the head in rev. Keys it does not know
// (other data under the prefix) are ignored.
func (s *Store) applyEvents(etcdRev int64, evs []*clientv3.Event) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur := s.snap.Load()
	if etcdRev <= cur.etcdRev {
		return // published already, by the commit that made it
	}
	next := &snapshot{head: cur.head, headMod: cur.headMod, etcdRev: etcdRev, tree: cur.tree}
	treePrefix := s.k.prefix + dirTree
	for _, ev := range evs {
		key := string(ev.Kv.Key)
		switch {
		case key == s.k.rev():
			head, err := parseRevValue(ev.Kv.Value)
			if err != nil || ev.Type != clientv3.EventTypePut {
				s.log.Error("verso: bad head revision in etcd", "key", key, "value", string(ev.Kv.Value))
				continue
			}
			next.head, next.headMod = head, etcdRev
		case key == s.k.start():
			if _, err := s.readStart([]*mvccpb.KeyValue{ev.Kv}); err != nil || ev.Type != clientv3.EventTypePut {
				s.log.Error("verso: bad start of history in etcd", "key", key, "value", string(ev.Kv.Value))
			}
		case strings.HasPrefix(key, treePrefix):
			if next.tree == cur.tree {
				next.tree = cur.tree.clone()
			}
			p := verso.Path(key[len(treePrefix):])
			if ev.Type == clientv3.EventTypeDelete {
				next.tree.delete(p)
				continue
			}
			e, err := codec.DecodeEntry(p, ev.Kv.Value)
			if err != nil {
				s.log.Error("verso: bad entry in etcd", "key", key, "err", err)
				continue
			}
			next.tree.set(e)
		}
	}
	if next.head != cur.head {
		if next.tree == cur.tree {
			next.tree = cur.tree.clone()
		}
		root := next.tree.get(verso.Root)
		if root == nil {
			root = plan.RootEntry()
		}
		nr := *root
		nr.TreeRev = next.head
		next.tree.set(&nr)
	}
	s.publish(next)
}
