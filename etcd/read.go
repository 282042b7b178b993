package etcd

import (
	"context"
	"errors"
	"fmt"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Head returns the newest revision this store knows: every revision
// committed through it, and those committed through other servers as soon
// as etcd's watch delivers them.
func (s *Store) Head(ctx context.Context) (verso.Revision, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return 0, err
	}
	return s.snap.Load().head, nil
}

// Get returns the entry at p as of rev. At verso.Head, and at an older
// revision when the entry in memory has not changed since, it answers from
// memory; otherwise it reads the history in etcd.
func (s *Store) Get(ctx context.Context, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	snap := s.snap.Load()
	if rev < verso.Head {
		return nil, &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNoRevision}
	}
	if rev == verso.Head || rev == snap.head {
		if e := snap.tree.get(p); e != nil {
			return e, nil
		}
		return nil, &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNotFound}
	}
	if start := verso.Revision(s.start.Load()); rev < start {
		return nil, &verso.PathError{Op: "get", Path: p, Rev: rev, Err: goneBefore(start)}
	}
	if rev < snap.head && p != verso.Root {
		// Unchanged since rev: the entry at head is the entry at rev.
		if e := snap.tree.get(p); e != nil && e.TreeRev <= rev {
			return e, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.rev()),
		clientv3.OpGet(s.k.hist(p, 0), clientv3.WithRange(s.k.hist(p, rev+1)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1)),
		clientv3.OpGet(s.k.index(p, 0), clientv3.WithRange(s.k.index(p, rev+1)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1), clientv3.WithKeysOnly()),
		clientv3.OpGet(s.k.start()),
	).Commit()
	if err != nil {
		return nil, s.etcdError("get "+string(p), err)
	}
	if err := s.checkRev(resp.Responses[0].GetResponseRange().Kvs, "get", p, rev); err != nil {
		return nil, err
	}
	if err := s.checkStart(resp.Responses[3].GetResponseRange().Kvs, "get", p, rev); err != nil {
		return nil, err
	}
	var e *verso.Entry
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 && codec.IsGone(kvs[0].Value) {
		return nil, &verso.PathError{Op: "get", Path: p, Rev: rev, Err: errPruned}
	} else if len(kvs) > 0 && !codec.IsTombstone(kvs[0].Value) {
		if e, err = codec.DecodeEntry(p, kvs[0].Value); err != nil {
			return nil, err
		}
	}
	switch {
	case p == verso.Root:
		if e == nil {
			e = plan.RootEntry()
		}
		e.TreeRev = rev
	case e == nil:
		return nil, &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNotFound}
	case e.IsNamespace():
		kvs := resp.Responses[2].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil, fmt.Errorf("namespace %s@%d has no log: %w", p, rev, errCorrupt)
		}
		_, r, ok := splitPathRev(string(kvs[0].Key[len(s.k.prefix+dirIndex):]))
		if !ok {
			return nil, fmt.Errorf("index key %q: %w", kvs[0].Key, errCorrupt)
		}
		e.TreeRev = r
	}
	return e, nil
}

// checkRev reads the head from the rev key's range response and refuses a
// revision beyond it.
func (s *Store) checkRev(kvs []*mvccpb.KeyValue, op string, p verso.Path, rev verso.Revision) error {
	var v []byte
	if len(kvs) > 0 {
		v = kvs[0].Value
	}
	head, err := parseRevValue(v)
	if err != nil {
		return err
	}
	if rev > head {
		return &verso.PathError{Op: op, Path: p, Rev: rev, Err: verso.ErrNoRevision}
	}
	return nil
}

// readStart reads the start of history from the start key's range
// response (0 when missing) and makes sure s.start is at least that.
func (s *Store) readStart(kvs []*mvccpb.KeyValue) (verso.Revision, error) {
	var start verso.Revision
	if len(kvs) > 0 {
		var err error
		if start, err = parseRevValue(kvs[0].Value); err != nil {
			return 0, fmt.Errorf("start of history: %w", err)
		}
	}
	s.raiseStart(start)
	return start, nil
}

