package bolt

import "syscall"

// unmapPages drops the n bytes of the data file mapped at addr from the
// process's memory (madvise MADV_DONTNEED): the file is mapped shared and
// read-only, so the next read of a page maps it again from the page cache,
// as it was.
func unmapPages(addr uintptr, n int64) {
	// Best effort: the pages only count against RSS.
	syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED)
}
