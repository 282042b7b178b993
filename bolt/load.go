package bolt

import (
	"fmt"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// loadHead loads the tree at head (the tree bucket) into the head cache
// and publishes the head revision.
func (s *Store) loadHead() error {
	return s.db.View(func(tx *bbolt.Tx) error {
		head, err := readHead(tx)
		if err != nil {
			return err
		}
		tree := tx.Bucket(bucketTree)
		root, err := readTree(tree, verso.Root)
		if err != nil {
			return err
		}
		root.TreeRev = head
		if r := uint64(tree.Root()); r != 0 && s.layout.known { // 0: an inline bucket, in its parent's page
			prefetchTree(s.dbf, s.db.Info().Data, tx.Size(), s.pageSize, r)
		}
		// Counting the keys first (it reads only the pages' headers)
		// saves growing the table while loading it.
		s.cache.Reset(tree.Stats().KeyN + 1)
		s.cache.Store(verso.Root, root)
		err = s.cache.LoadStored(func(add func(p, stored []byte) error) error {
			return tree.ForEach(func(k, v []byte) error {
				p := k[1:] // pathFromTreeKey, without making a string
				if len(p) == 1 && p[0] == '/' {
					return nil // the root, stored above
				}
				return add(p, v)
			})
		})
		if err != nil {
			return fmt.Errorf("load tree: %w", err)
		}
		s.head.Store(int64(head))
		// Reading the tree mapped its pages, and the kernel mapped
		// their neighbours with them (history, mostly), into verso's
		// RSS: reads at head need none of them, so let them go. They
		// stay in the page cache, and come back as a read touches them.
		unmapPages(s.db.Info().Data, tx.Size())
		return nil
	})
}

// The bolt store reads entries at head from its cache, without allocating.
var _ verso.HeadReader = (*Store)(nil)

// HeadEntry returns p's entry at head, as Get(ctx, p, verso.Head) would,
// but as a value and without allocating (unless it has properties): for
// the server's hottest path, which reads a key's value and a few fields.
// ok is false when p does not exist or the store is closed. As with Get,
// the Value is shared: do not modify it.
func (s *Store) HeadEntry(p verso.Path) (e verso.Entry, ok bool) {
	if s.queue.Closed() {
		return e, false
	}
	ok = s.cache.LoadInto(p, &e)
	return e, ok
}
