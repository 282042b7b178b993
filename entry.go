package verso

import (
	"fmt"
	"strconv"
	"time"
)

// Revision numbers the states of the whole tree, like Subversion's: revision
// 0 is the empty tree and every successful commit makes exactly one new
// revision, one above the last, whatever number of paths it touches.
type Revision int64

// Head asks a read for the newest revision.
const Head Revision = -1

// ParseRevision reads a revision from text: a non-negative number, or
// "HEAD" (any case) for Head. Anything else wraps ErrNoRevision.
func ParseRevision(s string) (Revision, error) {
	if s == "HEAD" || s == "head" || s == "Head" {
		return Head, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q is not a revision number", ErrNoRevision, s)
	}
	return Revision(n), nil
}

// Kind says whether an entry is a key or a namespace.
type Kind uint8

const (
	// KindKey is a leaf holding a value (a WebDAV resource).
	KindKey Kind = iota + 1
	// KindNamespace holds keys and namespaces (a WebDAV collection).
	KindNamespace
)

func (k Kind) String() string {
	switch k {
	case KindKey:
		return "key"
	case KindNamespace:
		return "namespace"
	}
	return "unknown"
}

// MarshalText writes the kind as "key" or "namespace".
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads "key" or "namespace".
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "key":
		*k = KindKey
	case "namespace":
		*k = KindNamespace
	default:
		return fmt.Errorf("verso: unknown kind %q", b)
	}
	return nil
}

// Entry is a key or namespace as it is at some revision. Entries returned by
// a Store are shared with other readers: treat them, their Value and their
// Props as read-only.
type Entry struct {
	Path Path
	Kind Kind
	// Value holds a key's bytes; it is nil for namespaces.
	Value []byte
	// ContentType is the media type given when the key was written, or the
	// one verso detected; empty for namespaces.
	ContentType string
	// Props are the WebDAV dead properties, by Clark name ("{ns}local") to
	// the property's XML content. Nil when there are none.
	Props map[string]string
	// CreateRev is the revision that created the entry.
	CreateRev Revision
	// ModRev is the last revision that changed the entry itself (its value,
	// content type or properties).
	ModRev Revision
	// TreeRev is, for a namespace, the last revision that changed it or
	// anything below it; for a key it equals ModRev.
	TreeRev Revision
	// Version counts the revisions that changed the entry since it was
	// created, from 1 (several operations on it in one commit count once).
	Version int64
	// ModTime is the time of ModRev's commit.
	ModTime time.Time
	// ModBy is the author of ModRev's commit ("" when anonymous).
	ModBy string
}

// IsNamespace reports whether e is a namespace.
func (e *Entry) IsNamespace() bool { return e.Kind == KindNamespace }

// ETag returns the entity tag of the entry, quoted as HTTP wants it. It
// changes whenever the entry changes, because it names ModRev: any write to
// the entry makes a new revision.
func (e *Entry) ETag() string {
	return `"` + strconv.FormatInt(int64(e.ModRev), 10) + `"`
}
