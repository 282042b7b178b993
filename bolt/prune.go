package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// Pruning drops history in small steps, each a bbolt write transaction run
// by the committer between group commits (Store.do), so that it never
// races with a commit and never holds up commits for long. Each step leaves
// a file that reads correctly on its own: a read sees the history before
// or after any step, never half of one.
//
// By age (Retention.KeepFor), the start of history S is raised first, in
// a step of its own: from then on a read, Revision or Log below S is
// verso.ErrGone. Then the revisions below S are retired, oldest first:
// their commit records are deleted, and for every path they changed, the
// states that cannot serve a read at S or later (those followed by another
// state at or before S, and a final deletion at or before S), and the
// index keys that cannot give a namespace's TreeRev at S or later. A
// Prune that stops early leaves records below S, which the next one
// retires.
//
// By count (Retention.KeepVersions), each path changed since the last
// trimming (meta "pruned") keeps its newest N states; the older ones are
// replaced by one gone marker at the oldest of them, so that a read they
// served finds the marker and returns verso.ErrGone, while a read before
// the path existed still finds nothing.

const (
	// pruneBudget is about how many records one pruning step deletes
	// before it commits and lets waiting commits run. A step always
	// finishes the revision it is on.
	pruneBudget = 1000
	// scanChunk is how many commit records one read transaction scans when
	// looking for the new start of history.
	scanChunk = 4096
)

var (
	_ verso.Pruner         = (*Store)(nil)
	_ verso.HistoryStarter = (*Store)(nil)
)

