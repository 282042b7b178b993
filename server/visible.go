package server

// Revisions as a user sees them. A namespace's TreeRev moves with every
// change below it, including changes to paths the user may not read; what
// verso reports to the user (a listing's revision and ETag, an export's,
// a long-poll's index and wake-up) moves only with changes the user may
// read, so that none of it tells when a hidden path changes.

import (
	"errors"
	"net/http"
	"sync"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/watchhub"
)

// visiblyChanged reports whether commit c changed p, or anything below it,
// that the user may read.
func (s *Server) visiblyChanged(r *http.Request, c *verso.Commit, p verso.Path) bool {
	return s.visiblyChangedOf(s.user(r), c, p)
}

// visiblyChangedOf is visiblyChanged for user ("" for anonymous).
func (s *Server) visiblyChangedOf(user string, c *verso.Commit, p verso.Path) bool {
	if s.auth == nil {
		return true // the hub hands out only commits that touched p
	}
	v := s.visibleCommitOf(user, c)
	return v != nil && visibleTouches(v, p)
}

// visibleChange returns the revision of e (read as of rev) as the user may
// see it: its TreeRev when the user may read everything below it, otherwise
// the last revision that changed something at or below it that the user
// may read (0 if the history the store retains has none).
//
// The latter is read from the log, back past the commits that changed only
// hidden paths. At head it is remembered per user and path, with the
// TreeRev it was read at, so the next request reads only the commits that
// came since.
func (s *Server) visibleChange(r *http.Request, e *verso.Entry, rev verso.Revision) (verso.Revision, error) {
	user := s.user(r)
	if s.auth.AllowedTree(user, e.Path, Read.rights()) {
		return e.TreeRev, nil
	}
	if e.TreeRev == 0 {
		return 0, nil // nothing was ever committed (a Log before 0 would read from the head)
	}
	if rev != verso.Head {
		v, _, err := s.visibleLastCommit(r, e.Path, e.TreeRev, 0)
		return v, err
	}
	vr := &s.visibleRevs
	gen := s.auth.Generation()
	key := visibleKey{user: user, path: e.Path}
	known, ok := vr.get(gen, key)
	switch {
	case ok && known.asOf == e.TreeRev:
		return known.rev, nil
	case ok && known.asOf > e.TreeRev:
		known, ok = visibleRev{}, false // e is older than what is known: read it afresh
	}
	v, found, err := s.visibleLastCommit(r, e.Path, e.TreeRev, known.asOf)
	if err != nil {
		return 0, err
	}
	if !found {
		v = known.rev // nothing the user may read changed since
	}
	vr.put(gen, key, visibleRev{rev: v, asOf: e.TreeRev})
	return v, nil
}

// visibleLastCommit returns the newest revision in (after, before] that
// changed p or anything below it that the user may read, and whether there
// is one in the history the store retains.
func (s *Server) visibleLastCommit(r *http.Request, p verso.Path, before, after verso.Revision) (verso.Revision, bool, error) {
	q := verso.LogQuery{Path: p, Before: before, Limit: 16}
	for {
		page, err := s.store.Log(r.Context(), q)
		if err != nil {
			if errors.Is(err, verso.ErrGone) {
				return 0, false, nil
			}
			return 0, false, err
		}
		for _, c := range page {
			if c.Rev <= after {
				return 0, false, nil
			}
			if s.visiblyChanged(r, c, p) {
				return c.Rev, true, nil
			}
		}
		if len(page) < q.Limit || page[len(page)-1].Rev <= 1 {
			return 0, false, nil
		}
		q.Before = page[len(page)-1].Rev - 1
		q.Limit = min(2*q.Limit, watchhub.LogPage)
	}
}

// maxVisibleRevs caps the paths visibleRevs remembers; when full, it
// forgets them all and starts again.
const maxVisibleRevs = 4096

// visibleRevs remembers visibleChange's answers at head.
type visibleRevs struct {
	mu  sync.Mutex
	gen uint64 // the generation of the users and rules they hold under
	m   map[visibleKey]visibleRev
}

type visibleKey struct {
	user string
	path verso.Path
}

// visibleRev is the revision of a path as a user sees it (rev), as of the
// path's TreeRev asOf.
type visibleRev struct {
	rev, asOf verso.Revision
}

func (v *visibleRevs) get(gen uint64, k visibleKey) (visibleRev, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gen != gen {
		return visibleRev{}, false
	}
	e, ok := v.m[k]
	return e, ok
}

func (v *visibleRevs) put(gen uint64, k visibleKey, e visibleRev) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gen != gen || v.m == nil || len(v.m) >= maxVisibleRevs {
		v.gen, v.m = gen, map[visibleKey]visibleRev{}
	}
	if old, ok := v.m[k]; !ok || old.asOf < e.asOf {
		v.m[k] = e
	}
}
