package server

import (
	"net/http"

	"github.com/verso-config/verso"
)

// Access is what a request wants to do with a path.
type Access int

// The kinds of access a rule can grant.
const (
	Read Access = iota + 1
	Write
)

// authorize is the one gate every surface goes through: it returns nil if
// the request's user may have access a to p, and otherwise an error that
// writeError turns into 401 (no user yet) or 403. Surfaces that list paths
// (PROPFIND, listings, the log, diff, watch, export) call readable for each
// path instead, leaving out what the user may not see.
//
// Until users and rules are configured, everyone may do everything.
func (s *Server) authorize(r *http.Request, p verso.Path, a Access) error {
	return nil
}

// readable reports whether the request's user may read p. A path that is
// not readable must not appear anywhere in an answer, not even as a name.
func (s *Server) readable(r *http.Request, p verso.Path) bool {
	return s.authorize(r, p, Read) == nil
}
