package bolt

import "syscall"

// unmapPages drops the n bytes of the data file mapped at addr from the
// process's memory (madvise MADV_DONTNEED): the file is mapped shared and
// read-only, so the next read of a page maps it again from the page cache,
// as it was.
func unmapPages(addr uintptr, n int64) {
	madvise(addr, uintptr(n), syscall.MADV_DONTNEED) // the pages only count against RSS
}

// madvise gives the kernel advice about n bytes of memory at addr. It is
// advice: when the kernel does not take it, nothing changes but speed or
// memory, so errors are ignored.
func madvise(addr, n uintptr, advice int) {
	if n > 0 {
		syscall.Syscall(syscall.SYS_MADVISE, addr, n, uintptr(advice))
	}
}
