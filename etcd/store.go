package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/commitq"
	"github.com/verso-config/verso/internal/plan"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Options configures Open. The zero value (or a nil *Options) is useful
// except for Endpoints, which must name at least one etcd member.
type Options struct {
	// Endpoints are the client URLs of the etcd members
	// (http://10.0.0.1:2379, https://...). The client spreads requests
	// over them and fails over when one is down.
	Endpoints []string

	// Prefix is put before every key verso writes, so that one etcd
	// cluster can hold several verso trees (or other data). Default
	// "/verso/".
	Prefix string

	// TLS, when set, is used to talk to etcd (client certificates, CA).
	TLS *tls.Config

	// Username and Password authenticate to etcd when its auth is on.
	Username, Password string

	// DialTimeout bounds the first connection to etcd in Open. Default 5s.
	DialTimeout time.Duration

	// RequestTimeout bounds each request to etcd. Default 5s.
	RequestTimeout time.Duration

	// Clock gives the time recorded in commits, kept in UTC with
	// nanosecond precision. Nil means time.Now. Servers sharing a cluster
	// should keep their clocks in step: commit times follow revision order
	// only as well as the clocks agree.
	Clock func() time.Time

	// Logger receives the store's own events (a watch restarted, a commit
	// retried). Nil means slog.Default().
	Logger *slog.Logger

	// MaxBatch is the most transactions grouped into one etcd transaction
	// by group commit. 0 means 128; 1 turns grouping off.
	MaxBatch int

	// MaxTxnOps is the most operations one etcd transaction may hold; it
	// must not exceed etcd's --max-txn-ops. 0 means 128, etcd's default.
	MaxTxnOps int

	// MaxTxnBytes is the most bytes of keys and values one etcd
	// transaction may hold; keep it below etcd's --max-request-bytes.
	// 0 means 1 MiB (etcd's default limit is 1.5 MiB).
	MaxTxnBytes int
}

// Store is a verso.Store kept in etcd. Any number of Stores, in any number
// of processes, may share one prefix of one etcd cluster: they see one
// tree with one line of revisions. It is safe for concurrent use. See the
// package documentation for the layout and the rules.
type Store struct {
	cli      *clientv3.Client
	k        keys
	clock    func() time.Time
	log      *slog.Logger
	timeout  time.Duration
	maxBatch int
	maxOps   int
	maxBytes int

	// snap is the newest state this process knows; see snapshot.
	snap atomic.Pointer[snapshot]
	// start is the start of history as this process knows it (the start
	// key, followed by the watch and read with every read of history): it
	// only grows. Reads answered from memory check it.
	start atomic.Int64
	// pruneMu runs this process's Prune calls one at a time.
	pruneMu sync.Mutex
	// pruneBudget is about how many records one pruning step deletes.
	pruneBudget int
	// applyMu serializes the publication of snapshots and the cloning of
	// their trees.
	applyMu sync.Mutex

	mu       sync.Mutex    // guards changeCh
	changeCh chan struct{} // closed and replaced when a snapshot is published
	closeCh  chan struct{} // closed by Close, ends Wait

	ctx    context.Context // ends when the store closes (after commits)
	cancel context.CancelFunc

	queue     *commitq.Queue[*request] // to the committer; Closed once Close began
	done      chan struct{}            // closed when the committer exits
	watchDone chan struct{}            // closed when the watcher exits

	// batchHook, if set (by tests, before the first Commit), is called by
	// the committer with the number of verso transactions of each etcd
	// transaction it sends.
	batchHook func(size int)
}

var (
	_ verso.Store            = (*Store)(nil)
	_ verso.ConsistentReader = (*Store)(nil)
	_ verso.Pruner           = (*Store)(nil)
	_ verso.HistoryStarter   = (*Store)(nil)
)

