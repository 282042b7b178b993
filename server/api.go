package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/verso-config/verso"
)

// apiPrefix is where the JSON API lives, beside the tree.
const apiPrefix = "/api/v1/"

// apiHandler is a JSON API handler: it writes its answer, or returns an
// error for writeError.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// routes registers the JSON API. Each endpoint has one method; any other
// gets a JSON 405 naming it, and an unknown endpoint a JSON 404.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(method, pattern string, h apiHandler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			var err error
			if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
				if method == http.MethodPost {
					err = checkJSONBody(r) // a form cannot send JSON (origin.go)
				}
				if err == nil {
					err = h(w, r)
				}
			} else {
				w.Header().Set("Allow", method)
				err = errorf(http.StatusMethodNotAllowed, "%s takes %s, not %s", r.URL.Path, method, r.Method)
			}
			if err != nil {
				writeError(w, r, s.log, err)
			}
		})
	}
	handle("GET", "/api/v1/log", s.handleLog)
	handle("GET", "/api/v1/revisions/{rev}", s.handleRevision)
	handle("GET", "/api/v1/diff", s.handleDiff)
	handle("POST", "/api/v1/revert", s.handleRevert)
	handle("GET", "/api/v1/watch", s.handleWatch)
	handle("POST", "/api/v1/txn", s.handleTxn)
	handle("GET", "/api/v1/backup", s.handleBackup)
	handle("GET", "/api/v1/list", s.handleList)      // browse.go
	handle("GET", "/api/v1/access", s.handleAccess)  // browse.go
	mux.HandleFunc("/api/v1/schema", s.handleSchema) // schema.go
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, errorf(http.StatusNotFound, "no API endpoint %s (see docs/HTTP.md)", r.URL.Path))
	})
	return mux
}

// logJSON is the answer of GET /api/v1/log.
type logJSON struct {
	Path    verso.Path      `json:"path"`
	Head    verso.Revision  `json:"head"`
	Commits []*verso.Commit `json:"commits"`
	// Next is the "before" value that fetches the next page; absent on the
	// last page.
	Next *verso.Revision `json:"next,omitempty"`
	// HistoryStart is where the store's history starts: the log has no
	// commit below it, since older ones were pruned. Absent when the store
	// cannot say (it does not prune).
	HistoryStart *verso.Revision `json:"history_start,omitempty"`
}

// maxLogLimit caps one page of the log.
const maxLogLimit = 1000

// handleLog answers GET /api/v1/log?path=P&limit=N&before=REV: newest
// first, the commits that changed P or anything below it.
func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := queryPath(q.Get("path"))
	if err != nil {
		return err
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLogLimit {
			return errorf(http.StatusBadRequest, "limit must be a number from 1 to %d", maxLogLimit)
		}
		limit = n
	}
	before := verso.Head
	if v := q.Get("before"); v != "" {
		if before, err = verso.ParseRevision(v); err != nil {
			return withStatus(http.StatusBadRequest, err)
		}
	}
	head, err := s.store.Head(r.Context())
	if err != nil {
		return err
	}
	if before > head {
		return errorf(http.StatusNotFound, "revision %d is beyond the head (%d)", before, head)
	}
	// Only what the user may read (access.go).
	commits, err := s.visibleLog(r, verso.LogQuery{Path: p, Before: before, Limit: limit + 1})
	if err != nil {
		return err
	}
	out := logJSON{Path: p, Head: head, Commits: []*verso.Commit{}}
	for i, c := range commits {
		if i == limit {
			next := commits[i-1].Rev - 1
			out.Next = &next
			break
		}
		out.Commits = append(out.Commits, c)
	}
	if hs, ok := s.store.(verso.HistoryStarter); ok {
		start, err := hs.HistoryStart(r.Context())
		if err != nil {
			return err
		}
		out.HistoryStart = &start
	}
	return writeJSON(w, http.StatusOK, out)
}

// handleRevision answers GET /api/v1/revisions/N with one commit in full.
func (s *Server) handleRevision(w http.ResponseWriter, r *http.Request) error {
	rev, err := verso.ParseRevision(r.PathValue("rev"))
	if err != nil {
		return withStatus(http.StatusBadRequest, err)
	}
	if rev == verso.Head {
		if rev, err = s.store.Head(r.Context()); err != nil {
			return err
		}
	}
	c, err := s.store.Revision(r.Context(), rev)
	if err != nil {
		return err
	}
	if c = s.visibleCommit(r, c); c == nil { // only paths the user may read (access.go)
		return s.denied(r, fmt.Sprintf("read any path r%d changed", rev))
	}
	return writeJSON(w, http.StatusOK, c)
}

// queryPath parses a path given as a query parameter ("" is the root).
func queryPath(v string) (verso.Path, error) {
	p, err := verso.ParsePath(v)
	if err != nil {
		return "", withStatus(http.StatusBadRequest, err)
	}
	return p, nil
}

// writeJSON writes v as the JSON body of a response.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// readJSON decodes a request body of at most max bytes into v, refusing
// unknown fields and trailing data.
func readJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", max)
		}
		return errorf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid JSON body: more than one value")
	}
	return nil
}
