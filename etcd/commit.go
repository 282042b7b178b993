package etcd

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// request is one Commit call waiting for the committer.
type request struct {
	ctx  context.Context
	txn  *verso.Txn
	done chan struct{} // closed when commit or err is set

	plan   *plan.Plan // set while a group holding the txn is in flight
	commit *verso.Commit
	err    error
}

// Limits of the committer.
const (
	// maxAttempts bounds how often a group is planned again after another
	// server's commit got in first.
	maxAttempts = 100
	// resolveFor bounds how long the committer keeps asking etcd about a
	// transaction whose outcome it does not know.
	resolveFor = 30 * time.Second
)

// Commit applies txn as one new revision and returns its record once etcd
// has it (a quorum of members wrote it to disk) and Get at verso.Head on
// this store sees it.
//
// Commit hands txn to the store's committer and always waits for its
// answer: if ctx is done when the committer reaches txn, txn is skipped
// and Commit returns ctx.Err(); once txn is part of an etcd transaction it
// commits regardless of ctx.
func (s *Store) Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	if err := plan.Validate(txn); err != nil {
		return nil, err
	}

	req := &request{ctx: ctx, txn: txn, done: make(chan struct{})}
	if !s.queue.Send(req) {
		return nil, verso.ErrClosed
	}
	<-req.done
	return req.commit, req.err
}

// commitLoop is the committer: the only goroutine of this process that
// writes to etcd. It runs until Close closes the queue.
func (s *Store) commitLoop() {
	defer close(s.done)
	var pending []*request
	for {
		if len(pending) == 0 {
			r, ok := <-s.queue.C()
			if !ok {
				return
			}
			pending = append(pending, r)
		}
	fill:
		for len(pending) < s.maxBatch {
			select {
			case r, ok := <-s.queue.C():
				if !ok {
					break fill
				}
				pending = append(pending, r)
			default:
				break fill
			}
		}
		pending = s.commitGroup(pending)
	}
}

// commitGroup commits a prefix of reqs, each transaction as its own
// revision, in one etcd transaction, answers their callers, and returns
// the requests that did not fit (they go into the next group).
func (s *Store) commitGroup(reqs []*request) []*request {
	limit := len(reqs) // most transactions to plan into one group
	for attempt := 0; ; attempt++ {
		g := s.planGroup(reqs[:limit])
		rest := reqs[len(g.decided):]
		if g.planned == 0 && g.failed == 0 {
			g.answer() // only canceled requests: nothing to confirm
			return rest
		}
		if s.batchHook != nil && g.planned > 0 {
			s.batchHook(g.planned)
		}
		out, err := s.send(g)
		switch {
		case out == outcomeCommitted:
			s.publishGroup(g)
			g.answer()
			return rest

		case out == outcomeTooLarge && g.planned > 1:
			// One of them is too large for etcd: try them one at a time.
			g.reset()
			limit = 1
			continue

		case out == outcomeTooLarge:
			for _, r := range g.decided {
				if r.plan != nil {
					r.plan, r.err = nil, fmt.Errorf("commit: %w: etcd refused the transaction: %v", verso.ErrTooLarge, err)
				}
			}
			g.answer()
			return rest

		case out == outcomeNoSpace:
			for _, r := range g.decided {
				if r.plan != nil {
					r.plan, r.err = nil, fmt.Errorf("commit: %w: etcd's space quota is spent (%v): "+
						"its operator must compact, defragment and disarm the NOSPACE alarm", verso.ErrNoSpace, err)
				}
			}
			g.answer()
			return rest

		case out == outcomeUnknown:
			s.log.Error("verso: etcd transaction outcome unknown", "prefix", s.k.prefix, "first", g.snap.head+1, "txns", g.planned, "err", err)
			for _, r := range g.decided {
				r.plan, r.err = nil, fmt.Errorf("commit: outcome unknown (it may yet appear in the log): %w", err)
			}
			g.answer()
			return rest
		}

		// Another server committed first: wait until this one has seen
		// that commit, then plan everything again against it.
		g.reset()
		if attempt+1 >= maxAttempts {
			for _, r := range g.decided {
				r.err = fmt.Errorf("commit: gave up after %d attempts lost to other servers' commits", maxAttempts)
			}
			g.answer()
			return rest
		}
		s.catchUp(g.seenMod)
		if g.checksLocks && g.seenLocks != g.locksAt {
			// The lock table changed: its transactions are checked again.
			s.waitLocks(s.ctx, func(st *lockState) bool { return st.view.Version >= g.seenLocks })
		}
		time.Sleep(time.Duration(rand.Int64N(int64(min(attempt+1, 20)) * int64(time.Millisecond))))
	}
}

