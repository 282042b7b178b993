package bolt

import "io"

// walkTree calls fn with the page ids of each level of the B+tree whose
// root page is root, top down, each level before reading its pages, and
// stops at the leaves, or at anything that is not a page of this file
// (size bytes used, of pageSize each), which it reads through f. It reads
// only branch pages (and the first page of the leaves' level, to see that
// it is one), through the decoders of layout.go.
func walkTree(f io.ReaderAt, size int64, pageSize int, root uint64, fn func(level []uint64)) {
	pages := pageCount(size, pageSize)
	if root < firstDataPage || root >= pages {
		return
	}
	level := []uint64{root}
	for depth := 0; len(level) > 0 && depth < 32; depth++ {
		fn(level)
		var next []uint64
		for _, id := range level {
			p, ok, err := readWholePage(f, id, pageSize, pages)
			if err != nil || readHeader(p).flags != branchPageFlag {
				return // the leaves: nothing below them
			}
			count := int(readHeader(p).count)
			if !ok || !elementsFit(p, count) {
				return
			}
			for i := range count {
				child := branchChild(p, i)
				if child < firstDataPage || child >= pages {
					return
				}
				next = append(next, child)
			}
		}
		level = next
	}
}
