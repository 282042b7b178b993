package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/fastlane"
)

// allowedMethods is the Allow header of the tree.
const allowedMethods = "OPTIONS, GET, HEAD, PUT, POST, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK"

// serveTree serves a request below the mount point. rel is the decoded URL
// path below the mount ("" or "/" for the root namespace).
func (s *Server) serveTree(w http.ResponseWriter, r *http.Request, rel string) {
	p, err := s.requestPath(r, rel)
	if err == nil {
		err = s.authorize(r, p, methodAccess(r.Method))
	}
	if err == nil {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			err = s.handleGet(w, r, p)
		case http.MethodPut:
			err = s.handlePut(w, r, p)
		case http.MethodPost:
			err = s.handleImport(w, r, p) // a JSON or YAML document (import.go)
		case http.MethodDelete:
			err = s.handleDelete(w, r, p)
		case "MKCOL":
			err = s.handleMkcol(w, r, p)
		case "COPY", "MOVE":
			err = s.handleCopyMove(w, r, p)
		case "PROPFIND":
			err = s.handlePropfind(w, r, p)
		case "PROPPATCH":
			err = s.handleProppatch(w, r, p)
		case "LOCK":
			err = s.handleLock(w, r, p)
		case "UNLOCK":
			err = s.handleUnlock(w, r, p)
		case http.MethodOptions:
			err = s.handleOptions(w, r, p)
		default:
			err = errorf(http.StatusMethodNotAllowed, "method %s is not supported here", r.Method)
		}
	}
	if err != nil {
		writeError(w, r, s.log, err)
	}
}

// methodAccess is the access a method needs on its request path. COPY and
// MOVE also need write access to their destination, checked by the handler.
func methodAccess(method string) Access {
	switch method {
	case http.MethodGet, http.MethodHead, "PROPFIND", http.MethodOptions, "COPY":
		return Read
	}
	return Write
}

// requestPath turns the URL path below the mount into a verso.Path, refusing
// anything ParsePath refuses and encoded slashes, which would otherwise let
// "a%2Fb" name a different key than it seems to.
func (s *Server) requestPath(r *http.Request, rel string) (verso.Path, error) {
	if raw := r.URL.RawPath; raw != "" && strings.Contains(strings.ToLower(raw), "%2f") {
		return "", errorf(http.StatusBadRequest, "invalid path: encoded '/' (%%2F) is not allowed in a path")
	}
	p, err := verso.ParsePath(rel)
	if err != nil {
		return "", withStatus(http.StatusBadRequest, err)
	}
	return p, nil
}

// href returns the URL path of p (escaped), with a trailing slash for
// namespaces, as WebDAV clients expect for collections.
func (s *Server) href(p verso.Path, namespace bool) string {
	var b strings.Builder
	b.WriteString(s.mount)
	if p != verso.Root {
		for _, seg := range strings.Split(string(p[1:]), "/") {
			b.WriteByte('/')
			b.WriteString(url.PathEscape(seg))
		}
	}
	if namespace || p == verso.Root {
		b.WriteByte('/')
	}
	return b.String()
}

// message returns the commit message for a write: the client's, from
// HeaderMessage, or one that names the method and path.
func message(r *http.Request, generated string) (string, error) {
	m := r.Header.Get(HeaderMessage)
	if m == "" {
		return generated, nil
	}
	if len(m) > maxMessageLen || !utf8.ValidString(m) {
		return "", errorf(http.StatusBadRequest, "%s must be valid UTF-8 of at most %d bytes", HeaderMessage, maxMessageLen)
	}
	if u, err := url.PathUnescape(m); err == nil && utf8.ValidString(u) {
		m = u // lets clients send non-ASCII messages percent-encoded
	}
	return m, nil
}

// author returns the user a write is attributed to: the authenticated
// user, "" for anonymous (access.go).
func (s *Server) author(r *http.Request) string { return s.user(r) }

// commit runs one transaction for a request, with the request's author and
// message (generated from the method and path unless the client set one),
// and on success tells the client the new revision in HeaderRevision.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, generated string, ops ...verso.Op) (*verso.Commit, error) {
	msg, err := message(r, generated)
	if err != nil {
		return nil, err
	}
	c, err := s.commitTxn(r.Context(), &verso.Txn{Author: s.author(r), Message: msg, Ops: ops})
	if err != nil {
		return nil, err
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(c.Rev), 10))
	return c, nil
}

// current returns the entry at p at the head, or nil if there is none. A
// write's checks (preconditions, 404, 201 or 204) read it, so it is a
// consistent read on a cluster store (consistent.go).
func (s *Server) current(r *http.Request, p verso.Path) (*verso.Entry, error) {
	e, err := s.getConsistent(r.Context(), p)
	if errors.Is(err, verso.ErrNotFound) {
		return nil, nil
	}
	return e, err
}

