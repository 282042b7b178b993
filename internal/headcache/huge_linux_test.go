//go:build !verso_nohugepages

package headcache

import (
	"testing"
	"unsafe"
)

// TestHugeSlice checks that hugeSlice returns n zero elements, starting at
// a huge page boundary when they fill one, whose slack cannot be reached.
func TestHugeSlice(t *testing.T) {
	for _, n := range []int{0, 1, 4096, hugePage/8 - 1, hugePage / 8, 3 << 20} {
		s := hugeSlice[uint64](n)
		if len(s) != n || cap(s) != n {
			t.Fatalf("hugeSlice(%d): len %d cap %d", n, len(s), cap(s))
		}
		if n*8 >= hugePage {
			if addr := uintptr(unsafe.Pointer(unsafe.SliceData(s))); addr%hugePage != 0 {
				t.Errorf("hugeSlice(%d) starts at %#x, not at a huge page boundary", n, addr)
			}
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("hugeSlice(%d)[%d] = %d, want 0", n, i, v)
			}
			s[i] = uint64(i) // every page writable
		}
	}
	b := hugeSlice[byte](chunkSize)
	if addr := uintptr(unsafe.Pointer(unsafe.SliceData(b))); len(b) != chunkSize || addr%hugePage != 0 {
		t.Errorf("a chunk: %d bytes at %#x", len(b), addr)
	}
}
