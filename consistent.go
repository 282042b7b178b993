package verso

import "context"

// ConsistentReader is implemented by stores whose Get at Head answers from
// a copy in memory that may briefly lag commits made through other servers
// (the cluster store on etcd). Callers find it by type assertion; a store
// without it is consistent already (the embedded bolt store: one process
// makes every commit), and plain Get at Head is what it would answer.
type ConsistentReader interface {
	// GetConsistent returns the entry at p at the newest revision of the
	// whole store: its answer reflects every commit that completed,
	// through any server, before the call began (a linearizable read). It
	// returns ErrNotFound if p does not exist then.
	GetConsistent(ctx context.Context, p Path) (*Entry, error)
}

// HeadReader is implemented by stores that can read an entry at Head as a
// value, without allocating on the heap for it: the server's fast lane
// (internal/fastlane) answers plain reads of keys through it. Callers find
// it by type assertion; a store without it is read through Get.
type HeadReader interface {
	// HeadEntry returns p's entry at Head, as Get(ctx, p, Head) would, as
	// a value; ok is false when p does not exist or the store is closed.
	// The entry's Value (and any other shared field) must not be modified.
	// HeadEntry must not keep p: the fast lane passes keys that share the
	// bytes of a request buffer, valid only during the call.
	HeadEntry(p Path) (e Entry, ok bool)
}