func (s *Server) handleOptions(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	h := w.Header()
	h.Set("DAV", "1, 2")
	h.Set("MS-Author-Via", "DAV")
	h.Set("Allow", allowedMethods)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// handlePut creates or replaces a key: 201 when created, 204 when replaced.
func (s *Server) handlePut(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	if s.importsOnPut(r, p) { // a JSON or YAML document to a namespace (import.go)
		return s.handleImport(w, r, p)
	}
	if p == verso.Root {
		return errorf(http.StatusMethodNotAllowed, "%s is the root namespace; PUT writes keys", s.href(p, true))
	}
	if r.ContentLength > s.max {
		return errorf(http.StatusRequestEntityTooLarge, "value of %d bytes exceeds the limit of %d bytes", r.ContentLength, s.max)
	}
	cur, err := s.current(r, p)
	if err != nil {
		return err
	}
	if cur != nil && cur.IsNamespace() {
		return errorf(http.StatusMethodNotAllowed, "%s is a namespace; PUT writes keys", s.href(p, true))
	}
	pre, err := s.preconditions(r, p, cur, lockWrite{path: p, membership: cur == nil})
	if err != nil {
		return err
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "value exceeds the limit of %d bytes", s.max)
		}
		return withStatus(http.StatusBadRequest, fmt.Errorf("read body: %w", err))
	}
	c, err := s.commit(w, r, "PUT "+string(p), verso.Op{
		Kind: verso.OpPut, Path: p, Value: value, ContentType: contentType(r, value), If: pre.guard(cur),
	})
	if err != nil {
		return s.explainNoParent(r, p, err)
	}
	fastlane.SetPutHeader(w.Header(), c.Rev) // as the fast lane's answer
	if len(c.Changes) > 0 && c.Changes[0].Action == verso.Added {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// explainNoParent turns a missing parent namespace into the ancestor's
// answer: 409, with what to do about it.
func (s *Server) explainNoParent(r *http.Request, p verso.Path, err error) error {
	if errors.Is(err, verso.ErrNoParent) {
		parent := p.Parent()
		return &statusError{status: http.StatusConflict, err: err, msg: fmt.Sprintf(
			"namespace %s does not exist; create it first: curl -XMKCOL http://%s%s",
			s.href(parent, true), r.Host, strings.TrimSuffix(s.href(parent, true), "/"))}
	}
	if errors.Is(err, verso.ErrNotNamespace) {
		return &statusError{status: http.StatusConflict, err: err, msg: fmt.Sprintf(
			"%s is a key, not a namespace: it cannot hold %s", s.href(p.Parent(), false), p.Base())}
	}
	return err
}

// contentType is the media type stored with a value: the client's, unless it
// is absent or curl's form default, in which case verso detects one.
func contentType(r *http.Request, value []byte) string {
	return detectType(r.Header.Get("Content-Type"), value)
}

// detectType is contentType given the Content-Type header's value.
func detectType(ct string, value []byte) string {
	if ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return http.DetectContentType(value)
	}
	return ct
}

// handleMkcol creates a namespace: 201, 405 if the path exists, 409 without
// a parent, 415 with a body (MKCOL bodies are not supported).
func (s *Server) handleMkcol(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 1))
		if n > 0 || r.ContentLength > 0 {
			return errorf(http.StatusUnsupportedMediaType, "MKCOL with a body is not supported")
		}
	}
	cur, err := s.current(r, p)
	if err != nil {
		return err
	}
	if cur != nil {
		return errorf(http.StatusMethodNotAllowed, "%s already exists", s.href(p, cur.IsNamespace()))
	}
	if _, err := s.preconditions(r, p, nil, lockWrite{path: p, membership: true}); err != nil {
		return err
	}
	if _, err := s.commit(w, r, "MKCOL "+string(p), verso.Op{Kind: verso.OpMkcol, Path: p}); err != nil {
		if errors.Is(err, verso.ErrExists) {
			return withStatus(http.StatusMethodNotAllowed, err)
		}
		return s.explainNoParent(r, p, err)
	}
	w.Header().Set("Location", s.href(p, true))
	w.WriteHeader(http.StatusCreated)
	return nil
}

