//go:build !linux

package bolt

import "io"

// prefetchTree is Linux's (prefetch_linux.go); elsewhere the loader reads
// the tree as it walks it, and the walk only finds the leaves (treeKeys).
func prefetchTree(f io.ReaderAt, data uintptr, size int64, pageSize int, root uint64) (leaves []uint64) {
	walkTree(f, size, pageSize, root, func(level []uint64) { leaves = level })
	return leaves
}