// group is one etcd transaction in the making: the transactions planned
// into it against one snapshot.
type group struct {
	id      string    // written into each commit record of the group
	snap    *snapshot // the state it was planned against
	work    *tree     // snap's tree with every plan of the group applied
	decided []*request
	planned int // requests of decided with a plan
	failed  int // requests of decided whose plan failed
	// etcdRev is the etcd revision at which the transaction committed.
	etcdRev int64
	ops     []clientv3.Op
	// seenMod is the mod revision of the rev key etcd reported when the
	// transaction's comparison failed.
	seenMod int64
	// locksAt is the lock table's version as this process knew it when
	// the group was planned. When a transaction of the group was checked
	// against the locks (verso.Txn.LocksAt), checksLocks is set and the
	// group commits only if the table is still at that version; seenLocks
	// is the version etcd reported when the comparison failed.
	locksAt     int64
	checksLocks bool
	seenLocks   int64
}

// reset forgets the outcome of every request of the group.
func (g *group) reset() {
	for _, r := range g.decided {
		r.plan, r.err = nil, nil
	}
}

// answer wakes the caller of every request of the group.
func (g *group) answer() {
	for _, r := range g.decided {
		if r.plan != nil {
			r.commit, r.plan = r.plan.Commit, nil
		}
		close(r.done)
	}
}

// planGroup plans reqs, in order, against the newest snapshot, each
// against the state the ones before it leave, until the next would not fit
// into one etcd transaction. A request whose plan fails keeps its error:
// the error stands if the group's transaction commits, which proves that
// the snapshot was still the head.
func (s *Store) planGroup(reqs []*request) *group {
	s.schemas.NewGroup()
	s.applyMu.Lock()
	snap := s.snap.Load()
	work := snap.tree.clone()
	s.applyMu.Unlock()

	var id [12]byte
	crand.Read(id[:])
	g := &group{id: hex.EncodeToString(id[:]), snap: snap, work: work, locksAt: s.Locks().Version}

	head := snap.head
	treeOps := map[string]clientv3.Op{} // t/ keys: etcd refuses a key twice in one txn
	var treeOrder []string
	var other []clientv3.Op
	nops, nbytes := 1, 0
	changedHere := map[verso.Path]bool{}
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			g.decided = append(g.decided, r)
			continue
		}
		if at := r.txn.LocksAt; at != nil && *at != g.locksAt {
			r.err = fmt.Errorf("commit: %w (version %d, now %d)", verso.ErrLocksChanged, *at, g.locksAt)
			g.failed++
			g.decided = append(g.decided, r)
			continue
		}
		p, err := plan.Txn(planState{tree: work, deletedAfter: func(paths []verso.Path, base verso.Revision) ([]verso.Path, error) {
			return s.deletedAfter(r.ctx, changedHere, paths, base, snap.head)
		}, schemas: &s.schemas}, head, r.txn, s.now())
		if err != nil {
			r.err = err
			g.failed++
			g.decided = append(g.decided, r)
			continue
		}
		tops, oops, n, err := s.planOps(p, g.id)
		if err != nil {
			r.err = err
			g.failed++
			g.decided = append(g.decided, r)
			continue
		}
		if g.planned > 0 && (nops+len(tops)+len(oops) > s.maxOps || nbytes+n > s.maxBytes) {
			break // the rest go into the next group
		}
		nops += len(tops) + len(oops)
		nbytes += n
		for _, op := range tops {
			k := string(op.KeyBytes())
			if _, ok := treeOps[k]; !ok {
				treeOrder = append(treeOrder, k)
			}
			treeOps[k] = op
		}
		other = append(other, oops...)
		for _, ch := range p.Commit.Changes {
			changedHere[ch.Path] = true
		}
		applyPlan(work, p)
		head = p.Rev
		r.plan = p
		g.planned++
		g.checksLocks = g.checksLocks || r.txn.LocksAt != nil
		g.decided = append(g.decided, r)
	}
	if g.planned > 0 {
		for _, k := range treeOrder {
			g.ops = append(g.ops, treeOps[k])
		}
		g.ops = append(g.ops, other...)
		g.ops = append(g.ops, clientv3.OpPut(s.k.rev(), strconv.FormatInt(int64(head), 10)))
	}
	return g
}

