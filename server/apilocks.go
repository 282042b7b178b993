package server

// The locks on the JSON API's writes: a transaction (txn.go), a revert
// (history.go), an import (import.go) and a schema's setting or removal
// (schema.go) change nothing a WebDAV lock
// protects unless the request submits the lock's token, by the rules of
// WebDAV's own writes (preconditions, conditions.go).

import (
	"net/http"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/dav"
)

// lockTokens returns the lock tokens r submits in its If header, as WebDAV
// clients send them: If: (<urn:uuid:...>). Only the tokens count: the
// header's conditions would name the API's URL, not a path of the tree, so
// they are not evaluated, and a token that names no lock on a path written
// is ignored. A malformed header is 400.
func lockTokens(r *http.Request) ([]string, error) {
	ih := r.Header.Get("If")
	if ih == "" {
		return nil, nil
	}
	ifh, err := dav.ParseIfHeader(ih)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed If header: %v", err)
	}
	return ifh.Tokens(), nil
}

// confirmOps checks the locks on every path ops change, with the tokens
// the request submits, before they are committed: a 423 naming the locked
// path, which indexed (if not nil) gives the index of the operation a lock
// refuses; another error when the If header is malformed or the lock
// table cannot be read. The check is made again at the commit if a lock
// was granted since (lockcommit.go), with the same answer.
//
// Each operation is checked as the WebDAV method that makes the same
// change (dav.OpScopes, the rules svn commits go by too).
//
// On a cluster the lock table is synced first, as the fast lane's PUT
// does: these writes plan against this server's copy of the tree
// (Store.Head, Get, Walk), not through a consistent read, so unlike
// preconditions they cannot count on s.current having brought the table up
// to date. That is one quorum read a request on a cluster, nothing on one
// server. With no lock at all in the table the operations are not looked
// at; otherwise each costs a look at the table in memory, and whether a
// put's key is new is read from the store only when a lock protects its
// parent's membership.
func (s *Server) confirmOps(r *http.Request, ops []verso.Op, indexed func(i int, err error) error) error {
	tokens, err := lockTokens(r)
	if err != nil {
		return err
	}
	if err := s.locks.Sync(r.Context()); err != nil {
		return err
	}
	return s.checkLocks(r.Context(), func() error {
		if len(s.locks.Below(verso.Root)) == 0 {
			return nil // no lock at all: nothing to check, whatever the ops
		}
		for i, op := range ops {
			if err := s.confirmOp(r, op, tokens); err != nil {
				if indexed != nil {
					err = indexed(i, err)
				}
				return err
			}
		}
		return nil
	})
}

// confirmOp checks the locks on what op changes (dav.OpScopes).
func (s *Server) confirmOp(r *http.Request, op verso.Op, tokens []string) error {
	if op.Kind == verso.OpPut {
		return s.confirmPut(r, op, tokens)
	}
	for _, sc := range dav.OpScopes(op, false) {
		if err := s.confirmWrite(r, op, lockWrite{path: sc.Path, subtree: sc.Subtree, membership: sc.Membership}, tokens); err != nil {
			return err
		}
	}
	return nil
}

// confirmPut checks a put: the key, and its parent's membership if the key
// does not exist yet, which is read only when a lock protects it.
func (s *Server) confirmPut(r *http.Request, op verso.Op, tokens []string) error {
	if s.locks.Confirm(op.Path, false, true, tokens) == nil {
		return nil
	}
	if s.locks.Confirm(op.Path, false, false, tokens) == nil {
		cur, err := s.current(r, op.Path)
		if err != nil {
			return err
		}
		if cur != nil {
			return nil // replaced, not created: the membership stays
		}
	}
	return s.confirmWrite(r, op, lockWrite{path: op.Path, membership: true}, tokens)
}

// confirmWrite checks the locks on lw for op, and answers 423 naming the
// path a lock protects (see lockedPath).
func (s *Server) confirmWrite(r *http.Request, op verso.Op, lw lockWrite, tokens []string) error {
	err := s.locks.Confirm(lw.path, lw.subtree, lw.membership, tokens)
	if err == nil {
		return nil
	}
	p, ns := s.lockedPath(r, lw, tokens)
	return errLockedAt(s.href(p, ns), &verso.PathError{Op: string(op.Kind), Path: p, Err: err})
}

// lockedPath names the path of lw whose lock the request has no token for:
// lw's path itself, the root of a lock below it, or its parent namespace
// (ns true), whose membership changes. A path the user may not read is
// not named: lw's path is, as WebDAV's writes name it.
func (s *Server) lockedPath(r *http.Request, lw lockWrite, tokens []string) (p verso.Path, ns bool) {
	if s.locks.Confirm(lw.path, false, false, tokens) != nil {
		return lw.path, false
	}
	if lw.subtree {
		for _, l := range s.locks.Below(lw.path) {
			if s.locks.Confirm(l.Root, false, false, tokens) != nil {
				if s.readable(r, l.Root) {
					return l.Root, false
				}
				return lw.path, false
			}
		}
	}
	if lw.membership && !lw.path.IsRoot() && s.readable(r, lw.path.Parent()) {
		return lw.path.Parent(), true
	}
	return lw.path, false
}
