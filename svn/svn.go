// Package svn lets the Subversion command-line client read a verso tree at
// the URL plain HTTP clients use (http://HOST/config), as it read the tree
// of verso's ancestor, Apache httpd with mod_dav_svn. It speaks the svn
// client's side of mod_dav_svn's HTTP protocol (version 2, svn 1.7 and
// later): the OPTIONS handshake, PROPFIND of nodes and revisions, GET of a
// file at a revision, and the REPORTs behind checkout, update, switch,
// status -u, export, log, diff, blame, ls and info (reports.go;
// update.go and update_edit.go). It reads through the verso.Store
// interface alone.
//
// Mapping: verso revision N is svn revision N; namespaces are directories
// and keys are files; a commit's author, time and message are svn:author,
// svn:date and svn:log; dead properties are svn properties (package
// internal/svnfs, which svnadmin dump streams share).
//
// Writes (commit.go, proppatch.go, merge.go): svn commit and the commands
// that commit (mkdir, rm, cp, mv, import, propset on URLs) are taken as
// transactions held in memory until svn's MERGE commits each as one verso
// revision; svn lock and unlock take the server's WebDAV locks (lock.go).
// Texts travel as svndiff deltas (package internal/svndiff). History moves
// in and out as svnadmin dump streams: that is package internal/svndump,
// not this one.
package svn

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// Access says what the user of a request may read. The server implements
// it with its users and path rules; a path the user may not read is left
// out of every answer, as mod_dav_svn with mod_authz_svn leaves it out.
type Access interface {
	// CanRead reports whether the user of r may read p.
	CanRead(r *http.Request, p verso.Path) bool
	// Anonymous reports whether r carries no authenticated user: a
	// refusal then asks for credentials (401) instead of refusing (403).
	Anonymous(r *http.Request) bool
	// CanWrite reports whether the user of r may change p and, with
	// tree, everything below it (a delete).
	CanWrite(r *http.Request, p verso.Path, tree bool) bool
	// User returns the authenticated user of r, "" for anonymous: the
	// author of its commits.
	User(r *http.Request) string
}

// Options configure a Handler.
type Options struct {
	// Mount is the URL path of the tree, without a trailing slash ("" for
	// the root); svn's repository root URL.
	Mount string
	// Access decides what each request may read; nil lets everyone read
	// everything.
	Access Access
	// Realm is the Basic realm of the challenge a refused anonymous
	// request gets.
	Realm string
	// Logger receives errors the client cannot be told about.
	Logger *slog.Logger
	// UUID is the repository UUID; default one derived from Mount (see
	// Handler.UUID).
	UUID string
	// MaxBody caps a request body, in bytes; default 16 MiB (an update
	// report lists every path of a mixed-revision working copy).
	MaxBody int64
	// MaxValueSize is the largest file text a commit may carry, in bytes;
	// default 1 MiB.
	MaxValueSize int64
	// Locks are the server's write locks (svn lock and unlock, and
	// commits held off by them); nil refuses svn lock.
	Locks Locks
}

// Handler answers the svn client's requests under the mount point.
type Handler struct {
	store verso.Store
	o     Options

	uuid string    // see UUID
	txns *txnTable // open commits (commit.go)

}

// New returns a Handler reading store.
func New(store verso.Store, o Options) *Handler {
	o.Mount = strings.TrimSuffix(o.Mount, "/")
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 16 << 20
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = 1 << 20
	}
	h := &Handler{store: store, o: o, uuid: o.UUID, txns: &txnTable{m: map[string]*txn{}}}
	if j, ok := store.(verso.Journals); ok {
		h.txns.j = j // servers sharing the store share open commits (txn.go)
	}
	if h.uuid == "" {
		h.uuid = nameUUID("verso svn repository " + o.Mount)
	}
	return h
}

// The XML namespaces of the protocol.
const (
	nsDAV     = "DAV:"
	nsSVN     = "svn:"                                    // reports
	nsSVNDAV  = "http://subversion.tigris.org/xmlns/dav/" // svn's live properties
	nsSVNProp = svnfs.NSSVNProp                           // svn:* properties
	nsCustom  = svnfs.NSCustom                            // other properties
)

// Wants reports whether r, whose URL path below the mount is rel, is an
// svn client's and so for this package rather than verso's WebDAV: a
// request for one of svn's special URIs (MOUNT/!svn/...), any REPORT
// (verso's WebDAV has none), an OPTIONS, PROPFIND, LOCK or UNLOCK from an
// svn client (its User-Agent starts with "SVN/" or "SVNKit/"), an OPTIONS
// that announces svn's capabilities in a DAV header, and a PROPFIND that
// asks for svn's properties (its body names svn's XML namespaces: Wants
// reads the start of it and puts it back), and any MERGE (svn's commit;
// verso's WebDAV has none). svn lock's LOCK takes the same WebDAV locks
// (lock.go). Nothing a plain
// WebDAV client or curl sends matches.
func Wants(r *http.Request, rel string) bool {
	if rel == "/!svn" || strings.HasPrefix(rel, "/!svn/") {
		return true
	}
	switch r.Method {
	case "REPORT", "MERGE":
		return true
	case http.MethodOptions, "PROPFIND", "LOCK", "UNLOCK":
	default:
		return false
	}
	if ua := r.Header.Get("User-Agent"); strings.HasPrefix(ua, "SVN/") || strings.HasPrefix(ua, "SVNKit/") {
		return true
	}
	switch r.Method {
	case http.MethodOptions:
		for _, v := range r.Header.Values("DAV") {
			if strings.Contains(v, "http://subversion.tigris.org/xmlns/dav/svn/") {
				return true
			}
		}
	case "PROPFIND":
		return sniffBody(r, "http://subversion.tigris.org/xmlns/")
	}
	return false
}

