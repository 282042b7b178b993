package svn

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svndiff"
	"github.com/verso-config/verso/internal/svnfs"
)

// The write side of the protocol (version 2): a POST to !svn/me opens a
// transaction and names it; PUT, MKCOL, DELETE, PROPPATCH and COPY under
// !svn/txr/NAME/ add to it; PROPPATCH of !svn/txn/NAME sets its log
// message; MERGE commits it; DELETE of !svn/txn/NAME drops it.
//
// Nothing reaches the tree before the MERGE: a transaction is a list of
// verso operations, checked as it grows (access, sizes, out-of-date
// bases), and committed as one verso.Txn, so one svn commit is one verso
// revision, or none. It is held in memory, and on a store that several
// servers share in the store's journals too, so that its requests may
// reach any of them (txn.go).

// Limits of a transaction.
const (
	// maxTxns is the most transactions open at once.
	maxTxns = 256
	// maxTxnOps is the most operations one transaction may hold.
	maxTxnOps = 100000
	// maxTxnBytes caps the values one transaction holds.
	maxTxnBytes = 256 << 20
	// maxOpenBytes caps the values all open transactions hold together.
	maxOpenBytes = 512 << 20
	// txnIdle is how long an open transaction lives without requests.
	txnIdle = time.Hour
)

// errFSConflict is SVN_ERR_FS_CONFLICT: the client says the item is out
// of date. errFSExists is SVN_ERR_FS_ALREADY_EXISTS, errChecksum
// SVN_ERR_CHECKSUM_MISMATCH, errForbidden SVN_ERR_AUTHZ_UNWRITABLE.
const (
	errFSConflict = 160024
	errFSExists   = 160020
	errChecksum   = 200014
	errForbidden  = 220004 // SVN_ERR_AUTHZ_UNWRITABLE
	// errCommitRule is SVN_ERR_REPOS_HOOK_FAILURE: what Subversion
	// answers when a pre-commit hook refuses a commit, as a namespace's
	// schema does.
	errCommitRule = 165001
)

func (h *Handler) userOf(r *http.Request) string {
	if h.o.Access == nil {
		return ""
	}
	return h.o.Access.User(r)
}

// serveWrite answers the requests of the write side; it reports false for
// a request that is not one of them.
func (h *Handler) serveWrite(w http.ResponseWriter, r *http.Request, res resource) (bool, error) {
	switch {
	case r.Method == http.MethodPost && res.kind == kindMe:
		return true, h.createTxn(w, r)
	case r.Method == "MERGE":
		return true, h.merge(w, r, res)
	case r.Method == "COPY" && res.kind == kindNode:
		return true, h.copy(w, r, res)
	case r.Method == "LOCK" && res.kind == kindNode:
		return true, h.lock(w, r, res)
	case r.Method == "UNLOCK" && res.kind == kindNode:
		return true, h.unlock(w, r, res)
	case res.kind != kindWrite:
		return false, nil
	case res.stub == "txn" && r.Method == http.MethodDelete:
		return true, h.abortTxn(w, r, res)
	case res.stub == "txn" && r.Method == "PROPPATCH":
		return true, h.revprops(w, r, res)
	case res.stub == "txr":
		switch r.Method {
		case http.MethodPut:
			return true, h.put(w, r, res)
		case "MKCOL":
			return true, h.mkcol(w, r, res)
		case http.MethodDelete:
			return true, h.delete(w, r, res)
		case "PROPPATCH":
			return true, h.proppatch(w, r, res)
		}
	}
	return false, nil
}

// mustWrite returns nil if r's user may change p (and, with tree,
// everything below it), otherwise the refusal naming p.
func (h *Handler) mustWrite(r *http.Request, p verso.Path, tree bool) error {
	if h.o.Access == nil || h.o.Access.CanWrite(r, p, tree) {
		return nil
	}
	if h.o.Access.Anonymous(r) {
		return &Error{Status: http.StatusUnauthorized, Code: errNotAuthorized,
			Msg: fmt.Sprintf("authentication required to write %s", p)}
	}
	return &Error{Status: http.StatusForbidden, Code: errForbidden,
		Msg: fmt.Sprintf("access to %s forbidden: you may not write it, so nothing of this commit was written", p)}
}