// raiseStart makes s.start at least start.
func (s *Store) raiseStart(start verso.Revision) {
	for {
		cur := s.start.Load()
		if int64(start) <= cur || s.start.CompareAndSwap(cur, int64(start)) {
			return
		}
	}
}

// checkStart reads the start of history from the start key's range
// response and refuses a revision below it with verso.ErrGone.
func (s *Store) checkStart(kvs []*mvccpb.KeyValue, op string, p verso.Path, rev verso.Revision) error {
	start, err := s.readStart(kvs)
	if err != nil {
		return err
	}
	if rev < start {
		return &verso.PathError{Op: op, Path: p, Rev: rev, Err: goneBefore(start)}
	}
	return nil
}

// goneBefore is the error of a revision below start.
func goneBefore(start verso.Revision) error {
	return fmt.Errorf("history starts at r%d: %w", start, verso.ErrGone)
}

// errPruned is the error of a read that reaches a gone marker.
var errPruned = fmt.Errorf("older versions were pruned: %w", verso.ErrGone)

// etcdError wraps an error of etcd; a closed store's canceled requests
// become verso.ErrClosed.
func (s *Store) etcdError(what string, err error) error {
	if s.queue.Closed() && s.ctx.Err() != nil {
		return verso.ErrClosed
	}
	return fmt.Errorf("%s: etcd: %w", what, err)
}

// Walk calls fn for p and the entries below it as of rev, down to depth, in
// pre-order with children in name order. At verso.Head it walks the tree in
// memory; at an older revision it reads the history of p's subtree from
// etcd in one request, so each walk sees one revision. The entries are
// collected before fn is first called.
func (s *Store) Walk(ctx context.Context, p verso.Path, rev verso.Revision, depth int, fn func(*verso.Entry) error) error {
	if err := s.queue.Ready(ctx); err != nil {
		return err
	}
	if rev < verso.Head {
		return &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNoRevision}
	}
	var tr *tree
	var gone map[*verso.Entry]bool
	snap := s.snap.Load()
	if rev == verso.Head || rev == snap.head {
		tr = snap.tree
	} else {
		if start := verso.Revision(s.start.Load()); rev < start {
			return &verso.PathError{Op: "get", Path: p, Rev: rev, Err: goneBefore(start)}
		}
		var err error
		if tr, gone, err = s.treeAt(ctx, p, rev); err != nil {
			return err
		}
	}
	e := tr.get(p)
	if e == nil {
		return &verso.PathError{Op: "get", Path: p, Rev: rev, Err: verso.ErrNotFound}
	}
	es := tr.walk(e, depth, nil)
	for _, e := range es {
		if gone[e] {
			return &verso.PathError{Op: "get", Path: e.Path, Rev: rev, Err: errPruned}
		}
	}
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// treeAt rebuilds p's subtree as of rev from its history: the newest state
// of each path at or before rev, and for each namespace the newest
// revision at or before rev in its log (the index), which pruning keeps.
// A path whose newest record at or before rev is a gone marker is in the
// tree as an entry of its own that gone holds: reading it is ErrGone.
func (s *Store) treeAt(ctx context.Context, p verso.Path, rev verso.Revision) (*tree, map[*verso.Entry]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start, end := s.k.subtreeRange(dirHist, p)
	istart, iend := s.k.subtreeRange(dirIndex, p)
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.rev()),
		clientv3.OpGet(start, clientv3.WithRange(end)),
		clientv3.OpGet(istart, clientv3.WithRange(iend), clientv3.WithKeysOnly()),
		clientv3.OpGet(s.k.start()),
	).Commit()
	if err != nil {
		return nil, nil, s.etcdError("walk "+string(p), err)
	}
	if err := s.checkRev(resp.Responses[0].GetResponseRange().Kvs, "get", p, rev); err != nil {
		return nil, nil, err
	}
	if err := s.checkStart(resp.Responses[3].GetResponseRange().Kvs, "get", p, rev); err != nil {
		return nil, nil, err
	}
	histPrefix := len(s.k.prefix + dirHist)
	latest := map[verso.Path][]byte{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		q, r, ok := splitPathRev(string(kv.Key[histPrefix:]))
		if !ok {
			return nil, nil, fmt.Errorf("history key %q: %w", kv.Key, errCorrupt)
		}
		if r > rev || !p.Contains(q) {
			continue
		}
		latest[q] = kv.Value // keys come in revision order
	}
	indexPrefix := len(s.k.prefix + dirIndex)
	treeRev := map[verso.Path]verso.Revision{}
	for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
		q, r, ok := splitPathRev(string(kv.Key[indexPrefix:]))
		if !ok {
			return nil, nil, fmt.Errorf("index key %q: %w", kv.Key, errCorrupt)
		}
		if r <= rev && treeRev[q] < r {
			treeRev[q] = r
		}
	}
	tr := newTree()
	var gone map[*verso.Entry]bool
	for q, v := range latest {
		if codec.IsTombstone(v) {
			continue
		}
		if codec.IsGone(v) {
			e := &verso.Entry{Path: q}
			if gone == nil {
				gone = map[*verso.Entry]bool{}
			}
			gone[e] = true
			tr.set(e)
			continue
		}
		e, err := codec.DecodeEntry(q, v)
		if err != nil {
			return nil, nil, err
		}
		if e.IsNamespace() {
			if e.TreeRev = treeRev[q]; e.TreeRev == 0 {
				return nil, nil, fmt.Errorf("namespace %s@%d has no log: %w", q, rev, errCorrupt)
			}
		}
		tr.set(e)
	}
	if p == verso.Root {
		root := tr.get(verso.Root)
		if root == nil {
			root = plan.RootEntry()
		}
		if !gone[root] {
			root.TreeRev = rev
		}
		tr.set(root)
	}
	return tr, gone, nil
}

