package verso_test

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// FuzzParsePath: whatever ParsePath accepts is clean, and parsing it again
// gives it back.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "/", "//", "a", "/a/b", "a/b/", "/a//b", "/a/./b", "/a/../b", "/ä/ö", "/a\x00b",
		"/a\x7f", "/\u0085", "/" + strings.Repeat("x", 256), strings.Repeat("/a", 33), "\xff", "/a/b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := verso.ParsePath(s)
		if err != nil {
			if p != "" {
				t.Errorf("ParsePath(%q) = %q with error %v", s, p, err)
			}
			return
		}
		q, err := verso.ParsePath(string(p))
		if err != nil || q != p {
			t.Errorf("ParsePath(ParsePath(%q) = %q) = %q, %v; want it unchanged", s, p, q, err)
		}
		switch {
		case !strings.HasPrefix(string(p), "/"):
			t.Errorf("ParsePath(%q) = %q: no leading /", s, p)
		case p != verso.Root && strings.HasSuffix(string(p), "/"):
			t.Errorf("ParsePath(%q) = %q: trailing /", s, p)
		case strings.Contains(string(p), "//"):
			t.Errorf("ParsePath(%q) = %q: empty segment", s, p)
		case !utf8.ValidString(string(p)):
			t.Errorf("ParsePath(%q) = %q: not UTF-8", s, p)
		case p.Depth() > verso.MaxDepth || len(p) > verso.MaxPathLen+1:
			t.Errorf("ParsePath(%q) = %q: beyond the limits", s, p)
		}
		for _, seg := range strings.Split(string(p)[1:], "/") {
			if p != verso.Root && (seg == "." || seg == ".." || len(seg) > verso.MaxNameLen) {
				t.Errorf("ParsePath(%q) = %q: segment %q", s, p, seg)
			}
		}
		if p != verso.Root {
			if j := p.Parent().Join(p.Base()); j != p {
				t.Errorf("Parent(%q).Join(Base) = %q", p, j)
			}
			if !p.Parent().Contains(p) || p.Contains(p.Parent()) {
				t.Errorf("%q and its parent %q do not contain each other as they should", p, p.Parent())
			}
		}
	})
}

// FuzzParseRevision: an accepted revision is Head or a number that prints
// back to what was parsed.
func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{"", "0", "1", "HEAD", "head", "Head", "hEAD", "-1", "+5", "007", "9223372036854775807",
		"9223372036854775808", " 1", "1e3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rev, err := verso.ParseRevision(s)
		if err != nil {
			return
		}
		if rev == verso.Head {
			if !strings.EqualFold(s, "head") {
				t.Errorf("ParseRevision(%q) = Head", s)
			}
			return
		}
		if rev < 0 {
			t.Fatalf("ParseRevision(%q) = %d, a negative revision", s, rev)
		}
		back, err := verso.ParseRevision(strconv.FormatInt(int64(rev), 10))
		if err != nil || back != rev {
			t.Errorf("ParseRevision(%d) = %d, %v after ParseRevision(%q)", rev, back, err, s)
		}
	})
}