// createTxn answers POST !svn/me: ( create-txn ) or
// ( create-txn-with-props ( NAME VALUE ... ) ).
func (h *Handler) createTxn(w http.ResponseWriter, r *http.Request) error {
	if h.o.Access != nil && h.o.Access.Anonymous(r) && !h.o.Access.CanWrite(r, verso.Root, false) {
		// ask for credentials now, so that the whole commit is the user's
		return &Error{Status: http.StatusUnauthorized, Code: errNotAuthorized, Msg: "authentication required to commit"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return err
	}
	sk, err := parseSkel(body)
	if err != nil || !sk.isList || len(sk.list) == 0 || sk.list[0].isList {
		return badRequest("the POST body is not an svn request skel")
	}
	rec := &txnRec{Kind: recOpen, User: h.userOf(r)}
	switch sk.list[0].atom {
	case "create-txn":
	case "create-txn-with-props":
		if len(sk.list) != 2 || !sk.list[1].isList || len(sk.list[1].list)%2 != 0 {
			return badRequest("create-txn-with-props wants one list of names and values")
		}
		props := sk.list[1].list
		for i := 0; i < len(props); i += 2 {
			if props[i].isList || props[i+1].isList {
				return badRequest("create-txn-with-props wants one list of names and values")
			}
			if err := setRevprop(&rec.Log, props[i].atom, props[i+1].atom); err != nil {
				return err
			}
		}
	default:
		return &Error{Status: http.StatusBadRequest, Code: errUnsupported, Msg: fmt.Sprintf("unknown POST request %q", sk.list[0].atom)}
	}
	if rec.Base, err = h.store.Head(r.Context()); err != nil {
		return err
	}
	t := newTxn()
	if err := h.openTxn(r.Context(), t, rec); err != nil {
		return err
	}
	w.Header().Set("SVN-Txn-Name", t.name)
	w.Header().Set("Location", h.o.Mount+"/!svn/txn/"+t.name)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// setRevprop sets a revision property of a transaction whose log message
// is *log: verso keeps svn:log as the commit's message; svn:author and
// svn:date are verso's own.
func setRevprop(log *string, name, value string) error {
	switch name {
	case "svn:log":
		if !utf8Valid(value) {
			return badRequest("svn:log must be UTF-8")
		}
		*log = value
		return nil
	case "svn:author", "svn:date":
		return nil // the authenticated user and the commit's time
	}
	return &Error{Status: http.StatusForbidden, Code: errUnsupported,
		Msg: fmt.Sprintf("verso keeps no revision property %q: a commit has an author, a date and a log message only", name)}
}

// abortTxn answers DELETE !svn/txn/NAME.
func (h *Handler) abortTxn(w http.ResponseWriter, r *http.Request, res resource) error {
	t, err := h.txnOf(r, res.txn)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	if t.merging {
		return errMerging
	}
	if h.txns.j != nil {
		if err := h.txns.j.DropJournal(r.Context(), t.journal); err != nil {
			return err
		}
	}
	h.txns.drop(t)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revprops answers PROPPATCH !svn/txn/NAME: the log message.
func (h *Handler) revprops(w http.ResponseWriter, r *http.Request, res resource) error {
	set, remove, err := h.readPropertyUpdate(w, r)
	if err != nil {
		return err
	}
	return h.withTxn(r, res.txn, func(t *txn) error {
		rec := &txnRec{Kind: recLog, Log: t.log}
		for _, p := range set {
			if err := setRevprop(&rec.Log, p.svnName(), p.value); err != nil {
				return err
			}
		}
		for _, p := range remove {
			if p.svnName() == "svn:log" {
				rec.Log = ""
			}
		}
		if rec.Log != t.log {
			if err := h.record(r.Context(), t, rec); err != nil {
				return err
			}
		}
		writePropstatOK(w, h.o.Mount+"/!svn/txn/"+t.name)
		return nil
	})
}

// writePropstatOK answers a PROPPATCH that did all it was asked.
func writePropstatOK(w http.ResponseWriter, href string) {
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	b := newXW()
	b.raw(xmlHeader + `<D:multistatus xmlns:D="DAV:"><D:response><D:href>`)
	b.text(href)
	b.raw(`</D:href><D:propstat><D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>` + "\n")
	w.Write(b.bytes())
}

// versionName returns the base revision a request names in
// X-SVN-Version-Name, or 0 if none.
func versionName(r *http.Request) (verso.Revision, error) {
	v := r.Header.Get("X-SVN-Version-Name")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if n == -1 {
		return 0, nil // SVN_INVALID_REVNUM: no base
	}
	if err != nil || n < 0 {
		return 0, badRequest("invalid X-SVN-Version-Name %q", v)
	}
	return verso.Revision(n), nil
}

// outOfDate is the refusal of a change based on an old revision.
func outOfDate(p verso.Path, kind string) *Error {
	return &Error{Status: http.StatusConflict, Code: errFSConflict,
		Msg: fmt.Sprintf("%s '%s' is out of date; try updating", kind, p)}
}

// inTxn reports whether p or one of its parents was made in t (so the
// store cannot tell its base), and returns the copy it lies in, if any.
func (t *txn) inTxn(p verso.Path) (made bool, src copySource, rel string, copied bool) {
	for q := p; ; q = q.Parent() {
		if t.added[q] {
			made = true
		}
		if c, ok := t.copies[q]; ok {
			return true, c, strings.TrimPrefix(string(p), string(q)), true
		}
		if q == verso.Root {
			return made, copySource{}, "", false
		}
	}
}

// room refuses n more operations if t would pass maxTxnOps.
func (t *txn) room(n int) error {
	if len(t.ops)+n > maxTxnOps {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: errBadRequest,
			Msg: fmt.Sprintf("a commit holds at most %d changes", maxTxnOps)}
	}
	return nil
}

// baseText returns the text a PUT's delta applies to: the key as this
// transaction left it, as the copy it lies in had it, or as it is in the
// store; exists is false for a new key.
func (h *Handler) baseText(r *http.Request, t *txn, p verso.Path, base verso.Revision) (e *verso.Entry, text []byte, exists bool, err error) {
	if v, ok := t.values[p]; ok {
		return nil, v, true, nil
	}
	if _, ok := t.deleted[p]; ok && !t.added[p] {
		return nil, nil, false, nil
	}
	made, src, rel, copied := t.inTxn(p)
	switch {
	case copied:
		sp := verso.Path(string(src.path) + rel)
		e, err := h.store.Get(r.Context(), sp, src.rev)
		if errors.Is(err, verso.ErrNotFound) {
			return nil, nil, false, nil
		}
		if err != nil {
			return nil, nil, false, err
		}
		return e, e.Value, e.Kind == verso.KindKey, nil
	case made:
		return nil, nil, false, nil
	}
	e, err = h.store.Get(r.Context(), p, verso.Head)
	if errors.Is(err, verso.ErrNotFound) {
		if base > 0 {
			return nil, nil, false, outOfDate(p, "File")
		}
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if e.Kind != verso.KindKey {
		return nil, nil, false, &Error{Status: http.StatusConflict, Code: errFSExists,
			Msg: fmt.Sprintf("'%s' is a directory", p)}
	}
	if base > 0 && e.ModRev > base {
		return nil, nil, false, outOfDate(p, "File")
	}
	if base == 0 {
		return nil, nil, false, &Error{Status: http.StatusConflict, Code: errFSExists,
			Msg: fmt.Sprintf("File '%s' already exists", p)}
	}
	return e, e.Value, true, nil
}

// put answers PUT !svn/txr/NAME/PATH: a file's new text as an svndiff
// against its base.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, res resource) error {
	p := res.path
	if p == verso.Root {
		return badRequest("cannot write text to the root directory")
	}
	if err := h.mustWrite(r, p, false); err != nil {
		return err
	}
	base, err := versionName(r)
	if err != nil {
		return err
	}
	delta, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 2*h.o.MaxValueSize+(1<<20)))
	if err != nil {
		return err
	}
	return h.withTxn(r, res.txn, func(t *txn) error {
		e, baseText, exists, err := h.baseText(r, t, p, base)
		if err != nil {
			return err
		}
		tokens, err := h.confirmLocks(r, t, verso.Op{Kind: verso.OpPut, Path: p}, !exists)
		if err != nil {
			return err
		}
		if want := r.Header.Get("X-SVN-Base-Fulltext-MD5"); want != "" && exists && svnfs.MD5Hex(baseText) != want {
			return &Error{Status: http.StatusConflict, Code: errChecksum,
				Msg: fmt.Sprintf("base checksum mismatch on '%s': the text changed since; try updating", p)}
		}
		value, err := svndiff.Apply(delta, baseText, h.o.MaxValueSize)
		if errors.Is(err, svndiff.ErrTooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: errBadRequest,
				Msg: fmt.Sprintf("'%s' is larger than the largest value verso takes, %d bytes (--max-value-size)", p, h.o.MaxValueSize)}
		}
		if err != nil {
			return &Error{Status: http.StatusBadRequest, Code: errBadRequest, Msg: fmt.Sprintf("invalid svndiff for '%s': %v", p, err)}
		}
		if want := r.Header.Get("X-SVN-Result-Fulltext-MD5"); want != "" && svnfs.MD5Hex(value) != want {
			return &Error{Status: http.StatusBadRequest, Code: errChecksum,
				Msg: fmt.Sprintf("checksum mismatch for '%s': the text made is not the one the client sent", p)}
		}
		if t.bytes+int64(len(value)) > maxTxnBytes {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: errBadRequest,
				Msg: fmt.Sprintf("a commit carries at most %d bytes of text", maxTxnBytes)}
		}
		if err := t.room(1); err != nil {
			return err
		}
		op := verso.Op{Kind: verso.OpPut, Path: p, Value: value}
		if e != nil {
			op.ContentType = e.ContentType
		} else {
			op.ContentType = http.DetectContentType(value)
		}
		if made, _, _, _ := t.inTxn(p); !made && exists && e != nil && base > 0 {
			if _, ok := t.values[p]; !ok {
				op.If = verso.Cond{TreeRev: base} // unchanged since the client's base
			}
		}
		if !exists {
			if _, del := t.deleted[p]; !del {
				if made, _, _, _ := t.inTxn(p.Parent()); !made {
					op.If = verso.Cond{Absent: true}
				}
			}
		}
		if !h.txns.reserve(int64(len(value))) {
			return &Error{Status: http.StatusServiceUnavailable, Code: errGeneral,
				Msg: "the commits open on this server hold too much text; retry later"}
		}
		if err := h.record(r.Context(), t, &txnRec{Kind: recPut, Ops: []verso.Op{op}, New: !exists, Tokens: tokens}); err != nil {
			h.txns.reserve(-int64(len(value)))
			return err
		}
		if exists {
			w.WriteHeader(http.StatusNoContent)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
		return nil
	})
}