// handleDelete removes a key, or a namespace and everything below it, in one
// revision: 204.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	if d := r.Header.Get("Depth"); d != "" && !strings.EqualFold(d, "infinity") {
		return errorf(http.StatusBadRequest, "DELETE takes Depth: infinity only")
	}
	if err := s.authorizeTree(r, p, Write); err != nil {
		return err
	}
	cur, err := s.current(r, p)
	if err != nil {
		return err
	}
	if cur == nil {
		return &verso.PathError{Op: "delete", Path: p, Err: verso.ErrNotFound}
	}
	pre, err := s.preconditions(r, p, cur, lockWrite{path: p, subtree: true, membership: true})
	if err != nil {
		return err
	}
	if _, err := s.commit(w, r, "DELETE "+string(p), verso.Op{Kind: verso.OpDelete, Path: p, If: pre.guard(cur)}); err != nil {
		return err
	}
	s.removeLocks(r, p)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleCopyMove copies or moves p (a key, or a namespace with what is below
// it) to the Destination, in one revision: 201 if the destination was new,
// 204 if it was replaced.
func (s *Server) handleCopyMove(w http.ResponseWriter, r *http.Request, src verso.Path) error {
	move := r.Method == "MOVE"
	dst, err := s.destination(r)
	if err != nil {
		return err
	}
	overwrite := true
	switch r.Header.Get("Overwrite") {
	case "", "T", "t":
	case "F", "f":
		overwrite = false
	default:
		return errorf(http.StatusBadRequest, "Overwrite must be T or F")
	}
	depth := verso.Infinite
	switch d := r.Header.Get("Depth"); {
	case d == "" || strings.EqualFold(d, "infinity"):
	case d == "0" && !move:
		depth = 0
	default:
		return errorf(http.StatusBadRequest, "%s takes Depth: infinity%s", r.Method, map[bool]string{false: " or 0", true: ""}[move])
	}
	if err := s.authorizeCopyMove(r, src, dst, move, depth); err != nil {
		return err
	}
	cur, err := s.current(r, src)
	if err != nil {
		return err
	}
	if cur == nil {
		return &verso.PathError{Op: strings.ToLower(r.Method), Path: src, Err: verso.ErrNotFound}
	}
	if src.Contains(dst) || dst.Contains(src) {
		return errorf(http.StatusForbidden, "source %s and destination %s overlap", s.href(src, false), s.href(dst, false))
	}
	old, err := s.current(r, dst)
	if err != nil {
		return err
	}
	if old != nil && !overwrite {
		return errorf(http.StatusPreconditionFailed, "destination %s exists and Overwrite is F", s.href(dst, old.IsNamespace()))
	}
	// Conditions (If-Match, If) name the source; they are checked against
	// its state just read. Locks protect the destination, and for a move
	// the source too.
	pre, err := s.preconditions(r, src, cur, lockWrite{path: dst, subtree: true, membership: true})
	if err != nil {
		return err
	}
	if move {
		err := s.checkLocks(r.Context(), func() error { return s.locks.Confirm(src, true, true, pre.tokens) })
		if err != nil {
			return err
		}
	}
	kind := verso.OpCopy
	if move {
		kind = verso.OpMove
	}
	ops := []verso.Op{{Kind: kind, Path: dst, From: src, Depth: depth, Overwrite: overwrite}}
	if pre.conditional {
		// The conditions held for the source as just read; the check makes
		// the copy or move apply only if it is still in that state.
		ops = append([]verso.Op{{Kind: verso.OpCheck, Path: src, If: pre.guard(cur)}}, ops...)
	}
	if _, err := s.commit(w, r, fmt.Sprintf("%s %s to %s", r.Method, src, dst), ops...); err != nil {
		if errors.Is(err, verso.ErrExists) {
			return withStatus(http.StatusPreconditionFailed, err)
		}
		return s.explainNoParent(r, dst, err)
	}
	if move {
		s.removeLocks(r, src)
	}
	w.Header().Set("Location", s.href(dst, cur.IsNamespace()))
	if old != nil {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// destination parses the Destination header of COPY and MOVE: an absolute
// URL on this server or an absolute path, below the mount point.
func (s *Server) destination(r *http.Request) (verso.Path, error) {
	d := r.Header.Get("Destination")
	if d == "" {
		return "", errorf(http.StatusBadRequest, "%s needs a Destination header", r.Method)
	}
	u, err := url.Parse(d)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "Destination is not a URL: %v", err)
	}
	if u.Host != "" && u.Host != r.Host {
		return "", errorf(http.StatusBadGateway, "Destination %s is on another server", d)
	}
	rel, ok := s.inMount(u.Path)
	if !ok {
		return "", errorf(http.StatusForbidden, "Destination %s is outside %s/", u.Path, s.mount)
	}
	if u.RawPath != "" && strings.Contains(strings.ToLower(u.RawPath), "%2f") {
		return "", errorf(http.StatusBadRequest, "invalid Destination: encoded '/' (%%2F) is not allowed in a path")
	}
	p, err := verso.ParsePath(rel)
	if err != nil {
		return "", withStatus(http.StatusBadRequest, fmt.Errorf("invalid Destination: %w", err))
	}
	return p, nil
}
