//go:build (!amd64 && !arm64) || verso_notouch

package bolt

// touch does nothing where verso has no prefetch instruction for it, or
// when built with the tag verso_notouch (bench/tricks.sh measures what
// the instruction gains).
func touch(addr uintptr) {}