// Revision returns the record of revision rev.
func (s *Store) Revision(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	if rev <= 0 {
		return nil, fmt.Errorf("revision %d: %w", rev, verso.ErrNoRevision)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.k.rev()), clientv3.OpGet(s.k.commit(rev)), clientv3.OpGet(s.k.start())).Commit()
	if err != nil {
		return nil, s.etcdError(fmt.Sprintf("revision %d", rev), err)
	}
	if err := s.checkRev(resp.Responses[0].GetResponseRange().Kvs, "revision", verso.Root, rev); err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, verso.ErrNoRevision)
	}
	start, err := s.readStart(resp.Responses[2].GetResponseRange().Kvs)
	if err != nil {
		return nil, err
	}
	if rev < start {
		return nil, fmt.Errorf("revision %d: %w", rev, goneBefore(start))
	}
	kvs := resp.Responses[1].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, fmt.Errorf("revision %d: record missing: %w", rev, errCorrupt)
	}
	c, _, err := codec.DecodeCommit(kvs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	return c, nil
}

// Log returns, newest first, the commits that changed q.Path or anything
// below it: a backward range read of the path's index keys, then the
// records they name.
func (s *Store) Log(ctx context.Context, q verso.LogQuery) ([]*verso.Commit, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	p := q.Path
	if p == "" {
		p = verso.Root
	}
	if q.Before < verso.Head {
		return nil, &verso.PathError{Op: "log", Path: p, Rev: q.Before, Err: verso.ErrNoRevision}
	}
	before := q.Before
	if before <= 0 {
		before = maxRev
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithRange(s.k.index(p, before+1)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithKeysOnly()}
	if q.Limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(q.Limit)))
	}
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.k.rev()), clientv3.OpGet(s.k.index(p, 0), opts...), clientv3.OpGet(s.k.start())).Commit()
	if err != nil {
		return nil, s.etcdError("log "+string(p), err)
	}
	if q.Before > 0 {
		if err := s.checkRev(resp.Responses[0].GetResponseRange().Kvs, "log", p, q.Before); err != nil {
			return nil, err
		}
		if err := s.checkStart(resp.Responses[2].GetResponseRange().Kvs, "log", p, q.Before); err != nil {
			return nil, err
		}
	}
	start, err := s.readStart(resp.Responses[2].GetResponseRange().Kvs)
	if err != nil {
		return nil, err
	}
	var revs []verso.Revision
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		_, r, ok := splitPathRev(string(kv.Key[len(s.k.prefix+dirIndex):]))
		if !ok {
			return nil, fmt.Errorf("index key %q: %w", kv.Key, errCorrupt)
		}
		if r < start {
			break // the log stops at the start of history
		}
		revs = append(revs, r)
	}
	return s.commits(ctx, revs)
}