// Open connects to the etcd cluster at opts.Endpoints, loads the tree at
// head into memory and starts following changes made by every other
// server. The store is empty (revision 0) if nothing is under the prefix.
func Open(ctx context.Context, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if len(o.Endpoints) == 0 {
		return nil, errors.New("open etcd store: no endpoints")
	}
	if o.Prefix == "" {
		o.Prefix = "/verso/"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 128
	}
	if o.MaxTxnOps <= 0 {
		o.MaxTxnOps = 128
	}
	if o.MaxTxnBytes <= 0 {
		o.MaxTxnBytes = 1 << 20
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          o.Endpoints,
		DialTimeout:        o.DialTimeout,
		TLS:                o.TLS,
		Username:           o.Username,
		Password:           o.Password,
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 64 << 20, // etcd itself refuses what is too large for it
		Context:            context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		cli:       cli,
		k:         keys{prefix: o.Prefix},
		clock:     o.Clock,
		log:       o.Logger,
		timeout:   o.RequestTimeout,
		maxBatch:  o.MaxBatch,
		maxOps:    o.MaxTxnOps,
		maxBytes:  o.MaxTxnBytes,
		changeCh:  make(chan struct{}),
		closeCh:   make(chan struct{}),
		ctx:       sctx,
		cancel:    cancel,
		queue:     commitq.New[*request](o.MaxBatch),
		done:      make(chan struct{}),
		watchDone: make(chan struct{}),

		pruneBudget: pruneBudget,
	}
	lctx, lcancel := context.WithTimeout(ctx, o.DialTimeout+o.RequestTimeout)
	snap, err := s.load(lctx)
	lcancel()
	if err != nil {
		cancel()
		cli.Close()
		return nil, fmt.Errorf("open etcd store %q: %w", o.Prefix, err)
	}
	s.snap.Store(snap)
	go s.commitLoop()
	go s.watchLoop()
	return s, nil
}

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
	s.mu.Lock()
	close(s.changeCh)
	s.changeCh = make(chan struct{})
	s.mu.Unlock()
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
	closeCh := s.closeCh
	if !stopOnClose {
		closeCh = nil
	}
	for {
		if stopOnClose && s.queue.Closed() {
			return nil, verso.ErrClosed
		}
		s.mu.Lock()
		ch := s.changeCh
		s.mu.Unlock()
		snap := s.snap.Load()
		if ok(snap) {
			return snap, nil
		}
		select {
		case <-ch:
		case <-closeCh:
			return nil, verso.ErrClosed
		case <-ctx.Done():
			return snap, ctx.Err()
		}
	}
}

// watchLoop follows every change under the prefix, from the etcd revision
// after the newest snapshot, and applies it to the state in memory. When
// etcd has compacted the revisions it needs, it loads the tree again.
func (s *Store) watchLoop() {
	defer close(s.watchDone)
	backoff := 10 * time.Millisecond
	for s.ctx.Err() == nil {
		start := s.snap.Load().etcdRev + 1
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(s.ctx))
		wch := s.cli.Watch(ctx, s.k.prefix, clientv3.WithPrefix(), clientv3.WithRev(start))
		progressed, err := s.follow(wch)
		cancel()
		if s.ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = 10 * time.Millisecond
		}
		if errors.Is(err, errCompacted) {
			s.log.Warn("verso: etcd compacted revisions the watch needed; reloading the tree", "prefix", s.k.prefix, "from", start)
			if err := s.reload(s.ctx); err != nil {
				s.log.Error("verso: reload tree", "prefix", s.k.prefix, "err", err)
			} else {
				continue
			}
		} else if err != nil {
			s.log.Warn("verso: etcd watch ended; restarting", "prefix", s.k.prefix, "from", start, "err", err)
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
// (a linearizable read).
func (s *Store) GetConsistent(ctx context.Context, p verso.Path) (*verso.Entry, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := s.cli.Get(rctx, s.k.rev())
	cancel()
	if err != nil {
		return nil, s.etcdError("get "+string(p), err)
	}
	var v []byte
	if len(resp.Kvs) > 0 {
		v = resp.Kvs[0].Value
	}
	want, err := parseRevValue(v)
	if err != nil {
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

// Close stops accepting commits (they return verso.ErrClosed), waits for
// the commits already submitted to finish, stops following etcd and
// closes the connection. After Close every method returns
// verso.ErrClosed, Close included.
func (s *Store) Close() error {
	if !s.queue.Stop() {
		return verso.ErrClosed
	}
	s.mu.Lock()
	close(s.closeCh)
	s.mu.Unlock()

	s.queue.Drain()
	<-s.done
	s.cancel()
	<-s.watchDone
	if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close etcd client: %w", err)
	}
	return nil
}

var _ verso.HeadReader = (*Store)(nil)

// HeadEntry returns p's entry at head from the store's copy in memory, as
// Get(ctx, p, verso.Head) would (verso.HeadReader); ok is false when p does
// not exist or the store is closed. The entry's fields are shared: do not
// modify them.
func (s *Store) HeadEntry(p verso.Path) (e verso.Entry, ok bool) {
	if s.queue.Closed() {
		return e, false
	}
	if ep := s.snap.Load().tree.get(p); ep != nil {
		return *ep, true
	}
	return e, false
}
