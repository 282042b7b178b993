package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Pruning drops history by the same rules as the bolt store (see
// bolt/prune.go), in small etcd transactions: each deletes at most about
// pruneBudget records and leaves a history that reads correctly on its
// own, so a read (one etcd transaction) sees the history before or after
// any step, never half of one.
//
// By age (Retention.KeepFor), the start of history S is raised first, in a
// step of its own: the start key, which every server reads with every read
// of history (and follows through its watch), so that a read below S is
// verso.ErrGone on every server from then on. Then the revisions below S
// are retired, oldest first: for every path they changed, the states that
// cannot serve a read at S or later, and the index keys that cannot give a
// namespace's TreeRev at S or later; their commit records go last.
//
// By count (Retention.KeepVersions), each path changed since the last
// trimming (the pruned key) keeps its newest N states; the older ones are
// replaced by one gone marker at the oldest of them.
//
// Every pruning step is an etcd transaction guarded by the guard key
// (prune): If its mod revision is still the one the pruner read before
// planning the step, Then write the step and rewrite the guard. So the
// pruning steps of all servers are serialized, each planned against the
// history every step before it left, and two servers may prune at once:
// the one that loses a comparison reads again and goes on from where the
// other left off. Pruning does not compare the head revision, and need not:
// a commit only adds keys above the head (history at new revisions, the
// rev key, the tree at head), while pruning deletes or marks only history
// records below the newest state of their path and index keys below S, so
// a step planned before a commit is as right after it, and a commit never
// reads what pruning changes (the planner's check for paths deleted after
// a base revision reads history records that only retirement below S
// removes, exactly as in the bolt store). Commits never wait for pruning,
// nor pruning for commits.

const (
	// pruneBudget is about how many records one pruning step deletes
	// (Store.pruneBudget, which tests lower).
	pruneBudget = 1000
	// scanChunk is how many commit records one read scans when looking
	// for the new start of history, or for paths to trim.
	scanChunk = 1000
	// retireChunk is how many commit records below the start of history
	// one round of retirement reads.
	retireChunk = 256
	// pruneAttempts bounds how often a Prune starts over after another
	// server's pruning step got in first.
	pruneAttempts = 100
)

// errPruneRaced says that another pruner's step came in between this
// pruner's read of the guard key and its write.
var errPruneRaced = errors.New("another server pruned at the same time")

// HistoryStart returns the oldest revision that can still be read: 0 until
// Prune drops revisions by age. It reads the start key with a quorum read,
// so every server answers the same.
func (s *Store) HistoryStart(ctx context.Context) (verso.Revision, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.k.start())
	if err != nil {
		return 0, s.etcdError("read start of history", err)
	}
	return s.readStart(resp.Kvs)
}

// Prune drops the history policy does not keep (see verso.Pruner and the
// comment above). Any number of servers may prune the same tree at once;
// each server's Prune calls run one at a time.
func (s *Store) Prune(ctx context.Context, policy verso.Retention, now time.Time) (verso.PruneStats, error) {
	var st verso.PruneStats
	if s.queue.Closed() {
		return st, verso.ErrClosed
	}
	if err := policy.Validate(); err != nil {
		return st, err
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	for attempt := 0; ; attempt++ {
		err := s.pruneOnce(ctx, policy, now, &st)
		if errors.Is(err, errPruneRaced) && attempt+1 < pruneAttempts {
			// Let the other pruner go on, then read again and go on
			// where it left off.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(min(attempt+1, 10)) * int64(10*time.Millisecond)))):
			case <-ctx.Done():
				return st, ctx.Err()
			}
			continue
		}
		if err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		start, err := s.HistoryStart(ctx)
		st.Start = start
		return st, err
	}
}

// pruner is one pass of Prune: the mod revision of the guard key it last
// read or wrote.
type pruner struct {
	s     *Store
	guard int64
}

