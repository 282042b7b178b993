package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
)

// Access is what a request wants to do with a path.
type Access int

// The kinds of access a rule can grant.
const (
	Read Access = iota + 1
	Write
)

func (a Access) rights() auth.Access {
	if a == Write {
		return auth.Write
	}
	return auth.Read
}

func (a Access) verb() string {
	if a == Write {
		return "write"
	}
	return "read"
}

// userKey is the context key of the request's authenticated user.
type userKey struct{}

// identify authenticates r once, for every check that follows: it returns
// r with its user ("" for anonymous) in the context, or the error that
// refuses it (401 for wrong credentials, 429 while the client's failed
// logins are slowed down).
func (s *Server) identify(r *http.Request) (*http.Request, error) {
	user, err := s.auth.Authenticate(r)
	var le *auth.LimitError
	switch {
	case errors.As(err, &le):
		return r, &statusError{status: http.StatusTooManyRequests, msg: le.Error(), err: err}
	case err != nil:
		return r, &statusError{status: http.StatusUnauthorized, msg: "wrong user name or password", err: err}
	}
	// The access log, written once the answer is out, learns the verified
	// user through the request's context (see noteUser).
	noteUser(r.Context(), user)
	return r.WithContext(context.WithValue(r.Context(), userKey{}, user)), nil
}

