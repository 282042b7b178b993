package bolt

import (
	"slices"
	"sync"

	"github.com/verso-config/verso"
)

// recentCommits keeps the newest published commits in memory, so that
// Revision answers them without reading the file. Watchers ask for every
// new revision the moment it is published; read from bbolt, each such
// question would make the committer commit its open bbolt transaction
// early (see awaitBolt) and cost writers much of what keeping it open
// saves.
type recentCommits struct {
	mu    sync.RWMutex
	ring  [recentSize]*verso.Commit
	start verso.Revision // commits below it were pruned: not answered
}

const recentSize = 1024

// add keeps c, in place of the commit recentSize revisions older.
func (r *recentCommits) add(c *verso.Commit) {
	r.mu.Lock()
	r.ring[int(c.Rev)%recentSize] = c
	r.mu.Unlock()
}

// get returns a copy of commit rev if it is kept.
func (r *recentCommits) get(rev verso.Revision) (*verso.Commit, bool) {
	if rev <= 0 {
		return nil, false
	}
	r.mu.RLock()
	c := r.ring[int(rev)%recentSize]
	ok := c != nil && c.Rev == rev && rev >= r.start
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	out := *c
	out.Changes = slices.Clone(c.Changes)
	return &out, true
}

// pruned forgets the commits below start, which pruning dropped.
func (r *recentCommits) pruned(start verso.Revision) {
	r.mu.Lock()
	r.start = max(r.start, start)
	r.mu.Unlock()
}