// pruneOnce runs Prune once from a fresh read of the guard key, adding
// what it drops to st. It returns errPruneRaced if another pruner's step
// came in between.
func (s *Store) pruneOnce(ctx context.Context, policy verso.Retention, now time.Time, st *verso.PruneStats) error {
	if s.queue.Closed() {
		return verso.ErrClosed
	}
	pr := &pruner{s: s}
	resp, err := pr.read(ctx,
		clientv3.OpGet(s.k.guard()),
		clientv3.OpGet(s.k.rev()),
		clientv3.OpGet(s.k.start()),
		clientv3.OpGet(s.k.pruned()),
	)
	if err != nil {
		return err
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		pr.guard = kvs[0].ModRevision
	}
	var head verso.Revision
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		if head, err = parseRevValue(kvs[0].Value); err != nil {
			return err
		}
	}
	start, err := s.readStart(resp.Responses[2].GetResponseRange().Kvs)
	if err != nil {
		return err
	}
	var pruned []byte
	if kvs := resp.Responses[3].GetResponseRange().Kvs; len(kvs) > 0 {
		pruned = kvs[0].Value
	}

	if policy.KeepFor > 0 {
		newStart, err := pr.findStart(ctx, max(start, 1), now.Add(-policy.KeepFor))
		if err != nil {
			return err
		}
		if newStart > start {
			if _, err := pr.write(ctx, clientv3.OpPut(s.k.start(), strconv.FormatInt(int64(newStart), 10))); err != nil {
				return fmt.Errorf("raise start of history: %w", err)
			}
			start = newStart
			s.raiseStart(start)
		}
	}
	// Retire the revisions below the start, also those an earlier Prune
	// left when it stopped early.
	if start > 1 {
		if err := pr.retire(ctx, start, st); err != nil {
			return err
		}
	}
	if policy.KeepVersions > 0 {
		if err := pr.trimVersions(ctx, policy.KeepVersions, head, pruned, st); err != nil {
			return err
		}
	}
	return nil
}

// read runs ops as one etcd transaction.
func (pr *pruner) read(ctx context.Context, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pr.s.timeout)
	defer cancel()
	resp, err := pr.s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, pr.s.etcdError("read history", err)
	}
	return resp, nil
}

// write runs ops as one pruning step: If the guard key is as this pruner
// last saw it, Then ops and rewrite the guard key. A step whose outcome
// is unknown (etcd did not answer) counts as raced: the next read of the
// guard key tells.
func (pr *pruner) write(ctx context.Context, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pr.s.timeout)
	defer cancel()
	ops = append(ops, clientv3.OpPut(pr.s.k.guard(), ""))
	resp, err := pr.s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(pr.s.k.guard()), "=", pr.guard),
	).Then(ops...).Commit()
	switch {
	case err != nil && pr.s.queue.Closed():
		return nil, verso.ErrClosed
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		pr.s.log.Warn("verso: pruning step failed; starting over", "prefix", pr.s.k.prefix, "err", err)
		return nil, errPruneRaced
	case !resp.Succeeded:
		return nil, errPruneRaced
	}
	pr.guard = resp.Header.Revision
	return resp, nil
}

