package bolt

import (
	"encoding/binary"
	"io"
)

// walkTree calls fn with the page ids of each level of the B+tree whose
// root page is root, top down, each level before reading its pages, and
// stops at the leaves, or at anything that is not a page of this file
// (size bytes used, of pageSize each), which it reads through f. It reads
// only branch pages (and the first page of the leaves' level, to see that
// it is one).
//
// It reads bbolt's page layout, which bbolt has kept since its first
// release: a 16-byte header (id uint64, flags uint16, count uint16,
// overflow uint32), and in a branch page count elements of 16 bytes (pos
// uint32, ksize uint32, child page id uint64).
func walkTree(f io.ReaderAt, size int64, pageSize int, root uint64, fn func(level []uint64)) {
	const (
		headerSize  = 16
		elementSize = 16
		branchFlag  = 0x01
	)
	pages := uint64(size) / uint64(pageSize)
	if root < 2 || root >= pages {
		return // pages 0 and 1 are the meta pages
	}
	level := []uint64{root}
	buf := make([]byte, pageSize)
	for depth := 0; len(level) > 0 && depth < 32; depth++ {
		fn(level)
		var next []uint64
		for _, id := range level {
			p := buf
			if _, err := f.ReadAt(p, int64(id)*int64(pageSize)); err != nil {
				return
			}
			if binary.LittleEndian.Uint16(p[8:]) != branchFlag {
				return // the leaves: nothing below them
			}
			count := int(binary.LittleEndian.Uint16(p[10:]))
			if overflow := uint64(binary.LittleEndian.Uint32(p[12:])); overflow > 0 {
				if id+overflow >= pages {
					return
				}
				p = make([]byte, (overflow+1)*uint64(pageSize))
				if _, err := f.ReadAt(p, int64(id)*int64(pageSize)); err != nil {
					return
				}
			}
			if headerSize+count*elementSize > len(p) {
				return
			}
			for i := range count {
				child := binary.LittleEndian.Uint64(p[headerSize+i*elementSize+8:])
				if child < 2 || child >= pages {
					return
				}
				next = append(next, child)
			}
		}
		level = next
	}
}
