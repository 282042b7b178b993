package verso

import (
	"context"
	"time"
)

// LockTable is implemented by stores that several servers share (the
// cluster store on etcd): one small table of records, the WebDAV locks,
// kept beside the versioned tree, outside its history, that every server
// sharing the store sees and changes. Callers find it by type assertion;
// a store without it is served by one process (the embedded bolt store),
// which keeps its locks in its memory.
//
// The table has a version that every change made with UpdateLocks raises.
// Changes are planned against a view and applied only if the table is
// still at that view's version, so two servers never both apply a change
// planned against the same state: the second gets ErrConflict, syncs and
// plans again. A record with a TTL may also disappear by itself once that
// time has passed, which does not raise the version: its holder counts the
// record's expiry itself, in the record.
//
// A LockTable store is also a ConsistentReader, and its GetConsistent
// syncs the table as SyncLocks does (in the same quorum read): a write
// that reads what it checks with GetConsistent, and then checks the locks
// in Locks, sees every change made before it began.
type LockTable interface {
	// Locks returns the table as this server knows it: every change made
	// through this server, and those made through others as soon as the
	// store has followed them (usually within milliseconds).
	Locks() *LockView
	// SyncLocks returns a view that holds every change UpdateLocks made,
	// through any server, before SyncLocks was called (a linearizable
	// read of the version, then a wait until this server has followed the
	// table that far).
	SyncLocks(ctx context.Context) (*LockView, error)
	// UpdateLocks applies puts and deletes in one step if the table is
	// still at version, and returns a view that holds them. It returns
	// ErrConflict if another change came first, or if a put with Replace
	// names a record that no longer exists.
	UpdateLocks(ctx context.Context, version int64, puts []LockRecord, deletes []string) (*LockView, error)
}

// LockView is one state of a LockTable. It is never modified: a change
// makes a new one.
type LockView struct {
	// Version is raised by every UpdateLocks.
	Version int64
	// Records are the values of the records by key.
	Records map[string][]byte
}

// LockRecord is a record UpdateLocks puts.
type LockRecord struct {
	Key   string
	Value []byte
	// TTL, when positive, lets the store forget the record that long after
	// the put, to the second, or up to a few seconds later.
	TTL time.Duration
	// Replace requires the record to exist already (a refresh must not
	// bring back a record that expired meanwhile).
	Replace bool
}