// findStart returns the new start of history for a cutoff time: the newest
// revision committed at or before cutoff, scanning forward from from and
// stopping at the first commit after cutoff (so a clock that went back
// never drops a revision newer than cutoff). It returns 0 if no revision
// is that old.
func (pr *pruner) findStart(ctx context.Context, from verso.Revision, cutoff time.Time) (verso.Revision, error) {
	s := pr.s
	var found verso.Revision
	for {
		resp, err := pr.read(ctx, clientv3.OpGet(s.k.commit(from), clientv3.WithRange(s.k.commit(maxRev)), clientv3.WithLimit(scanChunk)))
		if err != nil {
			return 0, err
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		for _, kv := range kvs {
			rev, err := commitKeyRev(s.k, kv.Key)
			if err != nil {
				return 0, err
			}
			c, _, err := codec.DecodeCommit(kv.Value)
			if err != nil {
				return 0, fmt.Errorf("revision %d: %w", rev, err)
			}
			if c.Time.After(cutoff) {
				return found, nil
			}
			found = rev
		}
		if len(kvs) < scanChunk {
			return found, nil
		}
		from = found + 1
	}
}

// commitKeyRev returns the revision of a commit record's key.
func commitKeyRev(k keys, key []byte) (verso.Revision, error) {
	r, err := strconv.ParseInt(string(key[len(k.prefix+dirCommit):]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("commit key %q: %w", key, errCorrupt)
	}
	return verso.Revision(r), nil
}

// retire retires the revisions below start, oldest first, a chunk of
// commit records at a time: it trims the history of every path they
// changed, then the index of every path they changed and every namespace
// above, then deletes their records.
func (pr *pruner) retire(ctx context.Context, start verso.Revision, st *verso.PruneStats) error {
	s := pr.s
	trimmed := map[verso.Path]bool{} // paths whose history below start is trimmed
	for {
		resp, err := pr.read(ctx, clientv3.OpGet(s.k.commit(0), clientv3.WithRange(s.k.commit(start)), clientv3.WithLimit(retireChunk)))
		if err != nil {
			return err
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil
		}
		var changed, indexed []verso.Path
		seenIndexed := map[verso.Path]bool{}
		var last verso.Revision
		for _, kv := range kvs {
			if last, err = commitKeyRev(s.k, kv.Key); err != nil {
				return err
			}
			c, _, err := codec.DecodeCommit(kv.Value)
			if err != nil {
				return fmt.Errorf("revision %d: %w", last, err)
			}
			for _, ch := range c.Changes {
				if !trimmed[ch.Path] {
					trimmed[ch.Path] = true
					changed = append(changed, ch.Path)
				}
			}
			for _, q := range plan.IndexedPaths(c) {
				if !seenIndexed[q] {
					seenIndexed[q] = true
					indexed = append(indexed, q)
				}
			}
		}
		n, err := pr.runTrims(ctx, changed, func(p verso.Path) []clientv3.Op { return pr.histBeforeReads(p, start) },
			func(p verso.Path, rs []*etcdserverpb.RangeResponse) *trim { return pr.histBeforeTrim(p, start, rs) })
		if err != nil {
			return err
		}
		st.Versions += n
		if _, err := pr.runTrims(ctx, indexed, func(q verso.Path) []clientv3.Op { return pr.indexBeforeReads(q, start) },
			func(q verso.Path, rs []*etcdserverpb.RangeResponse) *trim { return pr.indexBeforeTrim(q, start, rs) }); err != nil {
			return err
		}
		wresp, err := pr.write(ctx, clientv3.OpDelete(s.k.commit(0), clientv3.WithRange(s.k.commit(last+1))))
		if err != nil {
			return fmt.Errorf("delete commit records below r%d: %w", last+1, err)
		}
		st.Commits += int(wresp.Responses[0].GetResponseDeleteRange().Deleted)
	}
}

// A trim is the records of one path a pruning step drops: the range
// [from, end) of n keys, and maybe a gone marker at mark.
type trim struct {
	mark     string // if set, put a gone marker there
	from     string
	end      string
	n        int64
	counts   bool // the records are states that PruneStats.Versions counts
	fromGone bool // the record at from is a gone marker (not a state)
	marks    bool // mark replaces a state (counted as dropped)
}

// histBeforeReads are the reads histBeforeTrim needs: p's newest record at
// or before start, with the count at or before start; whether p has a
// record after start; and p's oldest record.
func (pr *pruner) histBeforeReads(p verso.Path, start verso.Revision) []clientv3.Op {
	k := pr.s.k
	return []clientv3.Op{
		clientv3.OpGet(k.hist(p, 0), clientv3.WithRange(k.hist(p, start+1)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1)),
		clientv3.OpGet(k.hist(p, start+1), clientv3.WithRange(k.histEnd(p)), clientv3.WithCountOnly()),
		clientv3.OpGet(k.hist(p, 0), clientv3.WithRange(k.hist(p, start+1)), clientv3.WithLimit(1)),
	}
}

// histBeforeTrim drops p's records that no read at start or later uses:
// each record followed by another at or before start, and a final
// deletion at or before start.
func (pr *pruner) histBeforeTrim(p verso.Path, start verso.Revision, rs []*etcdserverpb.RangeResponse) *trim {
	newest, later, oldest := rs[0], rs[1], rs[2]
	if len(newest.Kvs) == 0 {
		return nil
	}
	t := &trim{from: pr.s.k.hist(p, 0), end: string(newest.Kvs[0].Key), n: newest.Count - 1, counts: true,
		fromGone: codec.IsGone(oldest.Kvs[0].Value)}
	if later.Count == 0 && codec.IsTombstone(newest.Kvs[0].Value) {
		t.end, t.n = pr.s.k.hist(p, start+1), newest.Count
	}
	if t.n == 0 {
		return nil
	}
	return t
}

// indexBeforeReads are the reads indexBeforeTrim needs: q's newest index
// key at or before start, with the count, and whether q has history.
func (pr *pruner) indexBeforeReads(q verso.Path, start verso.Revision) []clientv3.Op {
	k := pr.s.k
	return []clientv3.Op{
		clientv3.OpGet(k.index(q, 0), clientv3.WithRange(k.index(q, start+1)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1), clientv3.WithKeysOnly()),
		clientv3.OpGet(k.hist(q, 0), clientv3.WithRange(k.histEnd(q)), clientv3.WithCountOnly()),
	}
}

// indexBeforeTrim drops q's index keys below start that cannot be the
// newest key at or before any revision from start on: each followed by
// another at or before start. A namespace's TreeRev at a revision R is its
// newest index key at or before R, so the newest key at or before start
// stays, unless q is the root (whose TreeRev is always R) or has no
// history left (it exists at no revision from start on).
func (pr *pruner) indexBeforeTrim(q verso.Path, start verso.Revision, rs []*etcdserverpb.RangeResponse) *trim {
	newest, hist := rs[0], rs[1]
	if len(newest.Kvs) == 0 {
		return nil
	}
	k := pr.s.k
	t := &trim{from: k.index(q, 0), end: string(newest.Kvs[0].Key), n: newest.Count - 1}
	if q == verso.Root || hist.Count == 0 {
		t.end = k.index(q, start)
		if t.end != string(newest.Kvs[0].Key) {
			t.n = newest.Count // every key is below start
		}
	}
	if t.n == 0 {
		return nil
	}
	return t
}

// trimVersions trims to keep states each path changed by the revisions
// after the last trimming (the pruned key, "LAST KEEP"; all of them if the
// last trimming kept another number), up to target, scanChunk commit
// records at a time.
func (pr *pruner) trimVersions(ctx context.Context, keep int, target verso.Revision, pruned []byte, st *verso.PruneStats) error {
	s := pr.s
	from := verso.Revision(1)
	if f := strings.Fields(string(pruned)); len(f) == 2 && f[1] == strconv.Itoa(keep) {
		if last, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			from = verso.Revision(last) + 1
		}
	}
	for from <= target {
		resp, err := pr.read(ctx, clientv3.OpGet(s.k.commit(from), clientv3.WithRange(s.k.commit(target+1)), clientv3.WithLimit(scanChunk)))
		if err != nil {
			return err
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		last := target
		if resp.Responses[0].GetResponseRange().More {
			if last, err = commitKeyRev(s.k, kvs[len(kvs)-1].Key); err != nil {
				return err
			}
		}
		var paths []verso.Path
		seen := map[verso.Path]bool{}
		for _, kv := range kvs {
			c, _, err := codec.DecodeCommit(kv.Value)
			if err != nil {
				return fmt.Errorf("commit record %q: %w", kv.Key, err)
			}
			for _, ch := range c.Changes {
				if !seen[ch.Path] {
					seen[ch.Path] = true
					paths = append(paths, ch.Path)
				}
			}
		}
		// The cut (the oldest state kept) is known only after the first
		// read; the records between the oldest and the cut are counted
		// by a second.
		cuts := map[verso.Path]string{}
		var need []verso.Path
		if _, err := pr.runTrims(ctx, paths, func(p verso.Path) []clientv3.Op {
			return []clientv3.Op{
				clientv3.OpGet(s.k.hist(p, 0), clientv3.WithRange(s.k.histEnd(p)),
					clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(keep)), clientv3.WithKeysOnly()),
				clientv3.OpGet(s.k.hist(p, 0), clientv3.WithRange(s.k.histEnd(p)), clientv3.WithLimit(1), clientv3.WithKeysOnly()),
			}
		}, func(p verso.Path, rs []*etcdserverpb.RangeResponse) *trim {
			newest, oldest := rs[0].Kvs, rs[1].Kvs
			if len(newest) < keep || string(newest[keep-1].Key) == string(oldest[0].Key) {
				return nil // keep states or fewer
			}
			cuts[p] = string(newest[keep-1].Key)
			need = append(need, p)
			return nil
		}); err != nil {
			return err
		}
		n, err := pr.runTrims(ctx, need, func(p verso.Path) []clientv3.Op {
			return []clientv3.Op{
				clientv3.OpGet(s.k.hist(p, 0), clientv3.WithRange(cuts[p]), clientv3.WithLimit(1)),
			}
		}, func(p verso.Path, rs []*etcdserverpb.RangeResponse) *trim {
			oldest := rs[0]
			if len(oldest.Kvs) == 0 || (oldest.Count == 1 && codec.IsGone(oldest.Kvs[0].Value)) {
				return nil
			}
			// The oldest record stays as (or becomes) the gone marker:
			// every step leaves p readable, a read reaching either a
			// state still there or the marker.
			first := string(oldest.Kvs[0].Key)
			t := &trim{from: first + "\x00", end: cuts[p], n: oldest.Count - 1, counts: true}
			if !codec.IsGone(oldest.Kvs[0].Value) {
				t.mark, t.marks = first, true
			}
			return t
		})
		if err != nil {
			return err
		}
		st.Versions += n
		if _, err := pr.write(ctx, clientv3.OpPut(s.k.pruned(), fmt.Sprintf("%d %d", last, keep))); err != nil {
			return fmt.Errorf("put pruning progress: %w", err)
		}
		from = last + 1
	}
	return nil
}

// runTrims reads, for paths a few at a time, what plan needs (reads(p),
// all in one etcd transaction), and drops the records plan returns in
// pruning steps of at most pruneBudget records. It returns the states
// dropped.
func (pr *pruner) runTrims(ctx context.Context, paths []verso.Path, reads func(verso.Path) []clientv3.Op, plan func(verso.Path, []*etcdserverpb.RangeResponse) *trim) (int, error) {
	if len(paths) == 0 {
		return 0, nil
	}
	per := len(reads(paths[0]))
	chunk := max(1, min(pr.s.maxOps, 128)/per)
	var trims []*trim
	for len(paths) > 0 {
		n := min(chunk, len(paths))
		var ops []clientv3.Op
		for _, p := range paths[:n] {
			ops = append(ops, reads(p)...)
		}
		resp, err := pr.read(ctx, ops...)
		if err != nil {
			return 0, err
		}
		for i, p := range paths[:n] {
			rs := make([]*etcdserverpb.RangeResponse, per)
			for j := range rs {
				rs[j] = resp.Responses[i*per+j].GetResponseRange()
			}
			if t := plan(p, rs); t != nil {
				trims = append(trims, t)
			}
		}
		paths = paths[n:]
	}
	return pr.drop(ctx, trims)
}

// drop deletes the records of trims in pruning steps of at most about
// pruneBudget records and at most MaxTxnOps operations. A trim larger than
// what is left of a step's budget is split at a key read for it. It
// returns the states dropped.
func (pr *pruner) drop(ctx context.Context, trims []*trim) (int, error) {
	type part struct {
		op   int // index of the delete in ops
		t    *trim
		sub  bool // the part begins at t.from: its first record may be a gone marker
		mark bool // the op puts t's gone marker over a state
	}
	var (
		ops    []clientv3.Op
		parts  []part
		states int
		budget = pr.s.pruneBudget
	)
	maxOps := max(3, min(pr.s.maxOps, 128)-1) // the guard takes one
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		resp, err := pr.write(ctx, ops...)
		if err != nil {
			return err
		}
		for _, pt := range parts {
			if pt.mark {
				states++
				continue
			}
			if !pt.t.counts {
				continue
			}
			d := int(resp.Responses[pt.op].GetResponseDeleteRange().Deleted)
			if pt.sub && pt.t.fromGone && d > 0 {
				d--
			}
			states += d
		}
		ops, parts, budget = ops[:0], parts[:0], pr.s.pruneBudget
		return nil
	}
	for _, t := range trims {
		if t.mark != "" {
			if len(ops)+2 > maxOps {
				if err := flush(); err != nil {
					return 0, err
				}
			}
			ops = append(ops, clientv3.OpPut(t.mark, string([]byte{codec.Gone})))
			if t.marks {
				parts = append(parts, part{op: len(ops) - 1, t: t, mark: true})
			}
			t.mark = ""
		}
		sub := true
		for t.n > 0 {
			if len(ops)+1 > maxOps || budget <= 0 {
				if err := flush(); err != nil {
					return 0, err
				}
			}
			end, n := t.end, t.n
			if n > int64(budget) {
				resp, err := pr.read(ctx, clientv3.OpGet(t.from, clientv3.WithRange(t.end), clientv3.WithKeysOnly(), clientv3.WithLimit(int64(budget))))
				if err != nil {
					return 0, err
				}
				kvs := resp.Responses[0].GetResponseRange().Kvs
				if len(kvs) == 0 {
					break // dropped meanwhile
				}
				end, n = string(kvs[len(kvs)-1].Key)+"\x00", int64(len(kvs))
			}
			ops = append(ops, clientv3.OpDelete(t.from, clientv3.WithRange(end)))
			parts = append(parts, part{op: len(ops) - 1, t: t, sub: sub})
			budget -= int(n)
			t.from, t.n, sub = end, t.n-n, false
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return states, nil
}