// mkcol answers MKCOL !svn/txr/NAME/PATH: a new directory.
func (h *Handler) mkcol(w http.ResponseWriter, r *http.Request, res resource) error {
	p := res.path
	if p == verso.Root {
		return &Error{Status: http.StatusConflict, Code: errFSExists, Msg: "the root directory exists"}
	}
	if err := h.mustWrite(r, p, false); err != nil {
		return err
	}
	return h.withTxn(r, res.txn, func(t *txn) error {
		tokens, err := h.confirmLocks(r, t, verso.Op{Kind: verso.OpMkcol, Path: p}, true)
		if err != nil {
			return err
		}
		if err := t.room(1); err != nil {
			return err
		}
		if err := h.record(r.Context(), t, &txnRec{Kind: recMkcol, Ops: []verso.Op{{Kind: verso.OpMkcol, Path: p}}, Tokens: tokens}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	})
}

// delete answers DELETE !svn/txr/NAME/PATH.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, res resource) error {
	p := res.path
	if p == verso.Root {
		return badRequest("cannot delete the root directory")
	}
	if err := h.mustWrite(r, p, true); err != nil {
		return err
	}
	base, err := versionName(r)
	if err != nil {
		return err
	}
	return h.withTxn(r, res.txn, func(t *txn) error {
		tokens, err := h.confirmLocks(r, t, verso.Op{Kind: verso.OpDelete, Path: p}, false)
		if err != nil {
			return err
		}
		op := verso.Op{Kind: verso.OpDelete, Path: p}
		if made, _, _, _ := t.inTxn(p); !made {
			e, err := h.store.Get(r.Context(), p, verso.Head)
			if errors.Is(err, verso.ErrNotFound) {
				return &Error{Status: http.StatusNotFound, Code: errNotFound, Msg: fmt.Sprintf("'%s' path not found", p)}
			}
			if err != nil {
				return err
			}
			kind := "File"
			if e.IsNamespace() {
				kind = "Directory"
			}
			if base > 0 {
				if e.TreeRev > base {
					return outOfDate(p, kind)
				}
				op.If = verso.Cond{TreeRev: base}
			}
		}
		if err := t.room(1); err != nil {
			return err
		}
		if err := h.record(r.Context(), t, &txnRec{Kind: recDelete, Ops: []verso.Op{op}, Tokens: tokens}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// copy answers COPY of a node at a revision (!svn/rvr/REV/PATH) to a path
// of a transaction named in Destination.
func (h *Handler) copy(w http.ResponseWriter, r *http.Request, res resource) error {
	dest := r.Header.Get("Destination")
	dres, err := h.resourceAt(dest, "COPY's Destination")
	if err != nil {
		return err
	}
	if dres.kind != kindWrite || dres.stub != "txr" || dres.path == verso.Root {
		return badRequest("Destination %q is not a path of a transaction", dest)
	}
	depth := verso.Infinite
	switch r.Header.Get("Depth") {
	case "", "infinity":
	case "0":
		depth = 0
	default:
		return badRequest("COPY with Depth %q", r.Header.Get("Depth"))
	}
	src, dst := res.path, dres.path
	ctx := r.Context()
	rev, err := h.revAt(ctx, res.rev)
	if err != nil {
		return err
	}
	if err := h.mustRead(r, src); err != nil {
		return err
	}
	if depth != 0 && h.o.Access != nil && !h.o.Access.CanRead(r, src) {
		return h.mustRead(r, src)
	}
	if err := h.mustWrite(r, dst, true); err != nil {
		return err
	}
	se, err := h.store.Get(ctx, src, rev)
	if err != nil {
		return err
	}
	if se.IsNamespace() && depth == 0 {
		depth = verso.Infinite // svn copies a directory with everything in it
	}
	if se.IsNamespace() && h.o.Access != nil {
		// every path copied must be readable
		if err := h.store.Walk(ctx, src, rev, verso.Infinite, func(e *verso.Entry) error {
			return h.mustRead(r, e.Path)
		}); err != nil {
			return err
		}
	}
	return h.withTxn(r, dres.txn, func(t *txn) error {
		cur, err := h.store.Get(ctx, src, verso.Head)
		if err != nil && !errors.Is(err, verso.ErrNotFound) {
			return err
		}
		tokens, err := h.confirmLocks(r, t, verso.Op{Kind: verso.OpCopy, Path: dst, From: src}, true)
		if err != nil {
			return err
		}
		if made, _, _, _ := t.inTxn(src); made {
			return &Error{Status: http.StatusConflict, Code: errUnsupported,
				Msg: fmt.Sprintf("cannot copy '%s', which this commit makes: commit it first", src)}
		}
		ops, err := svnfs.CopyOps(ctx, h.store, src, dst, rev, depth, se, cur, true)
		if err != nil {
			return err
		}
		if err := t.room(len(ops)); err != nil {
			return err
		}
		at := svnfs.CopyAt(t.deleted, src, len(t.ops))
		if err := h.record(ctx, t, &txnRec{Kind: recCopy, Ops: ops, At: at, Path: dst, From: src, FromRev: rev, Tokens: tokens}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	})
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// resourceAt parses rawURL, which a request names (what says where: "COPY's
// Destination", "MERGE's source"), as a resource below the repository root.
func (h *Handler) resourceAt(rawURL, what string) (resource, error) {
	u, err := url.Parse(rawURL)
	if err != nil || rawURL == "" {
		return resource{}, badRequest("%s is not a URL: %q", what, rawURL)
	}
	rel, ok := strings.CutPrefix(u.Path, h.o.Mount)
	if !ok {
		return resource{}, badRequest("%s %q is not below the repository root", what, rawURL)
	}
	return parseURI(rel)
}
