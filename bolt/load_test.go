package bolt

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

func TestStore_HeadEntry(t *testing.T) {
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/a"), put("/a/k", "v"))
	for _, p := range []verso.Path{"/", "/a", "/a/k", "/a/nope"} {
		got, ok := s.HeadEntry(p)
		want, err := s.Get(t.Context(), p, verso.Head)
		if ok != (err == nil) {
			t.Fatalf("HeadEntry(%q) ok = %v, Get error %v", p, ok, err)
		}
		if ok {
			if diff := cmp.Diff(want, &got); diff != "" {
				t.Errorf("HeadEntry(%q) (-Get +HeadEntry):\n%s", p, diff)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.HeadEntry("/a/k") }); n != 0 {
		t.Errorf("HeadEntry allocates %v times, want 0", n)
	}
	s.Close()
	if _, ok := s.HeadEntry("/a/k"); ok {
		t.Error("HeadEntry after Close found an entry")
	}
}
