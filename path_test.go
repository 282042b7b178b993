package verso_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/verso-config/verso"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "/"},
		{"/", "/"},
		{"a", "/a"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b"},
		{"a/b/", "/a/b"},
		{"/ünïcødé/κλειδί", "/ünïcødé/κλειδί"},
		{"/with space/and.dot", "/with space/and.dot"},
		{"/..a/a..", "/..a/a.."},
		{"/" + strings.Repeat("x", verso.MaxNameLen), "/" + strings.Repeat("x", verso.MaxNameLen)},
		{strings.Repeat("/d", verso.MaxDepth), strings.Repeat("/d", verso.MaxDepth)},
	}
	for _, tt := range tests {
		got, err := verso.ParsePath(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("ParsePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePath_Invalid(t *testing.T) {
	for _, in := range []string{
		"/a/../b", "..", "/a/..", "/./a", "/a/.", "//", "/a//b", "/a/b//",
		"/a\x00b", "/a\x01b", "/a\x7fb", "/a\u0085b", "/a\xffb", "\xc3",
		"/" + strings.Repeat("x", verso.MaxNameLen+1),
		strings.Repeat("/d", verso.MaxDepth+1),
		"/" + strings.Repeat("a/", verso.MaxPathLen),
	} {
		got, err := verso.ParsePath(in)
		if !errors.Is(err, verso.ErrInvalidPath) {
			t.Errorf("ParsePath(%q) = %q, %v; want ErrInvalidPath", in, got, err)
		}
	}
}

func TestPath_Relations(t *testing.T) {
	p := verso.MustPath("/a/b/c")
	if got := p.Parent(); got != "/a/b" {
		t.Errorf("Parent(%q) = %q, want /a/b", p, got)
	}
	if got := verso.MustPath("/a").Parent(); got != verso.Root {
		t.Errorf("Parent(/a) = %q, want /", got)
	}
	if got := p.Base(); got != "c" {
		t.Errorf("Base(%q) = %q, want c", p, got)
	}
	if got := p.Depth(); got != 3 {
		t.Errorf("Depth(%q) = %d, want 3", p, got)
	}
	if got := verso.Root.Join("x").Join("y"); got != "/x/y" {
		t.Errorf("Root.Join(x).Join(y) = %q, want /x/y", got)
	}
	for _, tt := range []struct {
		p, q string
		want bool
	}{
		{"/", "/a", true}, {"/a", "/a", true}, {"/a", "/a/b", true},
		{"/a", "/ab", false}, {"/a/b", "/a", false},
	} {
		if got := verso.Path(tt.p).Contains(verso.Path(tt.q)); got != tt.want {
			t.Errorf("Path(%q).Contains(%q) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
	for _, tt := range []struct{ q, from, to, want string }{
		{"/a/b/c", "/a", "/x", "/x/b/c"},
		{"/a", "/a", "/x/y", "/x/y"},
		{"/a/b", "/", "/x", "/x/a/b"},
	} {
		if got := verso.Path(tt.q).Rebase(verso.Path(tt.from), verso.Path(tt.to)); string(got) != tt.want {
			t.Errorf("Rebase(%q, %q, %q) = %q, want %q", tt.q, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestParseRevision(t *testing.T) {
	for in, want := range map[string]verso.Revision{"0": 0, "42": 42, "HEAD": verso.Head, "head": verso.Head} {
		if got, err := verso.ParseRevision(in); err != nil || got != want {
			t.Errorf("ParseRevision(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "r5", "1.5", "99999999999999999999"} {
		if _, err := verso.ParseRevision(in); !errors.Is(err, verso.ErrNoRevision) {
			t.Errorf("ParseRevision(%q) error = %v, want ErrNoRevision", in, err)
		}
	}
}

// BenchmarkParsePath measures the check of a clean path, which the
// server's fast lane makes for every read it answers: it allocates nothing.
func BenchmarkParsePath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verso.ParsePath("/app/prod/database/url"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParsePath_NoAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { verso.ParsePath("/app/prod/database/url") }); n != 0 {
		t.Errorf("ParsePath of a clean path: %v allocations, want 0", n)
	}
}
