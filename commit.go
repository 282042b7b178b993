package verso

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// OpKind names an operation of a transaction.
type OpKind string

// The operations a transaction can hold.
const (
	// OpPut creates a key or replaces its value. The parent namespace
	// must exist (ErrNoParent); a namespace cannot be overwritten
	// (ErrIsNamespace).
	OpPut OpKind = "put"
	// OpDelete removes a key, or a namespace with everything below it.
	OpDelete OpKind = "delete"
	// OpMkcol creates a namespace (ErrExists if the path exists).
	OpMkcol OpKind = "mkcol"
	// OpCopy copies From to Path: a key, or a namespace with everything
	// below it (Depth Infinite) or alone (Depth 0). Dead properties are
	// copied along.
	OpCopy OpKind = "copy"
	// OpMove moves From, and everything below it, to Path.
	OpMove OpKind = "move"
	// OpProps changes the dead properties of Path, in the order given.
	OpProps OpKind = "props"
	// OpCheck asserts Op.If on Path and changes nothing: a precondition
	// on a path the transaction does not otherwise touch (the source of a
	// copy, a key the change was computed from).
	OpCheck OpKind = "check"
)

// Infinite is the depth of a namespace copy that takes everything below it.
const Infinite = -1

// Op is one operation of a transaction.
type Op struct {
	Kind OpKind
	Path Path
	// From is the source of OpCopy and OpMove. On an OpPut or OpMkcol
	// that creates its path, From and FromRev record the new path as a
	// copy of From as of FromRev whose content the caller gives (a copy
	// of a state older than the source's current one, which OpCopy cannot
	// make: svn and Subversion dumps copy from any revision).
	From Path
	// FromRev, when above 0, is the revision an OpCopy copies From as of
	// (recorded as the copy's Change.FromRev, as svn records the revision
	// a copy came from). The source must be unchanged since: nothing at or
	// below From changed after FromRev (ErrPrecondition otherwise). 0 means
	// the newest revision.
	FromRev Revision
	// Value and ContentType are the new value of OpPut.
	Value       []byte
	ContentType string
	// Props are the property changes of OpProps.
	Props []PropChange
	// Depth of OpCopy: Infinite copies a namespace with everything below
	// it; 0 copies the namespace alone. Note that the zero value is 0.
	Depth int
	// Overwrite lets OpCopy and OpMove replace what is at Path (it is
	// deleted first, in the same revision). Without it they fail with
	// ErrExists when Path exists.
	Overwrite bool
	// If is a compare-and-set condition on Path, checked against the state
	// the transaction's earlier operations left.
	If Cond
}

// Cond is a precondition on one path. The zero Cond always holds. When it
// fails, Commit returns ErrPrecondition and changes nothing.
type Cond struct {
	// Absent requires that the path does not exist (If-None-Match: *).
	Absent bool
	// Exists requires that the path exists (If-Match: *).
	Exists bool
	// ModRev, when above 0, requires that the path exists with this ModRev
	// (its ETag; If-Match: "N").
	ModRev Revision
	// TreeRev, when above 0, requires that the path exists and that
	// nothing at or below it changed after revision TreeRev: its TreeRev
	// is at most TreeRev. A change below a namespace (a key added, changed
	// or deleted, however deep) moves the namespace's TreeRev, so this
	// guards a whole subtree, such as the deletion of a namespace that
	// must not take along keys the client never saw. Give the revision
	// the client read the subtree at, or the TreeRev it saw (a listing's
	// revision). Earlier operations of the same transaction that change
	// the path or anything below it count as a change: put the condition
	// on the first operation that touches the subtree, or on an OpCheck
	// before them. The root's TreeRev is the head.
	TreeRev Revision
}

// IsZero reports whether the condition always holds.
func (c Cond) IsZero() bool { return c == Cond{} }

// PropChange sets or removes one dead property. Name is in Clark notation
// ("{namespace}local"), Value the property's XML content.
type PropChange struct {
	Name   string
	Value  string
	Remove bool
}

// Txn is an atomic change: all its operations take effect in one new
// revision, or none does.
type Txn struct {
	// Author is the authenticated user making the change ("" for anonymous).
	Author string
	// Message says why; a client may set it, otherwise the caller generates
	// one (the HTTP layer writes "PUT /ns/key").
	Message string
	// Base, when above 0, makes the transaction fail with a *ConflictError
	// if any path it touches changed after revision Base.
	Base Revision
	// Ops are applied in order, each seeing the effect of those before it.
	Ops []Op
	// LocksAt, when not nil, is the version of the store's lock table
	// (LockTable) that the caller checked this change against: the
	// commit fails with ErrLocksChanged, changing nothing, if the table
	// has changed since, so that a lock granted after the check, through
	// any server, is never ignored. Stores without a lock table ignore it.
	LocksAt *int64
}

// Action says what a commit did to one path.
type Action string

// The actions recorded for a changed path.
const (
	Added    Action = "added"
	Modified Action = "modified"
	Deleted  Action = "deleted"
	Copied   Action = "copied" // added, as a copy of Change.From
	Moved    Action = "moved"  // added, moved from Change.From (which is Deleted)
)

// Change is one path a commit changed.
type Change struct {
	Path   Path   `json:"path"`
	Kind   Kind   `json:"kind"`
	Action Action `json:"action"`
	// From and FromRev name the source of a copy or move.
	From    Path     `json:"from,omitempty"`
	FromRev Revision `json:"from_revision,omitempty"`
	// Mods says what the change did to the path's value and properties,
	// so that readers of history (svn log -v) need not read the path's
	// states to find out. It is not part of the HTTP API's JSON.
	Mods Mods `json:"-"`
}

// Mods says what a change did to its path, compared with the state before
// it: for Modified, the path in the revision before; for Copied and
// Moved, the source (From as of FromRev); for Added, nothing (a key's
// value counts as changed, even an empty one, and properties when it has
// any). A Deleted change has none. The zero Mods is "not recorded":
// revisions committed before verso recorded it, and a copy whose source
// the commit could not see (one made from an older revision by OpPut or
// OpMkcol with From, or of a path the same transaction created); a reader
// that needs to know compares the states itself.
type Mods uint8

// The bits of Mods.
const (
	// ModsRecorded is set on every change whose Mods were recorded.
	ModsRecorded Mods = 1 << iota
	// ModValue: the path is a key and its value's bytes differ from
	// before (or it was not a key before). A change of the content type
	// alone does not set it.
	ModValue
	// ModProps: the dead properties differ from before.
	ModProps
)

// Recorded reports whether the commit recorded what the change did.
func (m Mods) Recorded() bool { return m&ModsRecorded != 0 }

// ModsBetween returns the Mods of a change that turned before (nil: no
// state to compare with) into after, which must not be nil.
func ModsBetween(before, after *Entry) Mods {
	m := ModsRecorded
	switch {
	case before == nil:
		if after.Kind == KindKey {
			m |= ModValue
		}
		if len(after.Props) > 0 {
			m |= ModProps
		}
	default:
		if after.Kind == KindKey && (before.Kind != KindKey || string(before.Value) != string(after.Value)) {
			m |= ModValue
		}
		if !maps.Equal(before.Props, after.Props) {
			m |= ModProps
		}
	}
	return m
}

// Commit is the record of one revision.
//
// Its JSON form is the one the HTTP API speaks.
type Commit struct {
	Rev     Revision  `json:"revision"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	// Changes lists every path the revision changed, in path order. A copy,
	// move or delete of a namespace lists every path below it too.
	Changes []Change `json:"changes"`
}

// String renders the commit as a one-line summary, like svn log's header:
// "r5 | alice | 2026-11-26 12:36:33 +0000 | PUT /ns/key". A message of
// several lines shows its first line followed by "...".
func (c *Commit) String() string {
	author := c.Author
	if author == "" {
		author = "(no author)"
	}
	msg, _, more := strings.Cut(c.Message, "\n")
	if more {
		msg += " ..."
	}
	return fmt.Sprintf("r%d | %s | %s | %s", c.Rev, author, c.Time.UTC().Format("2006-01-02 15:04:05 -0700"), msg)
}
