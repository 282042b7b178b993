package verso

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on paths. A request that exceeds them is refused with ErrInvalidPath.
const (
	// MaxNameLen is the longest segment (key or namespace name), in bytes.
	MaxNameLen = 255
	// MaxDepth is the deepest a path may be: /a/b/c has depth 3.
	MaxDepth = 32
	// MaxPathLen is the longest whole path, in bytes.
	MaxPathLen = 4096
)

// Path names a key or a namespace: "/" is the root namespace, "/app/db/host"
// a key three levels down. A Path returned by ParsePath (or built from one
// with Join) is clean: it starts with "/", has no trailing "/" (except the
// root), no empty, "." or ".." segments, and only valid UTF-8 without control
// characters. Code that receives a Path trusts it; code that receives a string
// from outside calls ParsePath.
type Path string

// Root is the root namespace. It always exists and cannot be deleted.
const Root Path = "/"

// ParsePath checks and cleans a path that came from outside (a decoded URL
// path, a CLI argument, a JSON field). A missing leading "/" is added and one
// trailing "/" is dropped, so "a/b/" and "/a/b" are the same path. Everything
// else that is not clean is an error wrapping ErrInvalidPath: verso never
// guesses what a path with ".." or an empty segment was meant to name.
func ParsePath(s string) (Path, error) {
	invalid := func(why string) error {
		return &PathError{Op: "parse", Path: Path(s), Err: fmt.Errorf("%w: %s", ErrInvalidPath, why)}
	}
	if len(s) > MaxPathLen {
		return "", invalid(fmt.Sprintf("longer than %d bytes", MaxPathLen))
	}
	if !utf8.ValidString(s) {
		return "", invalid("not valid UTF-8")
	}
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	if s == "/" {
		return Root, nil
	}
	s = strings.TrimSuffix(s, "/") // "//" leaves "/": an empty segment below
	depth := 0
	for rest := s[1:]; ; {
		// Segment by segment, without a slice of them: the server's fast
		// lane parses the path of every read it answers.
		seg, after, more := strings.Cut(rest, "/")
		rest = after
		depth++
		switch {
		case seg == "":
			return "", invalid("empty segment")
		case seg == "." || seg == "..":
			return "", invalid(fmt.Sprintf("segment %q", seg))
		case len(seg) > MaxNameLen:
			return "", invalid(fmt.Sprintf("segment longer than %d bytes", MaxNameLen))
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				return "", invalid(fmt.Sprintf("control character %U", r))
			}
		}
		if !more {
			break
		}
	}
	if depth > MaxDepth {
		return "", invalid(fmt.Sprintf("deeper than %d levels", MaxDepth))
	}
	return Path(s), nil
}

// MustPath is ParsePath for constants in tests and examples; it panics on a
// path that is not valid.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the path as text.
func (p Path) String() string { return string(p) }

// IsRoot reports whether p is the root namespace.
func (p Path) IsRoot() bool { return p == Root }

// Parent returns the namespace that holds p; the root's parent is the root.
func (p Path) Parent() Path {
	i := strings.LastIndexByte(string(p), '/')
	if i <= 0 {
		return Root
	}
	return p[:i]
}

// Base returns the last segment of p, or "" for the root.
func (p Path) Base() string {
	return string(p[strings.LastIndexByte(string(p), '/')+1:])
}

// Depth returns the number of segments: 0 for the root, 1 for "/a".
func (p Path) Depth() int {
	if p == Root {
		return 0
	}
	return strings.Count(string(p), "/")
}

// Join returns the child of p named name. The caller guarantees that name is
// a valid single segment (it came from a clean Path).
func (p Path) Join(name string) Path {
	if p == Root {
		return Path("/" + name)
	}
	return Path(string(p) + "/" + name)
}

// Contains reports whether q is p or lies below p.
func (p Path) Contains(q Path) bool {
	if p == Root || p == q {
		return true
	}
	return strings.HasPrefix(string(q), string(p)) && q[len(p)] == '/'
}

// Rebase moves q, which lies at or below from, to the same place below to:
// Rebase("/a/b/c", "/a", "/x") is "/x/b/c".
func (q Path) Rebase(from, to Path) Path {
	if q == from {
		return to
	}
	rest := strings.TrimPrefix(string(q), string(from))
	if from == Root {
		rest = string(q)
	}
	if to == Root {
		return Path(rest)
	}
	return Path(string(to) + rest)
}

// Ancestors returns the namespaces above p, nearest first, ending with the
// root. The root has none.
func (p Path) Ancestors() []Path {
	var out []Path
	for q := p; q != Root; {
		q = q.Parent()
		out = append(out, q)
	}
	return out
}