// user returns the authenticated user of r, "" for anonymous.
func (s *Server) user(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

// authorize is the one gate every surface goes through: it returns nil if
// the request's user may have access a to p, and otherwise an error that
// writeError turns into 401 (no user yet) or 403. Surfaces that list paths
// (PROPFIND, listings, the log, diff, watch, export) call readable for each
// path instead, leaving out what the user may not see.
//
// Without users and rules (Options.Auth nil), everyone may do everything.
func (s *Server) authorize(r *http.Request, p verso.Path, a Access) error {
	if s.auth.Allowed(s.user(r), p, a.rights()) {
		return nil
	}
	return s.denied(r, fmt.Sprintf("%s %s", a.verb(), p))
}

// authorizeTree is authorize for p and everything below it: what a DELETE,
// a MOVE or an overwriting COPY changes, and what a COPY of a namespace
// reads.
func (s *Server) authorizeTree(r *http.Request, p verso.Path, a Access) error {
	if s.auth.AllowedTree(s.user(r), p, a.rights()) {
		return nil
	}
	return s.denied(r, fmt.Sprintf("%s %s and everything below it", a.verb(), p))
}

// readable reports whether the request's user may read p. A path that is
// not readable must not appear anywhere in an answer, not even as a name.
func (s *Server) readable(r *http.Request, p verso.Path) bool {
	return s.authorize(r, p, Read) == nil
}

// anonymousCanRead reports whether a request without credentials may read
// p: what authorize(r, p, Read) says for a request with no Authorization
// header. The fast lane (front.go) asks it for every GET it answers
// itself, so it must stay cheap and must not allocate; requests with
// credentials always go through ServeHTTP.
func (s *Server) anonymousCanRead(p verso.Path) bool {
	return s.auth.Allowed("", p, auth.Read)
}

// denied is the refusal of what: 401 with a Basic challenge for an
// anonymous request (a user might be allowed), 403 for a user who is not.
func (s *Server) denied(r *http.Request, what string) error {
	if u := s.user(r); u != "" {
		return errorf(http.StatusForbidden, "user %s may not %s", u, what)
	}
	return errorf(http.StatusUnauthorized, "authentication required to %s", what)
}

// authHeaders adds what an authentication error needs to its answer: the
// Basic challenge on a 401, Retry-After on a 429. writeError calls it.
func authHeaders(h http.Header, status int, err error) {
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Basic realm="`+auth.Realm+`", charset="UTF-8"`)
	case http.StatusTooManyRequests:
		var le *auth.LimitError
		if errors.As(err, &le) {
			h.Set("Retry-After", strconv.Itoa(int(le.RetryAfter.Seconds()+0.999)))
		}
	}
}

// authorizeCopyMove checks the rights a COPY or MOVE of src to dst needs:
// reading src (with everything below it, unless depth is 0), writing dst
// and everything below it (an overwrite replaces it), and for a move
// writing src and everything below it.
func (s *Server) authorizeCopyMove(r *http.Request, src, dst verso.Path, move bool, depth int) error {
	var err error
	if depth == 0 {
		err = s.authorize(r, src, Read)
	} else {
		err = s.authorizeTree(r, src, Read)
	}
	if err == nil && move {
		err = s.authorizeTree(r, src, Write)
	}
	if err == nil {
		err = s.authorizeTree(r, dst, Write)
	}
	return err
}

// hidden returns a function that tells, for the paths of a pre-order walk
// below an authorized path, which to leave out of an answer: the paths the
// user may not read, and everything below them.
func (s *Server) hidden(r *http.Request) func(verso.Path) bool {
	var below verso.Path // the last namespace left out, "" for none
	return func(p verso.Path) bool {
		if below != "" && below.Contains(p) {
			return true
		}
		if !s.readable(r, p) {
			below = p
			return true
		}
		return false
	}
}

// visibleCommit returns c as the user may see it: without the changed
// paths they may not read, without copy sources they may not read, and
// without the message when some paths were left out (as svn hides svn:log
// of a revision the user may read only part of, since generated messages
// name paths). It returns nil when the user may read none of the paths.
func (s *Server) visibleCommit(r *http.Request, c *verso.Commit) *verso.Commit {
	return s.visibleCommitOf(s.user(r), c)
}

// visibleCommitOf is visibleCommit for user ("" for anonymous).
func (s *Server) visibleCommitOf(user string, c *verso.Commit) *verso.Commit {
	if s.auth == nil {
		return c
	}
	readable := func(p verso.Path) bool { return s.auth.Allowed(user, p, Read.rights()) }
	out := *c
	out.Changes = make([]verso.Change, 0, len(c.Changes))
	for _, ch := range c.Changes {
		if !readable(ch.Path) {
			continue
		}
		if ch.From != "" && !readable(ch.From) {
			ch.From, ch.FromRev, ch.Action = "", 0, verso.Added
		}
		out.Changes = append(out.Changes, ch)
	}
	switch {
	case len(c.Changes) > 0 && len(out.Changes) == 0:
		return nil
	case len(out.Changes) < len(c.Changes):
		out.Message = ""
	}
	return &out
}

// visibleLog is Store.Log as the user may see it (see visibleCommit): up to
// q.Limit commits with something the user may read, fetching further back
// as far as it takes.
func (s *Server) visibleLog(r *http.Request, q verso.LogQuery) ([]*verso.Commit, error) {
	if s.auth == nil {
		return s.store.Log(r.Context(), q)
	}
	var out []*verso.Commit
	for {
		commits, err := s.store.Log(r.Context(), q)
		if err != nil {
			return nil, err
		}
		for _, c := range commits {
			if v := s.visibleCommit(r, c); v != nil && visibleTouches(v, q.Path) {
				out = append(out, v)
				if q.Limit > 0 && len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if q.Limit == 0 || len(commits) < q.Limit || commits[len(commits)-1].Rev <= 1 {
			return out, nil
		}
		q.Before = commits[len(commits)-1].Rev - 1
	}
}

// visibleTouches reports whether c, as the user sees it, changed p or anything
// below it: a commit in the log of p only for paths the user may not read
// is left out.
func visibleTouches(c *verso.Commit, p verso.Path) bool {
	if len(c.Changes) == 0 || p == verso.Root || p == "" {
		return true
	}
	for _, ch := range c.Changes {
		if p.Contains(ch.Path) || (ch.From != "" && p.Contains(ch.From)) {
			return true
		}
	}
	return false
}

// authorizeOps checks that the user may make every change of a revert:
// write each path it changes (and everything below a path it deletes), and
// read each one, since its old state is what is restored. The refusal names
// no path: some may be ones the user may not even see.
func (s *Server) authorizeOps(r *http.Request, ops []verso.Op) error {
	if s.auth == nil {
		return nil
	}
	user := s.user(r)
	for _, op := range ops {
		ok := s.auth.Allowed(user, op.Path, auth.Read|auth.Write)
		if op.Kind == verso.OpDelete {
			ok = ok && s.auth.AllowedTree(user, op.Path, auth.Read|auth.Write)
		}
		if op.From != "" {
			ok = ok && s.auth.AllowedTree(user, op.From, auth.Read)
		}
		if !ok {
			return s.denied(r, "read and write every path this revert changes")
		}
	}
	return nil
}

// authorizeCommit checks that the user may read and write every path that
// commit c changed, before it is undone.
func (s *Server) authorizeCommit(r *http.Request, c *verso.Commit) error {
	if s.auth == nil {
		return nil
	}
	user := s.user(r)
	for _, ch := range c.Changes {
		if !s.auth.Allowed(user, ch.Path, auth.Read|auth.Write) {
			return s.denied(r, fmt.Sprintf("read and write every path r%d changed", c.Rev))
		}
	}
	return nil
}
