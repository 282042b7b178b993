package bolt

import (
	"sync"

	"github.com/verso-config/verso"
)

// headCache is the tree at head in memory: path -> entry, root included.
// Entries in it are never modified: a change stores a new one.
//
// It is a plain map under a read-write lock rather than a sync.Map: at a
// million keys that holds a key in about 40 bytes instead of about 75 and
// two allocations fewer, and loads it several times faster (docs/
// PERFORMANCE.md, Scale). A reader holds the lock for one map lookup; the
// committer holds it for the few stores of one published revision, never
// across a write to the file.
type headCache struct {
	mu sync.RWMutex
	m  map[verso.Path]*verso.Entry
}

// reset empties the cache, making room for n entries.
func (c *headCache) reset(n int) {
	c.mu.Lock()
	c.m = make(map[verso.Path]*verso.Entry, n)
	c.mu.Unlock()
}

// Load returns p's entry.
func (c *headCache) Load(p verso.Path) (*verso.Entry, bool) {
	c.mu.RLock()
	e, ok := c.m[p]
	c.mu.RUnlock()
	return e, ok
}

// Store sets p's entry.
func (c *headCache) Store(p verso.Path, e *verso.Entry) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[verso.Path]*verso.Entry)
	}
	c.m[p] = e
	c.mu.Unlock()
}

// Delete removes p.
func (c *headCache) Delete(p verso.Path) {
	c.mu.Lock()
	delete(c.m, p)
	c.mu.Unlock()
}

// Range calls fn for every entry, in no order, until fn returns false. fn
// must not change the cache.
func (c *headCache) Range(fn func(p verso.Path, e *verso.Entry) bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for p, e := range c.m {
		if !fn(p, e) {
			return
		}
	}
}
