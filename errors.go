package verso

import (
	"errors"
	"fmt"
	"io/fs"
)

// The sentinel errors of verso. A Store method's documentation names which
// it returns in each case; callers test for them with errors.Is and never by
// their text. The HTTP layer maps each to one status code (see the server
// package).

// Errors for reading.
var (
	// ErrNotFound: the path does not exist (at the requested revision).
	// It satisfies errors.Is(err, fs.ErrNotExist), so code written in the
	// os vocabulary (like WebDAV file systems) understands it.
	ErrNotFound error = &sentinel{"verso: not found", fs.ErrNotExist}
	// ErrGone: the requested revision is older than the retained history.
	ErrGone = errors.New("verso: revision no longer retained")
	// ErrNoRevision: the requested revision is beyond the head (it has not
	// happened yet) or negative.
	ErrNoRevision = errors.New("verso: no such revision")
	// ErrNotNamespace: a namespace operation (listing, creating a child) was
	// asked of a key.
	ErrNotNamespace = errors.New("verso: not a namespace")
	// ErrIsNamespace: a key operation (writing a value) was asked of a
	// namespace.
	ErrIsNamespace = errors.New("verso: is a namespace")
)

// Errors for committing. A commit that returns any of these changed nothing.
var (
	// ErrExists: the path exists and the operation would not replace it
	// (MKCOL of an existing path; COPY or MOVE without overwrite).
	ErrExists error = &sentinel{"verso: already exists", fs.ErrExist}
	// ErrNoParent: the namespace that would hold the path does not exist.
	ErrNoParent = errors.New("verso: parent namespace does not exist")
	// ErrPrecondition: a compare-and-set condition of an operation failed
	// (the path changed, or exists when it must not).
	ErrPrecondition = errors.New("verso: precondition failed")
	// ErrConflict: a path the transaction touches changed after the
	// transaction's base revision.
	ErrConflict = errors.New("verso: conflict")
	// ErrLocksChanged: the store's lock table changed after the version
	// the transaction was checked against (Txn.LocksAt); check it again.
	ErrLocksChanged = errors.New("verso: the lock table changed since the write was checked")
	// ErrSamePath: a COPY or MOVE whose source and destination overlap.
	ErrSamePath = errors.New("verso: source and destination overlap")
	// ErrRoot: the operation would replace or delete the root namespace.
	ErrRoot = errors.New("verso: the root namespace cannot be changed")
	// ErrEmptyTxn: a transaction with no operations.
	ErrEmptyTxn = errors.New("verso: transaction has no operations")
	// ErrInvalidOp: an operation that is malformed (unknown kind, missing
	// source, a property name that is not valid).
	ErrInvalidOp = errors.New("verso: invalid operation")
	// ErrTooLarge: a value, a transaction or a request exceeds a limit.
	ErrTooLarge = errors.New("verso: too large")
	// ErrNoSpace: the store's disk is full (or its quota spent). Reads
	// still work, and commits succeed again once space is freed, without
	// a restart.
	ErrNoSpace = errors.New("verso: no space left on the store's disk")
)

// Errors for input and lifecycle.
var (
	// ErrInvalidPath: a path that ParsePath refuses.
	ErrInvalidPath = errors.New("verso: invalid path")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("verso: store closed")
)

// sentinel is an error that also matches a standard library error, so
// ErrNotFound is fs.ErrNotExist to errors.Is.
type sentinel struct {
	msg  string
	also error
}

func (e *sentinel) Error() string        { return e.msg }
func (e *sentinel) Is(target error) bool { return target == e.also }

// PathError records the operation, path and revision that an error concerns.
// Store methods return errors of this type, wrapping one of the sentinels.
type PathError struct {
	Op   string   // what was being done: "get", "put", "copy", ...
	Path Path     // the path concerned
	Rev  Revision // the revision concerned, or 0 when none is
	Err  error    // the cause, usually a sentinel
}

func (e *PathError) Error() string {
	if e.Rev > 0 {
		return fmt.Sprintf("%s %s@%d: %v", e.Op, e.Path, e.Rev, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *PathError) Unwrap() error { return e.Err }

// OpError says which operation of a transaction failed. Commit returns it
// wrapping the operation's own error (usually a *PathError).
type OpError struct {
	Index int    // position of the operation in Txn.Ops, from 0
	Kind  OpKind // the operation's kind
	Err   error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("operation %d (%s): %v", e.Index, e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// ConflictError is returned (wrapping ErrConflict) when paths a transaction
// touches were changed after its base revision. Paths lists them.
type ConflictError struct {
	Base  Revision
	Paths []Path
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("verso: conflict: changed after revision %d: %v", e.Base, e.Paths)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }
