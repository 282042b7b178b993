package verso

import "context"

// Store is a versioned tree of keys and namespaces. Two implementations
// exist: the embedded bolt store (package bolt) and the cluster store on
// etcd; both pass the conformance suite in package storetest.
//
// Every method takes a context; a method whose context ends returns its
// error. Errors wrap the sentinels of this package (usually inside a
// *PathError or *OpError); each method says which. After Close every method
// returns ErrClosed.
//
// Reads never wait for commits: each read sees one consistent revision.
type Store interface {
	// Head returns the newest revision (0 for an empty store).
	Head(ctx context.Context) (Revision, error)

	// Get returns the entry at p as of revision rev (Head for the newest).
	// It returns ErrNotFound if p did not exist then, ErrNoRevision if rev
	// is beyond the head, and ErrGone if rev's history was pruned. A Get at
	// Head is the hot path of the service and must not touch the disk.
	Get(ctx context.Context, p Path, rev Revision) (*Entry, error)

	// Walk calls fn for p and the entries below it as of revision rev, in
	// one consistent snapshot: p first, then each child in name order, each
	// namespace's children right after it (pre-order). depth limits how far
	// down it goes: 0 visits p alone, 1 p and its children, Infinite all.
	// If fn returns an error, Walk stops and returns it. Walk returns the
	// errors Get returns for p.
	Walk(ctx context.Context, p Path, rev Revision, depth int, fn func(*Entry) error) error

	// Commit applies txn atomically as one new revision and returns its
	// record once it is durable. If any operation fails, nothing changes
	// and the error is an *OpError naming the operation, wrapping a
	// *PathError that wraps ErrNotFound, ErrExists, ErrNoParent,
	// ErrNotNamespace, ErrIsNamespace, ErrPrecondition, ErrSamePath, ErrRoot
	// or ErrInvalidOp; a stale txn.Base gives a *ConflictError (ErrConflict);
	// an empty txn ErrEmptyTxn. Concurrent commits are ordered; each gets
	// its own revision.
	Commit(ctx context.Context, txn *Txn) (*Commit, error)

	// Revision returns the record of revision rev: ErrNoRevision if there is
	// none (rev 0 has none either), ErrGone if it was pruned.
	Revision(ctx context.Context, rev Revision) (*Commit, error)

	// Log returns, newest first, the commits that changed q.Path or anything
	// below it, at or before q.Before (Head: from the newest), at most
	// q.Limit of them (0: no limit).
	Log(ctx context.Context, q LogQuery) ([]*Commit, error)

	// Wait blocks until the head is at least rev, then returns the head. It
	// returns early with the context's error.
	Wait(ctx context.Context, rev Revision) (Revision, error)

	// Close releases the store. Commits in flight finish first.
	Close() error
}

// LogQuery selects commits for Store.Log.
type LogQuery struct {
	// Path restricts the log to commits that changed Path or anything below
	// it. Root (or "") means every commit.
	Path Path
	// Before is the newest revision to include; Head (or 0) means the head.
	Before Revision
	// Limit caps the number of commits returned; 0 means no cap.
	Limit int
}
