package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/codec"
	"github.com/verso-config/verso/internal/plan"
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
	if err := s.queue.Ready(ctx); err != nil {
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
	if s.queue.Closed() {
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
		s.recent.pruned(start)
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
// deleted and whether no such revision is left. A revision's commit record
// goes last, once every path it changed is trimmed, so a step that runs
// out of budget halfway through a revision leaves it for the next step.
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
		c, _, err := codec.DecodeCommit(v)
		if err != nil {
			return 0, 0, false, fmt.Errorf("revision %d: %w", rev, err)
		}
		for _, ch := range c.Changes {
			n, states, complete, err := trimBefore(tx, ch.Path, start, max(pruneBudget-deleted, 1))
			if err != nil {
				return 0, 0, false, err
			}
			deleted += n
			versions += states
			if !complete {
				return versions, commits, false, nil
			}
		}
		for _, q := range plan.IndexedPaths(c) {
			n, complete, err := trimIndex(tx, q, start, max(pruneBudget-deleted, 1))
			if err != nil {
				return 0, 0, false, err
			}
			deleted += n
			if !complete {
				return versions, commits, false, nil
			}
		}
		if err := revs.Delete(revKey(rev)); err != nil {
			return 0, 0, false, fmt.Errorf("delete commit %d: %w", rev, err)
		}
		deleted++
		commits++
	}
	return versions, commits, false, nil
}

// histPrefix is the prefix of every hist key of p.
func histPrefix(p verso.Path) []byte {
	k := histKey(p, 0)
	return k[:len(k)-8]
}

// deleteKeys deletes keys from b.
func deleteKeys(b *bbolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete %q: %w", shown(k), err)
		}
	}
	return nil
}

// trimBefore deletes p's hist records that no read at start or later uses:
// each record followed by another at or before start, and a final deletion
// at or before start; at most limit of them, oldest first. It returns the
// records deleted, how many of them were states (not gone markers), and
// whether none is left to delete.
func trimBefore(tx *bbolt.Tx, p verso.Path, start verso.Revision, limit int) (deleted, states int, complete bool, err error) {
	hist := tx.Bucket(bucketHist)
	prefix := histPrefix(p)
	var drop [][]byte
	var prev []byte // the record before k, a candidate
	var prevGone, prevTomb bool
	complete = true
	c := hist.Cursor()
	for k, v := c.Seek(prefix); ; k, v = c.Next() {
		ok := k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8
		if prev != nil {
			if ok {
				if decodeRev(k[len(prefix):]) > start {
					break // prev serves the reads at start
				}
			} else if !prevTomb || decodeRev(prev[len(prefix):]) > start {
				break // prev is p's current state
			}
			if len(drop) == limit {
				complete = false
				break
			}
			drop = append(drop, prev)
			if !prevGone {
				states++
			}
		}
		if !ok {
			break
		}
		prev, prevGone, prevTomb = bytes.Clone(k), codec.IsGone(v), codec.IsTombstone(v)
	}
	if err := deleteKeys(hist, drop); err != nil {
		return 0, 0, false, fmt.Errorf("trim history of %s: %w", p, err)
	}
	return len(drop), states, complete, nil
}

// trimIndex deletes q's index keys below start that cannot be the newest
// key at or before any revision from start on: each followed by another at
// or before start; at most limit of them. A namespace's TreeRev at a
// revision R is its newest index key at or before R, so the newest key at
// or before start stays, unless q is the root (whose TreeRev is always R)
// or has no history left (it exists at no revision from start on). It
// returns the keys deleted and whether none is left to delete.
func trimIndex(tx *bbolt.Tx, q verso.Path, start verso.Revision, limit int) (int, bool, error) {
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
	complete := true
	c := index.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
		if len(drop) == limit {
			complete = false
			prev = nil
			break
		}
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
	if prev != nil && all && len(drop) < limit {
		drop = append(drop, prev)
	}
	if err := deleteKeys(index, drop); err != nil {
		return 0, false, fmt.Errorf("trim index of %s: %w", q, err)
	}
	return len(drop), complete, nil
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
	read := 0
	for k, v := c.Seek(revKey(from)); k != nil; k, v = c.Next() {
		rev := decodeRev(k)
		if rev > target {
			break
		}
		if len(paths) >= pruneBudget || read >= pruneBudget {
			done = false
			break
		}
		read++
		commit, _, err := codec.DecodeCommit(v)
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

	// Trim every path within the budget, or leave the progress mark
	// where it was: the next step reads the same revisions again, and
	// trimming a path twice is harmless.
	hist := tx.Bucket(bucketHist)
	budget := pruneBudget
	for _, p := range paths {
		n, deleted, complete, err := trimVersions(hist, p, keep, max(budget, 1))
		if err != nil {
			return 0, false, err
		}
		states += n
		budget -= deleted + 1
		if !complete {
			return states, false, nil
		}
	}
	mark := append(revKey(last), revKey(verso.Revision(keep))...)
	if err := meta.Put(keyPruned, mark); err != nil {
		return 0, false, fmt.Errorf("put pruning progress: %w", err)
	}
	return states, done, nil
}

// trimVersions keeps p's newest keep states. The records before the
// oldest kept state go, at most limit of them, oldest first; the first of
// them stays as (or becomes) a gone marker, so that every step leaves p
// readable: a read reaches either a state still there or the marker. It
// returns the states dropped, the records deleted, and whether nothing is
// left to drop.
func trimVersions(hist *bbolt.Bucket, p verso.Path, keep, limit int) (states, deleted int, complete bool, err error) {
	prefix := histPrefix(p)
	inP := func(k []byte) bool { return k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 }
	c := hist.Cursor()

	// Back from the newest record to the oldest state kept.
	end := append(bytes.Clone(prefix[:len(prefix)-1]), 1) // just after p's records
	var cut []byte
	kept := 0
	for k, v := seekBefore(c, end); inP(k); k, v = c.Prev() {
		if !codec.IsGone(v) {
			kept++
		}
		if kept == keep {
			cut = bytes.Clone(k)
			break
		}
	}
	if cut == nil {
		return 0, 0, true, nil // keep states or fewer
	}

	// Forward from the oldest record to the cut.
	k, v := c.Seek(prefix)
	if bytes.Equal(k, cut) {
		return 0, 0, true, nil
	}
	first, firstGone := bytes.Clone(k), codec.IsGone(v)
	var drop [][]byte
	complete = true
	for k, v = c.Next(); inP(k) && !bytes.Equal(k, cut); k, v = c.Next() {
		if len(drop) == limit {
			complete = false
			break
		}
		drop = append(drop, bytes.Clone(k))
		if !codec.IsGone(v) {
			states++
		}
	}
	if !firstGone {
		if err := hist.Put(first, []byte{codec.Gone}); err != nil {
			return 0, 0, false, fmt.Errorf("mark pruned history of %s: %w", p, err)
		}
		states++
	}
	if err := deleteKeys(hist, drop); err != nil {
		return 0, 0, false, fmt.Errorf("trim versions of %s: %w", p, err)
	}
	return states, len(drop), complete, nil
}
