package server

import (
	"context"
	"net/http"

	"github.com/verso-config/verso"
)

// HeaderConsistent, set to 1 on a GET or HEAD at head (like the query
// parameter ?consistent), asks for a linearizable read: the answer reflects
// every write that completed, through any server of a cluster, before the
// request. Without it a server answers from its copy of the tree, which
// reflects its own writes at once and other servers' a moment later.
const HeaderConsistent = "X-Verso-Consistent"

// wantsConsistent reports whether r asks for a linearizable read.
func wantsConsistent(r *http.Request) bool {
	return r.Header.Get(HeaderConsistent) == "1" || (r.URL.RawQuery != "" && r.URL.Query().Has("consistent"))
}

// getEntry reads p at rev for a GET or HEAD: through the store's
// ConsistentReader when the request asks for a linearizable read at head
// and the store has one (a store without one is consistent already).
func (s *Server) getEntry(r *http.Request, p verso.Path, rev verso.Revision) (*verso.Entry, error) {
	if rev == verso.Head && wantsConsistent(r) {
		return s.getConsistent(r.Context(), p)
	}
	return s.store.Get(r.Context(), p, rev)
}

// getConsistent reads p at head through the store's ConsistentReader, if
// it has one. Writes read what they check with it: a server of a cluster
// whose copy of the tree lags must not refuse a conditional write (412),
// or answer 404 to a DELETE, for want of a commit another server made.
func (s *Server) getConsistent(ctx context.Context, p verso.Path) (*verso.Entry, error) {
	if cr, ok := s.store.(verso.ConsistentReader); ok {
		return cr.GetConsistent(ctx, p)
	}
	return s.store.Get(ctx, p, verso.Head)
}
