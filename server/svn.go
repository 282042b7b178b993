package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/internal/dav"
	"github.com/verso-config/verso/svn"
)

// The Subversion client reads the tree at the same URLs as everyone else
// (package svn, docs/svn.md). Its requests are told apart by svn.Wants,
// which nothing a WebDAV client or curl sends matches; this file is the
// server's whole share of it.

// newSVN returns the svn handler of s, reading s's store with s's users
// and path rules; uuid is the repository's ("" for the mount's).
func (s *Server) newSVN(uuid string) *svn.Handler {
	o := svn.Options{Mount: s.mount, Realm: auth.Realm, Logger: s.log, MaxValueSize: s.max, Locks: svnLocks{s}, UUID: uuid}
	if s.auth != nil {
		o.Access = svnAccess{s}
	}
	return svn.New(s.store, o)
}

// serveSVN answers r if it is the svn client's, and reports whether it
// was; rel is its URL path below the mount.
func (s *Server) serveSVN(w http.ResponseWriter, r *http.Request, rel string) bool {
	if !svn.Wants(r, rel) {
		return false
	}
	s.svn.ServeHTTP(w, r, rel)
	return true
}

// svnAccess answers package svn's questions with the server's rules.
type svnAccess struct{ s *Server }

func (a svnAccess) CanRead(r *http.Request, p verso.Path) bool { return a.s.readable(r, p) }
func (a svnAccess) Anonymous(r *http.Request) bool             { return a.s.user(r) == "" }
func (a svnAccess) User(r *http.Request) string                { return a.s.user(r) }

// CanWrite lets svn change p (and, with tree, everything below it) where
// WebDAV and the API may: it takes read and write rights.
func (a svnAccess) CanWrite(r *http.Request, p verso.Path, tree bool) bool {
	if tree {
		return a.s.auth.AllowedTree(a.s.user(r), p, auth.Read|auth.Write)
	}
	return a.s.auth.Allowed(a.s.user(r), p, auth.Read|auth.Write)
}

// svnLocks gives svn lock and unlock the WebDAV locks (davlock.go).
type svnLocks struct{ s *Server }

func (l svnLocks) Lock(ctx context.Context, p verso.Path, owner, meta string) (string, error) {
	lk, err := l.s.locks.Create(ctx, dav.Lock{Root: p, Owner: owner, Meta: meta})
	if errors.Is(err, dav.ErrLocked) {
		return "", svn.ErrLocked
	}
	return lk.Token, err
}

func (l svnLocks) Unlock(ctx context.Context, p verso.Path, token string, force bool) error {
	if !force {
		err := l.s.locks.Unlock(ctx, p, token)
		if errors.Is(err, dav.ErrNoSuchLock) {
			return svn.ErrNoLock
		}
		return err
	}
	if err := l.s.locks.Sync(ctx); err != nil {
		return err
	}
	for _, lk := range l.s.locks.Covering(p) {
		if lk.Root == p {
			if err := l.s.locks.Unlock(ctx, p, lk.Token); err != nil && !errors.Is(err, dav.ErrNoSuchLock) {
				return err
			}
		}
	}
	return nil
}

// Confirm brings this server's copy of the lock table up to date once,
// then checks every scope against it.
func (l svnLocks) Confirm(ctx context.Context, scopes []svn.LockScope, tokens []string) error {
	if err := l.s.locks.Sync(ctx); err != nil {
		return err
	}
	// This check supersedes any the request made before: a MERGE that is
	// planned again checks its new changes.
	lockChecksOf(ctx).forget()
	return l.s.checkLocks(ctx, func() error {
		for _, sc := range scopes {
			if l.s.locks.Confirm(sc.Path, sc.Subtree, sc.Membership, tokens) != nil {
				return &svn.LockedError{Path: sc.Path}
			}
		}
		return nil
	})
}

// Commit commits txn after the checks Confirm made for the same request,
// checking again if a lock was granted since (lockcommit.go).
func (l svnLocks) Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	return l.s.commitTxn(ctx, txn)
}

func (l svnLocks) Held(p verso.Path, below bool) []svn.HeldLock {
	var out []svn.HeldLock
	for _, lk := range l.s.locks.Covering(p) {
		if lk.Root == p {
			out = append(out, svn.HeldLock{Path: lk.Root, Token: lk.Token, Owner: lk.Owner, Meta: lk.Meta})
		}
	}
	if below {
		for _, lk := range l.s.locks.Below(p) {
			if lk.Root != p {
				out = append(out, svn.HeldLock{Path: lk.Root, Token: lk.Token, Owner: lk.Owner, Meta: lk.Meta})
			}
		}
	}
	return out
}
