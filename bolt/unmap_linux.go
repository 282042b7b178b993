package bolt

import (
	"syscall"
	"unsafe"
)

// unmapPages drops the n bytes of the data file mapped at addr from the
// process's memory (madvise MADV_DONTNEED): the file is mapped shared and
// read-only, so the next read of a page maps it again from the page cache,
// as it was.
func unmapPages(addr uintptr, n int64) {
	// Best effort: the pages only count against RSS.
	syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED)
}

// hugePages asks for b to be backed by huge pages where it can: the head
// cache's random reads then miss the TLB less.
func hugePages(b []byte) {
	if len(b) < 2<<20 {
		return
	}
	const page = 4096
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	end := (start + uintptr(len(b))) &^ (page - 1)
	start = (start + page - 1) &^ (page - 1)
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, 14) // MADV_HUGEPAGE
}
