package bolt

import (
	"io"
	"slices"
	"syscall"
)

// prefetchTree asks the kernel to start reading a bucket's B+tree pages
// from disk, all of one level at once, before the loader walks the tree
// page by page. On a page cache that no longer holds the file (after a
// reboot, or once the kernel reclaimed it), a walk faults one page at a
// time, each a read from disk and a wait; handing the disk a whole level
// lets it serve the pages in parallel (docs/PERFORMANCE.md, Scale, has
// what it gains at a million keys). It is a hint only
// (madvise MADV_WILLNEED on the mapping at data), reading nothing but the
// tree's branch pages (walkTree). It returns the last level walkTree
// reached: the leaves, when the tree is sound.
func prefetchTree(f io.ReaderAt, data uintptr, size int64, pageSize int, root uint64) (leaves []uint64) {
	walkTree(f, size, pageSize, root, func(level []uint64) {
		willNeed(data, pageSize, level)
		leaves = level
	})
	return leaves
}

// willNeed advises the pages ids, one madvise per run of adjacent pages.
func willNeed(data uintptr, pageSize int, ids []uint64) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] <= ids[j-1]+1 {
			j++
		}
		start := data + uintptr(pageOffset(ids[i], pageSize))
		n := uintptr(pageOffset(ids[j-1]+1, pageSize) - pageOffset(ids[i], pageSize))
		madvise(start, n, syscall.MADV_WILLNEED)
		i = j
	}
}
