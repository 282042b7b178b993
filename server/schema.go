package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/schema"
)

// Namespace schemas over HTTP: PUT, GET and DELETE /api/v1/schema?path=/NS.
// The schema of /NS is the key /NS/.schema (verso.SchemaKey), so these are
// commits like any other; the rules (the schema compiles, the namespace
// validates) are checked inside the store's commit (internal/plan).

// handleSchema dispatches /api/v1/schema by method.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request) {
	var err error
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = s.handleSchemaGet(w, r)
	case http.MethodPut:
		err = s.handleSchemaPut(w, r)
	case http.MethodDelete:
		err = s.handleSchemaDelete(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		err = errorf(http.StatusMethodNotAllowed, "%s takes GET, PUT or DELETE, not %s", r.URL.Path, r.Method)
	}
	if err != nil {
		writeError(w, r, s.log, err)
	}
}

// schemaNamespace reads ?path= and returns the namespace and its schema
// key's path.
func schemaNamespace(r *http.Request) (ns, key verso.Path, err error) {
	ns, err = queryPath(r.URL.Query().Get("path"))
	if err != nil {
		return "", "", err
	}
	return ns, verso.SchemaOf(ns), nil
}

// handleSchemaGet answers the schema of a namespace (at ?rev=, default the
// head): 404 when it has none.
func (s *Server) handleSchemaGet(w http.ResponseWriter, r *http.Request) error {
	ns, key, err := schemaNamespace(r)
	if err != nil {
		return err
	}
	if err := s.authorize(r, key, Read); err != nil {
		return err
	}
	rev := verso.Head
	if v := r.URL.Query().Get("rev"); v != "" {
		if rev, err = verso.ParseRevision(v); err != nil {
			return withStatus(http.StatusBadRequest, err)
		}
	}
	var e *verso.Entry
	if rev == verso.Head {
		e, err = s.getConsistent(r.Context(), key)
	} else {
		e, err = s.store.Get(r.Context(), key, rev)
	}
	if errors.Is(err, verso.ErrNotFound) {
		return errorf(http.StatusNotFound, "namespace %s has no schema", ns)
	}
	if err != nil {
		return err
	}
	if e.IsNamespace() {
		return errorf(http.StatusNotFound, "namespace %s has no schema", ns)
	}
	h := w.Header()
	h.Set("Content-Type", "application/schema+json")
	h.Set("ETag", e.ETag())
	h.Set(HeaderRevision, strconv.FormatInt(int64(e.ModRev), 10))
	h.Set("Content-Length", strconv.Itoa(len(e.Value)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, err = w.Write(e.Value)
	}
	return err
}

// handleSchemaPut sets the schema of a namespace: one commit writing its
// schema key, refused with 400 if the body does not compile and with 422
// if the namespace's content does not validate against it.
func (s *Server) handleSchemaPut(w http.ResponseWriter, r *http.Request) error {
	ns, key, err := schemaNamespace(r)
	if err != nil {
		return err
	}
	if err := s.authorize(r, key, Write); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, schema.MaxSize+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "a schema is at most %d bytes", schema.MaxSize)
		}
		return withStatus(http.StatusBadRequest, err)
	}
	// The commit compiles it too (every write of a schema key does); doing
	// it first gives a clearer answer than the commit's.
	if _, err := schema.Compile(body); err != nil {
		return withStatus(http.StatusBadRequest, err)
	}
	op := verso.Op{Kind: verso.OpPut, Path: key, Value: body, ContentType: "application/schema+json"}
	if err := s.confirmOps(r, []verso.Op{op}, nil); err != nil { // locks (apilocks.go)
		return err
	}
	c, err := s.commit(w, r, "SCHEMA SET "+string(ns), op)
	if errors.Is(err, verso.ErrNoParent) {
		return errorf(http.StatusNotFound, "no namespace %s", ns)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

// handleSchemaDelete removes the schema of a namespace: 404 if it has none.
func (s *Server) handleSchemaDelete(w http.ResponseWriter, r *http.Request) error {
	ns, key, err := schemaNamespace(r)
	if err != nil {
		return err
	}
	if err := s.authorize(r, key, Write); err != nil {
		return err
	}
	op := verso.Op{Kind: verso.OpDelete, Path: key}
	if err := s.confirmOps(r, []verso.Op{op}, nil); err != nil { // locks (apilocks.go)
		return err
	}
	c, err := s.commit(w, r, "SCHEMA RM "+string(ns), op)
	if errors.Is(err, verso.ErrNotFound) {
		return errorf(http.StatusNotFound, "namespace %s has no schema", ns)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

// visible returns the violations the user of r may see: those at paths
// they may read, and one line without a path when there were others.
func (s *Server) visible(r *http.Request, vs []verso.Violation) []verso.Violation {
	var out []verso.Violation
	hidden := false
	for _, v := range vs {
		if s.readable(r, v.Path) && s.readable(r, v.Namespace) {
			out = append(out, v)
		} else {
			hidden = true
		}
	}
	if hidden {
		out = append(out, verso.Violation{Message: "values the user may not read do not validate either"})
	}
	return out
}

// schemaErrorJSON is the body of a commit refused by a schema (422), on
// every surface: the violations, one per failing value.
type schemaErrorJSON struct {
	Status     int               `json:"status"`
	Error      string            `json:"error"`
	Violations []verso.Violation `json:"violations"`
}

// writeSchemaError answers a commit that a namespace's schema refused, if
// err is one, and reports whether it did. Violations at paths the user may
// not read are left out (a message can quote the failing value), and one
// line without a path says that there were some.
func writeSchemaError(w http.ResponseWriter, r *http.Request, err error) bool {
	var se *verso.SchemaError
	if !errors.As(err, &se) {
		return false
	}
	vs := se.Violations
	if ri, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok && ri.srv != nil {
		vs = ri.srv.visible(r, vs)
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, http.StatusUnprocessableEntity, schemaErrorJSON{
		Status: http.StatusUnprocessableEntity, Error: verso.ErrSchema.Error(), Violations: vs,
	})
	return true
}