// sniffBody reports whether the first 4 KiB of r's body contain marker,
// leaving the body as it was for whoever reads it next.
func sniffBody(r *http.Request, marker string) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	buf := make([]byte, 4096)
	n, err := io.ReadFull(r.Body, buf)
	buf = buf[:n]
	rest := r.Body
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), rest), rest}
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false
	}
	return bytes.Contains(buf, []byte(marker))
}

// ServeHTTP answers one svn request; rel is its URL path below the mount.
// The request's user has been authenticated already.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, rel string) {
	res, err := parseURI(rel)
	if err == nil {
		err = h.serve(w, r, res)
	}
	if err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, res resource) error {
	if ok, err := h.serveWrite(w, r, res); ok {
		return err
	}
	if res.kind == kindWrite || isWriteMethod(r.Method) {
		return errNoCommit
	}
	switch r.Method {
	case http.MethodOptions:
		return h.options(w, r, res)
	case "PROPFIND":
		return h.propfind(w, r, res)
	case "REPORT":
		return h.report(w, r, res)
	case http.MethodGet, http.MethodHead:
		return h.get(w, r, res)
	}
	return &Error{Status: http.StatusMethodNotAllowed, Code: errUnsupported,
		Msg: fmt.Sprintf("method %s is not supported on %s", r.Method, res.uri)}
}

// isWriteMethod reports whether method is one of the svn client's writes.
func isWriteMethod(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodDelete, "MKACTIVITY", "CHECKOUT",
		"PROPPATCH", "MERGE", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK":
		return true
	}
	return false
}

// errNoCommit answers the write side of the protocol, which verso does not
// take yet.
var errNoCommit = &Error{Status: http.StatusNotImplemented, Code: errUnsupported,
	Msg: "verso does not take this request from svn: it speaks HTTP protocol version 2 (svn 1.7 and later; see docs/svn.md)"}

// UUID returns the repository UUID svn records in working copies and
// checks on every later command. verso stores none, and it must never
// change (not with the first commit, nor when --keep-for prunes old
// revisions) and be the same on every server of a cluster, so it is
// derived from the repository root: a name-based UUID of the mount point.
// Two verso services with the same mount point share it (svn relocate
// between them is not refused); Options.UUID sets another.
func (h *Handler) UUID(ctx context.Context) string {
	return h.uuid
}

// nameUUID returns a version-5 style UUID of seed.
func nameUUID(seed string) string {
	sum := sha1.Sum([]byte(seed))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// canRead reports whether r's user may read p.
func (h *Handler) canRead(r *http.Request, p verso.Path) bool {
	return h.o.Access == nil || h.o.Access.CanRead(r, p)
}

// mustRead returns nil if r's user may read p, otherwise the refusal: 401
// with a challenge for an anonymous request, 403 for a user.
func (h *Handler) mustRead(r *http.Request, p verso.Path) error {
	if h.canRead(r, p) {
		return nil
	}
	if h.o.Access.Anonymous(r) {
		return &Error{Status: http.StatusUnauthorized, Code: errNotAuthorized,
			Msg: fmt.Sprintf("authentication required to read %s", p)}
	}
	return &Error{Status: http.StatusForbidden, Code: errUnreadable,
		Msg: fmt.Sprintf("access to %s forbidden", p)}
}

// head returns the newest revision.
func (h *Handler) head(ctx context.Context) (verso.Revision, error) {
	return h.store.Head(ctx)
}

// revAt resolves a revision of a request (Head for "HEAD") against head.
func (h *Handler) revAt(ctx context.Context, rev verso.Revision) (verso.Revision, error) {
	head, err := h.head(ctx)
	if err != nil {
		return 0, err
	}
	switch {
	case rev == verso.Head:
		return head, nil
	case rev < 0 || rev > head:
		return 0, &Error{Status: http.StatusNotFound, Code: errNoSuchRevision,
			Msg: fmt.Sprintf("No such revision %d", rev)}
	}
	return rev, nil
}

// href returns the URL path of repository path p at revision rev under
// the stub ("rvr", "bc", "ver").
func (h *Handler) href(stub string, rev verso.Revision, p verso.Path) string {
	s := h.o.Mount + "/!svn/" + stub + "/" + strconv.FormatInt(int64(rev), 10)
	if p != verso.Root {
		s += escapePath(string(p))
	} else {
		s += "/"
	}
	return s
}

// publicHref returns the URL path of p at head.
func (h *Handler) publicHref(p verso.Path) string {
	if p == verso.Root {
		return h.o.Mount + "/"
	}
	return h.o.Mount + escapePath(string(p))
}

// escapePath percent-encodes a path for a URL, keeping its slashes.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || c == '-' || c == '_' || c == '.' || c == '~' || c == '!' || c == ':' || c == '@' ||
			c == '+' || c == ',' || c == '=' || c == '$' || c == '(' || c == ')' || c == '\'' || c == '*' ||
			('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