// HistoryStart returns the oldest revision that can still be read: 0 until
// Prune drops revisions by age.
func (s *Store) HistoryStart(ctx context.Context) (verso.Revision, error) {
	if s.isClosed.Load() {
		return 0, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var start verso.Revision
	err := s.view(func(tx *bbolt.Tx) error {
		start = readStart(tx)
		return nil
	})
	return start, err
}

// Prune drops the history policy does not keep (see verso.Pruner). It
// runs in steps between commits; concurrent calls run one at a time.
func (s *Store) Prune(ctx context.Context, policy verso.Retention, now time.Time) (verso.PruneStats, error) {
	var st verso.PruneStats
	if s.isClosed.Load() {
		return st, verso.ErrClosed
	}
	if err := policy.Validate(); err != nil {
		return st, err
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()

	var head verso.Revision
	if err := s.view(func(tx *bbolt.Tx) (err error) {
		head, err = readHead(tx)
		return err
	}); err != nil {
		return st, err
	}

	if policy.KeepFor > 0 {
		start, err := s.findStart(ctx, now.Add(-policy.KeepFor))
		if err != nil {
			return st, err
		}
		err = s.do(ctx, func(tx *bbolt.Tx) error {
			if start <= readStart(tx) {
				return nil
			}
			return tx.Bucket(bucketMeta).Put(keyStart, revKey(start))
		})
		if err != nil {
			return st, fmt.Errorf("prune: raise start of history: %w", err)
		}
	}

	// Retire the revisions below the start, also those an earlier Prune
	// left when it stopped early.
	for done := false; !done; {
		var versions, commits int
		err := s.do(ctx, func(tx *bbolt.Tx) (err error) {
			versions, commits, done, err = retireStep(tx)
			return err
		})
		if err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		st.Versions += versions
		st.Commits += commits
	}

	if policy.KeepVersions > 0 {
		for done := false; !done; {
			var versions int
			err := s.do(ctx, func(tx *bbolt.Tx) (err error) {
				versions, done, err = trimVersionsStep(tx, policy.KeepVersions, head)
				return err
			})
			if err != nil {
				return st, fmt.Errorf("prune: %w", err)
			}
			st.Versions += versions
		}
	}

	start, err := s.HistoryStart(ctx)
	st.Start = start
	return st, err
}

// findStart returns the new start of history for a cutoff time: the newest
// revision committed at or before cutoff, scanning forward from the current
// start and stopping at the first commit after cutoff (so a clock that
// went back never drops a revision newer than cutoff). It returns 0 if no
// revision is that old.
func (s *Store) findStart(ctx context.Context, cutoff time.Time) (verso.Revision, error) {
	var found, from verso.Revision
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		done := false
		err := s.view(func(tx *bbolt.Tx) error {
			if from == 0 {
				from = max(readStart(tx), 1)
			}
			c := tx.Bucket(bucketRevs).Cursor()
			n := 0
			for k, v := c.Seek(revKey(from)); ; k, v = c.Next() {
				if k == nil {
					done = true
					return nil
				}
				rev := decodeRev(k)
				if n == scanChunk {
					from = rev
					return nil
				}
				n++
				var t struct {
					Sec  int64 `json:"sec"`
					Nsec int64 `json:"nsec"`
				}
				if err := json.Unmarshal(v, &t); err != nil {
					return fmt.Errorf("revision %d: commit record: %w: %v", rev, errCorrupt, err)
				}
				if time.Unix(t.Sec, t.Nsec).After(cutoff) {
					done = true
					return nil
				}
				found = rev
			}
		})
		if err != nil || done {
			return found, err
		}
	}
}

// retireStep retires revisions below the start of history, oldest first,
// until it has deleted about pruneBudget records. It reports what it
// deleted and whether no such revision is left.
func retireStep(tx *bbolt.Tx) (versions, commits int, done bool, err error) {
	start := readStart(tx)
	revs := tx.Bucket(bucketRevs)
	deleted := 0
	for deleted < pruneBudget {
		k, v := revs.Cursor().First()
		if k == nil || decodeRev(k) >= start {
			return versions, commits, true, nil
		}
		rev := decodeRev(k)
		c, err := decodeCommit(v)
		if err != nil {
			return 0, 0, false, fmt.Errorf("revision %d: %w", rev, err)
		}
		for _, ch := range c.Changes {
			n, states, err := trimBefore(tx, ch.Path, start)
			if err != nil {
				return 0, 0, false, err
			}
			deleted += n
			versions += states
		}
		for _, q := range indexedPaths(c) {
			n, err := trimIndex(tx, q, start)
			if err != nil {
				return 0, 0, false, err
			}
			deleted += n
		}
		if err := revs.Delete(revKey(rev)); err != nil {
			return 0, 0, false, fmt.Errorf("delete commit %d: %w", rev, err)
		}
		deleted++
		commits++
	}
	return versions, commits, false, nil
}

// indexedPaths returns the paths whose index holds c's revision: the
// changed paths, the namespaces above them and the root.
func indexedPaths(c *verso.Commit) []verso.Path {
	seen := map[verso.Path]bool{verso.Root: true}
	out := []verso.Path{verso.Root}
	for _, ch := range c.Changes {
		for _, q := range append(ch.Path.Ancestors(), ch.Path) {
			if !seen[q] {
				seen[q] = true
				out = append(out, q)
			}
		}
	}
	return out
}

// histPrefix is the prefix of every hist key of p.
func histPrefix(p verso.Path) []byte {
	k := histKey(p, 0)
	return k[:len(k)-8]
}

// histRecord is one hist key of a path and what kind of record it holds.
type histRecord struct {
	key  []byte
	rev  verso.Revision
	gone bool // a gone marker, not a state
	tomb bool
}

// histRecords returns every hist record of p, oldest first.
func histRecords(hist *bbolt.Bucket, p verso.Path) []histRecord {
	prefix := histPrefix(p)
	var out []histRecord
	c := hist.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+8 {
			break
		}
		out = append(out, histRecord{key: bytes.Clone(k), rev: decodeRev(k[len(prefix):]), gone: isGone(v), tomb: isTombstone(v)})
	}
	return out
}

// deleteKeys deletes keys from b.
func deleteKeys(b *bbolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete %q: %w", k, err)
		}
	}
	return nil
}

// trimBefore deletes p's hist records that no read at start or later uses:
// each record followed by another at or before start, and a final deletion
// at or before start. It returns the records deleted and how many of them
// were states (not gone markers).
func trimBefore(tx *bbolt.Tx, p verso.Path, start verso.Revision) (deleted, states int, err error) {
	hist := tx.Bucket(bucketHist)
	recs := histRecords(hist, p)
	var drop [][]byte
	n := 0 // records that can go, oldest first
	for n < len(recs) {
		if n+1 < len(recs) {
			if recs[n+1].rev > start {
				break
			}
		} else if !recs[n].tomb || recs[n].rev > start {
			break
		}
		n++
	}
	for _, r := range recs[:n] {
		drop = append(drop, r.key)
		if !r.gone {
			states++
		}
	}
	if err := deleteKeys(hist, drop); err != nil {
		return 0, 0, fmt.Errorf("trim history of %s: %w", p, err)
	}
	return len(drop), states, nil
}

