//go:build !linux

package bolt

// unmapPages leaves the pages mapped: only Linux is told otherwise.
func unmapPages(addr uintptr, n int64) {}
