package bolt

import (
	"fmt"
	"io"

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
		keys := 0
		if r := uint64(tree.Root()); r != 0 && s.layout.known { // 0: an inline bucket, in its parent's page
			leaves := prefetchTree(s.dbf, s.db.Info().Data, tx.Size(), s.pageSize, r)
			keys = treeKeys(s.dbf, tx.Size(), s.pageSize, leaves)
		}
		// Sizing the table for the keys first saves growing it while
		// loading them.
		s.cache.Reset(keys + 1)
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

// treeKeys estimates how many keys a tree bucket holds, to size the head
// cache: its leaves (prefetchTree's walk) times the keys of up to 16 of
// them, evenly spread. It reads through f, never bbolt's map,
// and counts no sub-bucket: bbolt's own count (Bucket.Stats) follows
// elements that damage marks as buckets, and one that leads back into
// itself recurses until the stack overflows, which no recover catches.
func treeKeys(f io.ReaderAt, size int64, pageSize int, leaves []uint64) int {
	if len(leaves) == 0 {
		return 0
	}
	const samples = 16
	step := max(1, len(leaves)/samples)
	n, keys := 0, 0
	for i := 0; i < len(leaves); i += step {
		p, _, err := readWholePage(f, leaves[i], pageSize, pageCount(size, pageSize))
		if err != nil || readHeader(p).flags != leafPageFlag {
			continue
		}
		n++
		keys += int(readHeader(p).count)
	}
	if n == 0 {
		return 0
	}
	return keys * len(leaves) / n
}
