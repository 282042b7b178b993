//go:build (amd64 || arm64) && !verso_notouch

package bolt

// touch asks the CPU to bring the cache line at addr into its caches
// (PREFETCHT0; PRFM PLDL1KEEP on arm64), without waiting for it. It never
// faults: an address that is not mapped is ignored.
//
//go:noescape
func touch(addr uintptr)
