package etcd

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/verso-config/verso"
)

// TestStore_SchemaTwoServers checks that a namespace's schema holds with
// two servers writing at once: each commit is valid against the tree it
// was planned on, but the schema allows only so many keys, so commits that
// are valid alone must not all get in. Every commit is checked against the
// tree it is committed on.
func TestStore_SchemaTwoServers(t *testing.T) {
	prefix := newPrefix()
	stores := []*Store{mustOpen(t, &Options{Prefix: prefix}), mustOpen(t, &Options{Prefix: prefix})}
	const max = 5
	mustCommit(t, stores[0], mkcol("/app"), put("/app/.schema", fmt.Sprintf(`{"maxProperties": %d, "additionalProperties": {"type": "integer"}}`, max)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, refused int
	for si, s := range stores {
		for w := range 4 {
			wg.Go(func() {
				for i := range 5 {
					_, err := s.Commit(t.Context(), &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/app/s%dw%di%d", si, w, i), "1")}})
					mu.Lock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, verso.ErrSchema):
						refused++
					default:
						t.Errorf("Commit: %v", err)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if ok != max || refused != 40-max {
		t.Errorf("%d commits got in and %d were refused, want %d and %d", ok, refused, max, 40-max)
	}
	if n := len(mustWalk(t, stores[1], "/app", verso.Head)); n != 1+max+1 {
		t.Errorf("/app holds %d entries, want itself, %d keys and its schema", n, max)
	}
}