// deletedAfter returns those of paths (absent from the planned tree) that
// a revision in (base, head] deleted, or an earlier transaction of the
// group changed.
func (s *Store) deletedAfter(ctx context.Context, changedHere map[verso.Path]bool, paths []verso.Path, base, head verso.Revision) ([]verso.Path, error) {
	var out, ask []verso.Path
	for _, p := range paths {
		if changedHere[p] {
			out = append(out, p)
		} else if base < head {
			ask = append(ask, p)
		}
	}
	for len(ask) > 0 {
		n := min(len(ask), max(1, s.maxOps))
		ops := make([]clientv3.Op, n)
		for i, p := range ask[:n] {
			ops[i] = clientv3.OpGet(s.k.hist(p, base+1), clientv3.WithRange(s.k.hist(p, head+1)), clientv3.WithCountOnly())
		}
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, s.etcdError("check base revision", err)
		}
		for i, p := range ask[:n] {
			if resp.Responses[i].GetResponseRange().Count > 0 {
				out = append(out, p)
			}
		}
		ask = ask[n:]
	}
	return out, nil
}

// planOps returns the etcd operations that write p as revision p.rev: those
// on t/ keys apart (the group keeps the last one of each key), and the
// bytes they carry.
func (s *Store) planOps(p *plan.Plan, group string) (tree, other []clientv3.Op, size int, err error) {
	put := func(ops *[]clientv3.Op, k string, v []byte) {
		*ops = append(*ops, clientv3.OpPut(k, string(v)))
		size += len(k) + len(v)
	}
	for i, ch := range p.Commit.Changes {
		e := p.Changed[i]
		if e == nil {
			k := s.k.tree(ch.Path)
			tree = append(tree, clientv3.OpDelete(k))
			size += len(k)
			put(&other, s.k.hist(ch.Path, p.Rev), []byte{codec.Tombstone})
			continue
		}
		v := codec.EncodeEntry(e)
		put(&tree, s.k.tree(ch.Path), v)
		put(&other, s.k.hist(ch.Path, p.Rev), v)
	}
	for _, e := range p.TreeRevs {
		put(&tree, s.k.tree(e.Path), codec.EncodeEntry(e))
	}
	for _, q := range p.Indexed {
		put(&other, s.k.index(q, p.Rev), nil)
	}
	rec, err := codec.EncodeCommit(p.Commit, group)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("encode commit %d: %w", p.Rev, err)
	}
	put(&other, s.k.commit(p.Rev), rec)
	return tree, other, size, nil
}

type outcome int

const (
	outcomeCommitted outcome = iota // the group's transaction committed
	outcomeBehind                   // another commit came first; g.seenMod says which
	outcomeTooLarge                 // etcd refused the transaction for its size
	outcomeNoSpace                  // etcd refused the transaction: its space quota is spent
	outcomeUnknown                  // etcd did not answer in time
)