// trimIndex deletes q's index keys below start that cannot be the newest
// key at or before any revision from start on: each followed by another at
// or before start. A namespace's TreeRev at a revision R is its newest
// index key at or before R, so the newest key at or before start stays,
// unless q is the root (whose TreeRev is always R) or has no history left
// (it exists at no revision from start on).
func trimIndex(tx *bbolt.Tx, q verso.Path, start verso.Revision) (int, error) {
	all := q == verso.Root
	if !all {
		prefix := histPrefix(q)
		k, _ := tx.Bucket(bucketHist).Cursor().Seek(prefix)
		all = k == nil || !bytes.HasPrefix(k, prefix)
	}
	index := tx.Bucket(bucketIndex)
	prefix := indexKey(q, 0)
	prefix = prefix[:len(prefix)-8]
	var drop [][]byte
	var prev []byte
	c := index.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
		rev := decodeRev(k[len(prefix):])
		if prev != nil && (all || rev <= start) {
			drop = append(drop, prev)
		}
		prev = nil
		if rev >= start {
			break
		}
		prev = bytes.Clone(k)
	}
	if prev != nil && all {
		drop = append(drop, prev)
	}
	if err := deleteKeys(index, drop); err != nil {
		return 0, fmt.Errorf("trim index of %s: %w", q, err)
	}
	return len(drop), nil
}

// trimVersionsStep trims to keep states each path changed by the
// revisions after the last trimming (meta "pruned"; all of them if the
// last trimming kept another number), up to target, until it has deleted
// about pruneBudget records. It reports the states deleted and whether it
// reached target.
func trimVersionsStep(tx *bbolt.Tx, keep int, target verso.Revision) (states int, done bool, err error) {
	meta := tx.Bucket(bucketMeta)
	from := verso.Revision(1)
	if v := meta.Get(keyPruned); len(v) == 16 && decodeRev(v[8:]) == verso.Revision(keep) {
		from = decodeRev(v[:8]) + 1
	}
	if from > target {
		return 0, true, nil
	}

	// Read the commit records first: the loop below changes the file.
	var paths []verso.Path
	seen := map[verso.Path]bool{}
	last := from - 1
	done = true
	c := tx.Bucket(bucketRevs).Cursor()
	for k, v := c.Seek(revKey(from)); k != nil; k, v = c.Next() {
		rev := decodeRev(k)
		if rev > target {
			break
		}
		if len(paths) >= pruneBudget {
			done = false
			break
		}
		commit, err := decodeCommit(v)
		if err != nil {
			return 0, false, fmt.Errorf("revision %d: %w", rev, err)
		}
		for _, ch := range commit.Changes {
			if !seen[ch.Path] {
				seen[ch.Path] = true
				paths = append(paths, ch.Path)
			}
		}
		last = rev
	}
	if done {
		last = target
	}

	hist := tx.Bucket(bucketHist)
	for _, p := range paths {
		n, err := trimVersions(hist, p, keep)
		if err != nil {
			return 0, false, err
		}
		states += n
	}
	mark := append(revKey(last), revKey(verso.Revision(keep))...)
	if err := meta.Put(keyPruned, mark); err != nil {
		return 0, false, fmt.Errorf("put pruning progress: %w", err)
	}
	return states, done, nil
}

// trimVersions keeps p's newest keep states. The records before the oldest
// kept state go, but the first of them stays as (or becomes) a gone
// marker. It returns the number of states dropped.
func trimVersions(hist *bbolt.Bucket, p verso.Path, keep int) (int, error) {
	recs := histRecords(hist, p)
	cut, kept := len(recs), 0 // recs[cut:] holds the kept states
	for cut > 0 && kept < keep {
		cut--
		if !recs[cut].gone {
			kept++
		}
	}
	if kept < keep || cut == 0 {
		return 0, nil
	}
	dropped := 0
	for _, r := range recs[:cut] {
		if !r.gone {
			dropped++
		}
	}
	if dropped == 0 {
		return 0, nil
	}
	if !recs[0].gone {
		if err := hist.Put(recs[0].key, []byte{goneByte}); err != nil {
			return 0, fmt.Errorf("mark pruned history of %s: %w", p, err)
		}
	}
	var drop [][]byte
	for _, r := range recs[1:cut] {
		drop = append(drop, r.key)
	}
	if err := deleteKeys(hist, drop); err != nil {
		return 0, fmt.Errorf("trim versions of %s: %w", p, err)
	}
	return dropped, nil
}
