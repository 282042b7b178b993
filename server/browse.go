package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
)

// browseJSON is the answer of GET /api/v1/list: one page of a namespace's
// children with who changed each last and when.
type browseJSON struct {
	Path verso.Path `json:"path"`
	// Revision is the namespace's TreeRev as of the revision read.
	Revision verso.Revision `json:"revision"`
	// Head is the revision the listing was read at.
	Head verso.Revision `json:"head"`
	// Total counts the readable children that match the filter.
	Total   int               `json:"total"`
	Entries []browseEntryJSON `json:"entries"`
	// Next is the "after" value of the next page, absent on the last one.
	Next string `json:"next,omitempty"`
}

type browseEntryJSON struct {
	Name        string     `json:"name"`
	Kind        verso.Kind `json:"kind"`
	Size        int        `json:"size"`
	ContentType string     `json:"content_type,omitempty"`
	// Revision is the last revision that changed the key (for a namespace,
	// anything below it); Author and Time are that revision's.
	Revision verso.Revision `json:"revision"`
	Author   string         `json:"author"`
	Time     time.Time      `json:"time"`
}

// maxListLimit caps one page of GET /api/v1/list.
const maxListLimit = 1000

// handleList answers GET /api/v1/list?path=P&after=NAME&limit=N&match=S&rev=R:
// the children of namespace P (names after NAME, in name order, at most N,
// those whose name contains S), with size, last revision, author and time.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := queryPath(q.Get("path"))
	if err != nil {
		return err
	}
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return errorf(http.StatusBadRequest, "limit must be a number from 1 to %d", maxListLimit)
		}
		limit = n
	}
	after, match := q.Get("after"), strings.ToLower(q.Get("match"))
	rev := verso.Head
	if v := q.Get("rev"); v != "" {
		if rev, err = verso.ParseRevision(v); err != nil {
			return withStatus(http.StatusBadRequest, err)
		}
	}
	if err := s.authorize(r, p, Read); err != nil {
		return err
	}
	ctx := r.Context()
	head := rev
	if rev == verso.Head {
		if head, err = s.store.Head(ctx); err != nil {
			return err
		}
	}
	out := browseJSON{Path: p, Head: head, Entries: []browseEntryJSON{}}
	var namespaces []int // entries whose author and time are their TreeRev's
	err = s.store.Walk(ctx, p, head, 1, func(e *verso.Entry) error {
		if e.Path == p {
			if !e.IsNamespace() {
				return errorf(http.StatusConflict, "%s is a key, not a namespace", p)
			}
			out.Revision = e.TreeRev
			return nil
		}
		name := e.Path.Base()
		if (match != "" && !strings.Contains(strings.ToLower(name), match)) || !s.readable(r, e.Path) {
			return nil
		}
		out.Total++
		if name <= after && after != "" || len(out.Entries) > limit {
			return nil
		}
		if len(out.Entries) == limit {
			out.Next = out.Entries[limit-1].Name
			out.Entries = append(out.Entries, browseEntryJSON{}) // marks the page full
			return nil
		}
		be := browseEntryJSON{Name: name, Kind: e.Kind, Size: len(e.Value), ContentType: e.ContentType,
			Revision: e.TreeRev, Author: e.ModBy, Time: e.ModTime}
		if e.IsNamespace() && e.TreeRev != e.ModRev {
			namespaces = append(namespaces, len(out.Entries))
		}
		out.Entries = append(out.Entries, be)
		return nil
	})
	if err != nil {
		return err
	}
	if len(out.Entries) > limit {
		out.Entries = out.Entries[:limit]
	}
	// A namespace's last change is below it: its author and time are
	// those of that commit, looked up once per revision, if the user may
	// read any path it changed (access.go); otherwise, and when that
	// history was pruned, the namespace's own last change.
	commits := map[verso.Revision]*verso.Commit{}
	for _, i := range namespaces {
		e := &out.Entries[i]
		c, ok := commits[e.Revision]
		if !ok {
			if c, err = s.store.Revision(ctx, e.Revision); err == nil {
				c = s.visibleCommit(r, c)
			} else {
				c = nil
			}
			commits[e.Revision] = c
		}
		if c != nil {
			e.Author, e.Time = c.Author, c.Time
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// accessJSON is the answer of GET /api/v1/access.
type accessJSON struct {
	Path verso.Path `json:"path"`
	// User is the authenticated user, "" for anonymous.
	User string `json:"user"`
	// Users is true when the server has users, so that signing in may
	// give more rights.
	Users bool `json:"users"`
	Read  bool `json:"read"`
	Write bool `json:"write"`
	// WriteTree is write access to the path and everything below it (what
	// a DELETE of a namespace needs).
	WriteTree bool `json:"write_tree"`
}

// handleAccess answers GET /api/v1/access?path=P: what the caller may do
// with P, so that a client shows only the controls it may use (the server
// refuses anyway). With login=1 an anonymous caller gets 401 and a Basic
// challenge, so that a browser asks for a user; a signed-in one is sent on
// to the console (303 to /ui/).
func (s *Server) handleAccess(w http.ResponseWriter, r *http.Request) error {
	p, err := queryPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	user := s.user(r)
	if r.URL.Query().Get("login") != "" {
		if user == "" && s.auth.HasUsers() {
			return errorf(http.StatusUnauthorized, "sign in to use the console")
		}
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return nil
	}
	out := accessJSON{Path: p, User: user, Users: s.auth.HasUsers(), Read: s.readable(r, p)}
	out.Write = s.authorize(r, p, Write) == nil
	out.WriteTree = out.Write && s.authorizeTree(r, p, Write) == nil
	return writeJSON(w, http.StatusOK, out)
}
