//go:build !linux

package headcache

// hugeSlice returns n zero Ts: only Linux is asked for huge pages.
func hugeSlice[T any](n int) []T { return make([]T, n) }
