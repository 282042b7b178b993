package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
	bbolt "go.etcd.io/bbolt"
)

// maxProblems caps the problems Check reports one by one.
const maxProblems = 100

// Check verifies the consistency of the data file, and of the head cache
// against it, in one read transaction (commits wait while it runs):
//
//   - the revisions are 1..head without gaps, each with a readable commit
//     record (from the start of history on, once pruned: below it, records
//     that pruning has yet to retire may remain);
//   - the history holds exactly one state per path and revision listed in
//     the commit records, a tombstone exactly for deletions, except where a
//     gone marker stands for states dropped by pruning (below the start of
//     history, records may be missing or left for pruning to retire);
//   - the tree at head equals the tree rebuilt from the history, with the
//     right TreeRev on every namespace;
//   - every path but the root has a parent, and it is a namespace;
//   - the index holds exactly the changed paths of each commit and the
//     namespaces above them (from the start of history on);
//   - the head cache holds the tree at head.
//
// It first checks the structure of every page (see CheckFile); damage
// there stops the store (see viewNow).
//
// It returns nil, or an error joining every problem found (the first
// hundred, then a count).
func (s *Store) Check() error {
	if s.queue.Closed() {
		return verso.ErrClosed
	}
	// The committer runs it, once bbolt holds every published revision,
	// so that it sees the cache and the file at the same revision.
	c := &checker{}
	err := s.exclusive(func() error {
		// The structure of the pages first (read(2), as CheckFile does):
		// bbolt's cursors would descend forever into a damaged tree
		// whose pages point back up.
		fi, err := s.dbf.Stat()
		if err != nil {
			return err
		}
		if !s.layout.known {
			// The page checker is off (see "bbolt's file layout").
		} else if problems := checkPages(s.dbf, fi.Size()); len(problems) > 0 {
			for _, p := range problems {
				c.addf("%v", p)
			}
			c.problems = append(c.problems, errDamaged)
			s.fail(errors.Join(problems[0], errDamaged))
			return nil
		}
		return s.viewNow(func(tx *bbolt.Tx) error {
			c.check(tx)
			if c.head >= 0 {
				s.checkCache(c)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return c.err()
}

type checker struct {
	problems []error
	extra    int
	head     verso.Revision
	start    verso.Revision // the start of history
	// tree is the tree bucket, decoded, root included.
	tree map[verso.Path]*verso.Entry
}

func (c *checker) addf(format string, args ...any) {
	if len(c.problems) >= maxProblems {
		c.extra++
		return
	}
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

// missing reports the commit records of revisions from..to missing: one
// by one if they are few, as one range otherwise (a damaged head can say
// revisions of a number no loop should count up to).
func (c *checker) missing(from, to verso.Revision) {
	if to-from >= maxProblems {
		c.addf("revisions %d-%d: commit records missing", from, to)
		return
	}
	for r := from; r <= to; r++ {
		c.addf("revision %d: commit record missing", r)
	}
}

func (c *checker) err() error {
	if c.extra > 0 {
		c.problems = append(c.problems, fmt.Errorf("and %d more problems", c.extra))
	}
	return errors.Join(c.problems...)
}

func (c *checker) check(tx *bbolt.Tx) {
	c.head = -1
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			c.addf("bucket %q is missing", name)
			return
		}
	}
	if v := tx.Bucket(bucketMeta).Get(keyFormat); len(v) != 8 || decodeRev(v) != formatVersion {
		c.addf("format is %x, want %d", shown(v), formatVersion)
	}
	head, err := readHead(tx)
	if err != nil {
		c.addf("%v", err)
		return
	}
	c.head = head
	if v := tx.Bucket(bucketMeta).Get(keyStart); v != nil {
		if len(v) != 8 || decodeRev(v) > head {
			c.addf("start of history %x is not a revision up to head %d", shown(v), head)
		} else {
			c.start = decodeRev(v)
		}
	}
	if v := tx.Bucket(bucketMeta).Get(keyPruned); v != nil && (len(v) != 16 || decodeRev(v[:8]) > head) {
		c.addf("pruning progress %x is not a revision up to head %d and a count", shown(v), head)
	}
	start := c.start

	// Commit records: 1..head (from the start of history, or from the
	// oldest record pruning has yet to retire), each telling which states the history and
	// the index must hold.
	type histWant struct {
		deleted bool
		kind    verso.Kind
	}
	wantHist := make(map[string]histWant)
	wantIndex := make(map[string]bool)
	next := max(start, 1)
	if k, _ := tx.Bucket(bucketRevs).Cursor().First(); len(k) == 8 && decodeRev(k) < next {
		next = decodeRev(k)
	}
	err = tx.Bucket(bucketRevs).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			c.addf("revs: key %x is not a revision", shown(k))
			return nil
		}
		rev := decodeRev(k)
		if rev > head {
			c.addf("revision %d: record beyond head %d", rev, head)
			return nil
		}
		c.missing(next, rev-1)
		next = rev + 1
		commit, _, err := codec.DecodeCommit(v)
		if err != nil {
			c.addf("revision %d: %v", rev, err)
			return nil
		}
		if commit.Rev != rev {
			c.addf("revision %d: record says revision %d", rev, commit.Rev)
		}
		indexed := map[verso.Path]bool{verso.Root: true}
		for i, ch := range commit.Changes {
			if i > 0 && commit.Changes[i-1].Path >= ch.Path {
				c.addf("revision %d: changes not sorted by path at %s", rev, ch.Path)
			}
			wantHist[string(histKey(ch.Path, rev))] = histWant{deleted: ch.Action == verso.Deleted, kind: ch.Kind}
			indexed[ch.Path] = true
			for _, a := range ch.Path.Ancestors() {
				indexed[a] = true
			}
		}
		for p := range indexed {
			wantIndex[string(indexKey(p, rev))] = true
		}
		return nil
	})
	if err != nil {
		c.addf("revs: %v", err)
	}
	c.missing(next, head)

	// History: rebuild the tree at head from each path's newest state.
	rebuilt := make(map[verso.Path]*verso.Entry)
	lastGone := make(map[verso.Path]bool) // paths whose newest record so far is a gone marker
	hc := tx.Bucket(bucketHist).Cursor()
	for k, v := hc.First(); k != nil; k, v = hc.Next() {
		tk, rev, ok := splitHistKey(k)
		if !ok || len(tk) < 2 {
			c.addf("hist: malformed key %q", shown(k))
			continue
		}
		p := pathFromTreeKey(tk)
		if int(tk[0]) != p.Depth() {
			c.addf("hist %s@%d: depth byte %d, want %d", p, rev, tk[0], p.Depth())
		}
		want, listed := wantHist[string(k)]
		delete(wantHist, string(k))
		if !listed && rev >= start {
			c.addf("hist %s@%d: no commit record lists this change", p, rev)
		}
		delete(lastGone, p)
		if codec.IsGone(v) {
			delete(rebuilt, p)
			lastGone[p] = true
			continue
		}
		if codec.IsTombstone(v) {
			if listed && !want.deleted {
				c.addf("hist %s@%d: deleted, but the commit record says otherwise", p, rev)
			}
			delete(rebuilt, p)
			continue
		}
		e, err := codec.DecodeEntry(p, v)
		if err != nil {
			c.addf("hist %s@%d: %v", p, rev, err)
			continue
		}
		if listed && (want.deleted || want.kind != e.Kind) {
			c.addf("hist %s@%d: a %s, but the commit record says %v", p, rev, e.Kind, want)
		}
		if e.ModRev != rev {
			c.addf("hist %s@%d: ModRev is %d", p, rev, e.ModRev)
		}
		rebuilt[p] = e
	}
	for _, p := range slices.Sorted(maps.Keys(lastGone)) {
		c.addf("hist %s: the newest record is a gone marker, not a state", p)
	}
	for _, k := range slices.Sorted(maps.Keys(wantHist)) {
		tk, rev, _ := splitHistKey([]byte(k))
		if rev < start {
			continue // pruning dropped it before retiring its revision
		}
		// Dropped by pruning if the record before it is a gone marker.
		pk, pv := seekBefore(hc, []byte(k))
		if ptk, _, ok := splitHistKey(pk); ok && bytes.Equal(ptk, tk) && codec.IsGone(pv) {
			continue
		}
		c.addf("hist %s@%d: listed in the commit record but missing", pathFromTreeKey(tk), rev)
	}

	// Index: exactly the expected keys. Remember each path's newest
	// revision for the TreeRev of namespaces.
	newest := make(map[verso.Path]verso.Revision)
	err = tx.Bucket(bucketIndex).ForEach(func(k, _ []byte) error {
		p, rev, ok := splitIndexKey(k)
		if !ok {
			c.addf("index: malformed key %q", shown(k))
			return nil
		}
		if !wantIndex[string(k)] && rev >= start {
			c.addf("index %s@%d: the commit record does not change this path or below it", p, rev)
		}
		delete(wantIndex, string(k))
		newest[p] = max(newest[p], rev)
		return nil
	})
	if err != nil {
		c.addf("index: %v", err)
	}
	for _, k := range slices.Sorted(maps.Keys(wantIndex)) {
		if p, rev, _ := splitIndexKey([]byte(k)); rev >= start {
			c.addf("index %s@%d: missing", p, rev)
		}
	}

	// Tree: equal to the rebuilt tree, parents present.
	c.tree = make(map[verso.Path]*verso.Entry)
	err = tx.Bucket(bucketTree).ForEach(func(k, v []byte) error {
		if len(k) < 2 {
			c.addf("tree: malformed key %q", shown(k))
			return nil
		}
		p := pathFromTreeKey(k)
		if int(k[0]) != p.Depth() {
			c.addf("tree %s: depth byte %d, want %d", p, k[0], p.Depth())
		}
		e, err := codec.DecodeEntry(p, v)
		if err != nil {
			c.addf("tree %s: %v", p, err)
			return nil
		}
		c.tree[p] = e
		return nil
	})
	if err != nil {
		c.addf("tree: %v", err)
	}
	if _, ok := c.tree[verso.Root]; !ok {
		c.tree[verso.Root] = plan.RootEntry()
	}
	if _, ok := rebuilt[verso.Root]; !ok {
		rebuilt[verso.Root] = plan.RootEntry()
	}
	c.tree[verso.Root].TreeRev = head
	for _, p := range slices.Sorted(maps.Keys(c.tree)) {
		e := c.tree[p]
		want, ok := rebuilt[p]
		if !ok {
			c.addf("tree %s: not in the history at head", p)
			continue
		}
		switch {
		case p == verso.Root:
		case e.IsNamespace():
			if e.TreeRev != newest[p] {
				c.addf("tree %s: TreeRev is %d, the index says %d", p, e.TreeRev, newest[p])
			}
		case e.TreeRev != e.ModRev:
			c.addf("tree %s: TreeRev %d of a key is not its ModRev %d", p, e.TreeRev, e.ModRev)
		}
		if !sameEntry(e, want) {
			c.addf("tree %s: differs from its newest history record", p)
		}
		if p != verso.Root {
			if parent := c.tree[p.Parent()]; parent == nil {
				c.addf("tree %s: parent %s is missing", p, p.Parent())
			} else if !parent.IsNamespace() {
				c.addf("tree %s: parent %s is not a namespace", p, p.Parent())
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(rebuilt)) {
		if c.tree[p] == nil {
			c.addf("tree %s: missing, but exists at head in the history", p)
		}
	}
}

// checkCache compares the head cache with the tree read by check.
func (s *Store) checkCache(c *checker) {
	if h := verso.Revision(s.head.Load()); h != c.head {
		c.addf("cache: head is %d, the file says %d", h, c.head)
	}
	seen := 0
	s.cache.Range(func(p verso.Path, e *verso.Entry) bool {
		seen++
		want := c.tree[p]
		switch {
		case want == nil:
			c.addf("cache %s: not in the tree", p)
		case e.Path != p || e.TreeRev != want.TreeRev || !sameEntry(e, want):
			c.addf("cache %s: differs from the tree", p)
		}
		return true
	})
	if seen != len(c.tree) {
		c.addf("cache: %d entries, the tree has %d", seen, len(c.tree))
	}
}

// sameEntry reports whether a and b agree in everything but TreeRev (the
// history does not keep the TreeRev of namespaces).
func sameEntry(a, b *verso.Entry) bool {
	x, y := *a, *b
	x.TreeRev, y.TreeRev = 0, 0
	return x.Path == y.Path && bytes.Equal(codec.EncodeEntry(&x), codec.EncodeEntry(&y))
}