// send sends the group's transaction: If the rev key is as the snapshot
// saw it, Then write everything. Every verso commit rewrites the rev key,
// so the comparison holds only if no commit, through any server, came
// after the snapshot: the plans are exact, and each revision is handed out
// once. A group with a transaction checked against the locks
// (verso.Txn.LocksAt) also compares the lock table's version, so that no
// lock granted since, through any server, is ignored. A group with no
// plans sends the comparison alone, which confirms that the failures it
// planned were read from the head.
//
// When etcd does not answer (a timeout, a member lost), the transaction
// may or may not have been applied. send sends the same transaction again
// until etcd answers: the comparison lets at most one copy apply, and if a
// copy did, the commit record at the group's first revision carries the
// group's id.
func (s *Store) send(g *group) (outcome, error) {
	first := g.snap.head + 1
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k.rev()), "=", g.snap.headMod)}
	if g.checksLocks {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.k.lockVersion()), "=", g.locksAt))
	}
	deadline := time.Now().Add(resolveFor)
	backoff := 20 * time.Millisecond
	for tries := 0; ; tries++ {
		ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(g.ops...).Else(
			clientv3.OpGet(s.k.rev()), clientv3.OpGet(s.k.commit(first)), clientv3.OpGet(s.k.lockVersion()),
		).Commit()
		cancel()
		switch {
		case err == nil && resp.Succeeded:
			g.etcdRev = resp.Header.Revision
			return outcomeCommitted, nil
		case err == nil:
			if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
				g.seenMod = kvs[0].ModRevision
			}
			if kvs := resp.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
				g.seenLocks = kvs[0].ModRevision
			}
			if kvs := resp.Responses[1].GetResponseRange().Kvs; tries > 0 && len(kvs) > 0 && g.planned > 0 {
				if _, id, err := codec.DecodeCommit(kvs[0].Value); err == nil && id == g.id {
					// An earlier copy of this transaction applied.
					g.etcdRev = kvs[0].ModRevision
					return outcomeCommitted, nil
				}
			}
			return outcomeBehind, nil
		case errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) ||
			status.Code(err) == codes.ResourceExhausted:
			return outcomeTooLarge, err
		case tries == 0 && errors.Is(err, rpctypes.ErrNoSpace):
			// The NOSPACE alarm refused the only copy sent: nothing
			// applied. (After an unanswered copy, whether that one
			// applied is unknown: the loop goes on.)
			return outcomeNoSpace, err
		case s.ctx.Err() != nil || time.Now().After(deadline):
			return outcomeUnknown, err
		}
		s.log.Warn("verso: etcd transaction failed; sending it again", "prefix", s.k.prefix, "first", first, "err", err)
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
}

// publishGroup publishes the group's tree as the newest snapshot, at the
// etcd revision of its transaction, unless the watch got there first.
func (s *Store) publishGroup(g *group) {
	if g.planned == 0 {
		return
	}
	head := g.snap.head
	for _, r := range g.decided {
		if r.plan != nil {
			r.plan.Durable()
			head = r.plan.Rev
		}
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur := s.snap.Load()
	if cur.etcdRev >= g.etcdRev {
		return // the watch delivered it first
	}
	if cur.headMod != g.snap.headMod {
		// Cannot happen: the transaction applied only if no commit came
		// after the snapshot. Let the watch deliver the truth.
		s.log.Error("verso: state in memory moved under a commit", "prefix", s.k.prefix, "head", cur.head, "committed", head)
		return
	}
	s.publish(&snapshot{head: head, headMod: g.etcdRev, etcdRev: g.etcdRev, tree: g.work})
}

// catchUp waits until the store has applied the commit whose rev key has
// mod revision mod; if the watch is slow to deliver it, it reads the tree
// again.
func (s *Store) catchUp(mod int64) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	if _, err := s.waitUntil(ctx, false, func(snap *snapshot) bool { return snap.headMod >= mod }); err == nil || s.ctx.Err() != nil {
		return
	}
	if err := s.reload(s.ctx); err != nil {
		s.log.Warn("verso: reload tree", "prefix", s.k.prefix, "err", err)
	}
}

// now returns the commit time: the clock's reading in UTC without a
// monotonic part, the form it has after a round trip through etcd.
func (s *Store) now() time.Time { return s.clock().Round(0).UTC() }
