package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/dav"
)

// lockWrite describes what a write changes, for the lock check: the path,
// whether everything below it changes too (DELETE, MOVE, an overwritten
// destination), and whether its parent's membership changes (it is created
// or removed).
type lockWrite struct {
	path       verso.Path
	subtree    bool
	membership bool
}

// checked is what preconditions found.
type checked struct {
	// tokens are the lock tokens the request submitted (in its If header).
	tokens []string
	// conditional is true when the request made its write depend on the
	// state it names (If-Match, If-None-Match, If-Unmodified-Since, or an
	// If header).
	conditional bool
}

// guard returns the store condition that makes a conditional write atomic:
// it applies only if the path is still in the state the conditions were
// checked against. An unconditional write gets no guard, so two plain PUTs
// never fail each other.
func (c checked) guard(cur *verso.Entry) verso.Cond {
	switch {
	case !c.conditional:
		return verso.Cond{}
	case cur == nil:
		return verso.Cond{Absent: true}
	case cur.ModRev > 0:
		return verso.Cond{ModRev: cur.ModRev}
	default:
		return verso.Cond{Exists: true}
	}
}

// preconditions checks a write's conditions against cur, the current entry
// at p (nil if none): the HTTP ones (If-Match, If-None-Match,
// If-Unmodified-Since: 412 when false), WebDAV's If header (400 when
// malformed, 412 when false), and then the locks on what the write changes
// (423 unless the request submitted their tokens). cur must come from
// s.current of the same request: on a cluster, that consistent read has
// also brought the shared lock table up to date (verso.LockTable), so the
// If header's tokens and the lock check see every lock granted before the
// request, through any server.
func (s *Server) preconditions(r *http.Request, p verso.Path, cur *verso.Entry, lw lockWrite) (checked, error) {
	var c checked
	h := r.Header
	if im := h.Get("If-Match"); im != "" {
		c.conditional = true
		if cur == nil || !etagMatch(im, cur.ETag()) {
			return c, errorf(http.StatusPreconditionFailed, "If-Match %s does not match %s", im, s.describe(p, cur))
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		c.conditional = true
		if cur != nil && (strings.TrimSpace(inm) == "*" || etagMatch(inm, cur.ETag())) {
			return c, errorf(http.StatusPreconditionFailed, "If-None-Match %s matches %s", inm, s.describe(p, cur))
		}
	}
	if ius := h.Get("If-Unmodified-Since"); ius != "" && cur != nil {
		c.conditional = true
		if t, err := http.ParseTime(ius); err == nil && cur.ModTime.Truncate(time.Second).After(t) {
			return c, errorf(http.StatusPreconditionFailed, "%s was modified after %s", s.href(p, cur.IsNamespace()), ius)
		}
	}
	if ih := h.Get("If"); ih != "" {
		ifh, err := dav.ParseIfHeader(ih)
		if err != nil {
			return c, errorf(http.StatusBadRequest, "malformed If header: %v", err)
		}
		// A header that holds whatever the state only submits tokens: the
		// write does not depend on the state it was checked against.
		c.conditional = c.conditional || !ifh.AlwaysHolds()
		if !ifh.Eval(p, s.resolveTag(r), s.resourceState(r)) {
			return c, errorf(http.StatusPreconditionFailed, "the If header's conditions do not hold for %s", s.href(p, cur != nil && cur.IsNamespace()))
		}
		c.tokens = ifh.Tokens()
	}
	tokens := c.tokens
	err := s.checkLocks(r.Context(), func() error {
		if err := s.locks.Confirm(lw.path, lw.subtree, lw.membership, tokens); err != nil {
			return errLockedAt(s.href(lw.path, false), err)
		}
		return nil
	})
	return c, err
}

// errLockedAt says which path a missing lock token protects.
func errLockedAt(href string, err error) error {
	return &statusError{status: http.StatusLocked, err: err, msg: href + " is locked; submit the lock token in an If header"}
}

// describe names p and its ETag, or says it does not exist, for messages.
func (s *Server) describe(p verso.Path, cur *verso.Entry) string {
	if cur == nil {
		return s.href(p, false) + " (which does not exist)"
	}
	return s.href(p, cur.IsNamespace()) + " (ETag " + cur.ETag() + ")"
}

// etagMatch reports whether an If-Match or If-None-Match list names etag.
// "*" matches any existing entity; weak tags compare by their opaque part.
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// resolveTag turns a resource tag of an If header (an absolute URL or path)
// into a path of the tree; tags elsewhere do not resolve.
func (s *Server) resolveTag(r *http.Request) func(string) (verso.Path, bool) {
	return func(tag string) (verso.Path, bool) {
		u, err := url.Parse(tag)
		if err != nil || (u.Host != "" && u.Host != r.Host) {
			return "", false
		}
		rel, ok := s.inMount(u.Path)
		if !ok {
			return "", false
		}
		p, err := verso.ParsePath(rel)
		return p, err == nil
	}
}

// resourceState reports a resource's ETag, the tokens of the locks covering
// it, and whether it exists, for evaluating If headers. A resource the
// request's user may not read is reported as one that does not exist and
// that no lock covers, whatever its state: otherwise the answer to a
// conditional write would tell the user whether it exists, its ETag (and
// so its last change) and whether a lock holds it.
func (s *Server) resourceState(r *http.Request) func(verso.Path) (string, []string, bool) {
	return func(p verso.Path) (string, []string, bool) {
		if !s.readable(r, p) {
			return "", nil, false
		}
		var tokens []string
		for _, l := range s.locks.Covering(p) {
			tokens = append(tokens, l.Token)
		}
		e, err := s.store.Get(r.Context(), p, verso.Head)
		if err != nil {
			return "", tokens, false
		}
		return e.ETag(), tokens, true
	}
}
