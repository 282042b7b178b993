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
