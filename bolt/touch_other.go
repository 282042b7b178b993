//go:build !amd64 && !arm64

package bolt

// touch does nothing where verso has no prefetch instruction for it.
func touch(addr uintptr) {}
