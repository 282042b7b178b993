//go:build !linux

package bolt

import "io"

// prefetchTree is Linux's (prefetch_linux.go); elsewhere the loader reads
// the tree as it walks it, and walkTree serves only its test.
func prefetchTree(f io.ReaderAt, data uintptr, size int64, pageSize int, root uint64) {}