// maxRev bounds a range of revisions from above.
const maxRev = verso.Revision(1<<63 - 2)

// commits reads the records of revs, newest first, a few dozen per etcd
// request. Records that pruning dropped since revs were read (below the
// start of history read with them) end the list: the log stops there.
func (s *Store) commits(ctx context.Context, revs []verso.Revision) ([]*verso.Commit, error) {
	out := make([]*verso.Commit, 0, len(revs))
	chunk := min(s.maxOps-1, 64)
	for len(revs) > 0 {
		n := min(chunk, len(revs))
		ops := make([]clientv3.Op, n, n+1)
		for i, r := range revs[:n] {
			ops[i] = clientv3.OpGet(s.k.commit(r))
		}
		ops = append(ops, clientv3.OpGet(s.k.start()))
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, s.etcdError("read commits", err)
		}
		start, err := s.readStart(resp.Responses[n].GetResponseRange().Kvs)
		if err != nil {
			return nil, err
		}
		for i, r := range revs[:n] {
			kvs := resp.Responses[i].GetResponseRange().Kvs
			if len(kvs) == 0 && r < start {
				return out, nil
			}
			if len(kvs) == 0 {
				return nil, fmt.Errorf("revision %d: record missing: %w", r, errCorrupt)
			}
			c, _, err := codec.DecodeCommit(kvs[0].Value)
			if err != nil {
				return nil, fmt.Errorf("revision %d: %w", r, err)
			}
			out = append(out, c)
		}
		revs = revs[n:]
	}
	return out, nil
}

// Wait blocks until the head this store knows is at least rev, then
// returns it. Commits made through other servers wake it as soon as etcd's
// watch delivers them.
func (s *Store) Wait(ctx context.Context, rev verso.Revision) (verso.Revision, error) {
	snap, err := s.waitFor(ctx, func(snap *snapshot) bool { return snap.head >= rev })
	if snap == nil {
		return 0, err
	}
	return snap.head, err
}

// GetConsistent returns the entry at p at the head of the cluster: it
// reads the head revision with a quorum read, waits until this store has
// applied that revision, and answers from memory. The answer reflects
// every commit that completed, through any server, before the call began
// (a linearizable read). The same quorum read takes the lock table's
// version, and GetConsistent waits until the table in memory has it too
// (verso.LockTable), so a write that reads what it checks with it sees
// every lock granted before, at no cost of its own.
func (s *Store) GetConsistent(ctx context.Context, p verso.Path) (*verso.Entry, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	// The head, and the lock table's version with it: a write reads
	// what it checks with GetConsistent, and so sees the locks too.
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.cli.Txn(rctx).Then(clientv3.OpGet(s.k.rev()), clientv3.OpGet(s.k.lockVersion())).Commit()
	cancel()
	if err != nil {
		return nil, s.etcdError("get "+string(p), err)
	}
	var v []byte
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		v = kvs[0].Value
	}
	want, err := parseRevValue(v)
	if err != nil {
		return nil, err
	}
	var locks int64
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		locks = kvs[0].ModRevision
	}
	if _, err := s.waitLocks(ctx, func(st *lockState) bool { return st.view.Version >= locks }); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	snap, err := s.waitFor(wctx, func(snap *snapshot) bool { return snap.head >= want })
	if err != nil {
		if errors.Is(err, verso.ErrClosed) || ctx.Err() != nil {
			return nil, err
		}
		// The watch is behind: read the tree again.
		if err := s.reload(ctx); err != nil {
			return nil, s.etcdError("get "+string(p), err)
		}
		snap = s.snap.Load()
	}
	if e := snap.tree.get(p); e != nil {
		return e, nil
	}
	return nil, &verso.PathError{Op: "get", Path: p, Err: verso.ErrNotFound}
}
