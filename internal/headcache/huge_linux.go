package headcache

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the systems verso
// runs on (x86-64 and arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// hugeSlice returns n zero Ts on the Go heap, starting at a huge page
// boundary and marked for huge pages (madvise MADV_HUGEPAGE), so that the
// kernel can back all of it with huge pages where it gives them: the head
// cache's random reads then miss the TLB less. Memory the Go allocator
// hands out is aligned to its own 8 KiB pages only, and a huge page can
// back only a whole aligned 2 MiB that the advice covers; so a slice of
// at least a huge page is carved from an allocation a huge page larger,
// and the slack on either side is given back (MADV_DONTNEED) and never
// touched.
func hugeSlice[T any](n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if !hugePages || size == 0 || n*size < hugePage {
		return make([]T, n)
	}
	s := make([]T, n+hugePage/size)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	start := (base + hugePage - 1) &^ (hugePage - 1)
	if (start-base)%uintptr(size) != 0 {
		return s[:n:n] // not expected: Go's large objects are page-aligned
	}
	off := int((start - base) / uintptr(size))
	end := start + uintptr(n*size)
	madvise(start, end-start, 14) // MADV_HUGEPAGE
	const page = 4096
	madvise(base, start-base, syscall.MADV_DONTNEED)
	if tail := (end + page - 1) &^ (page - 1); tail < base+uintptr(len(s)*size) {
		madvise(tail, base+uintptr(len(s)*size)-tail, syscall.MADV_DONTNEED)
	}
	return s[off : off+n : off+n]
}

// madvise gives the kernel advice about n bytes of memory at addr. It is
// advice: when the kernel does not take it, nothing changes but speed or
// memory, so errors are ignored.
func madvise(addr, n uintptr, advice int) {
	if n > 0 {
		syscall.Syscall(syscall.SYS_MADVISE, addr, n, uintptr(advice))
	}
}
