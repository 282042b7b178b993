package svn

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/dav"
	"github.com/verso-config/verso/internal/svnfs"
)

// Locks are the server's WebDAV write locks, which svn lock takes and
// svn unlock releases: a WebDAV client sees an svn user's lock, and the
// other way round, and both kinds hold off the other's writes. On a
// cluster they are the locks every server shares.
type Locks interface {
	// Lock takes an exclusive lock of p alone for owner (an XML text
	// naming the user and the comment), one that does not expire, keeps
	// meta with it, and returns its token. It fails with ErrLocked if p
	// is locked already.
	Lock(ctx context.Context, p verso.Path, owner, meta string) (token string, err error)
	// Unlock releases the lock of token on p; with force, any lock of p.
	Unlock(ctx context.Context, p verso.Path, token string, force bool) error
	// Confirm returns ErrLocked unless tokens hold every lock that
	// protects the writes of scopes, among the locks granted through any
	// server before the call.
	Confirm(ctx context.Context, scopes []LockScope, tokens []string) error
	// Commit commits txn, whose changes Confirm checked in the same
	// request, so that a lock granted since the check, through any
	// server, still holds off what it locks (its error then is Confirm's).
	Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error)
	// Held returns the locks rooted at p and, with below, under it.
	Held(p verso.Path, below bool) []HeldLock
}

// LockScope is what one change writes, as locks see it (dav.Scope).
type LockScope = dav.Scope

// HeldLock is one lock Locks.Held reports.
type HeldLock struct {
	Path  verso.Path
	Token string
	Owner string // the WebDAV owner text (XML)
	Meta  string // what Lock kept with it
}

// lockMeta is what svn says of a lock svn took, kept with the lock: its
// user, comment and time (a WebDAV lock has only its owner text).
type lockMeta struct {
	User    string    `json:"user"`
	Comment string    `json:"comment,omitempty"`
	Created time.Time `json:"created"`
}

// svnLock is a lock as svn shows it.
type svnLock struct {
	path    verso.Path
	token   string
	owner   string
	comment string
	created time.Time
}

// heldLocks returns the locks at p (and below, with below) that r's user
// may read, as svn shows them.
func (h *Handler) heldLocks(r *http.Request, p verso.Path, below bool) []svnLock {
	if h.o.Locks == nil {
		return nil
	}
	var out []svnLock
	for _, l := range h.o.Locks.Held(p, below) {
		if !h.canRead(r, l.Path) {
			continue
		}
		sl := svnLock{path: l.Path, token: l.Token, owner: svnfs.PropText(l.Owner)}
		var m lockMeta
		if l.Meta != "" && json.Unmarshal([]byte(l.Meta), &m) == nil {
			sl.owner, sl.comment, sl.created = m.User, m.Comment, m.Created
		}
		out = append(out, sl)
	}
	return out
}

// locksReport answers get-locks-report: the locks at and below the path.
func (h *Handler) locksReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	b := newXW()
	for _, l := range h.heldLocks(r, q.path, true) {
		b.raw("<S:lock><S:path>")
		b.text(string(l.path))
		b.raw("</S:path><S:token>")
		b.text(l.token)
		b.raw("</S:token><S:owner>")
		b.text(l.owner)
		b.raw("</S:owner>")
		if l.comment != "" {
			b.raw("<S:comment>")
			b.text(l.comment)
			b.raw("</S:comment>")
		}
		b.raw("<S:creationdate>" + svnfs.Time(l.created) + "</S:creationdate></S:lock>\n")
	}
	return writeReport(w, "get-locks-report", string(b.bytes()))
}

// lockDiscovery returns the DAV:lockdiscovery of p for r's user, and sets
// the headers svn reads the lock's owner and date from.
func (h *Handler) lockDiscovery(w http.ResponseWriter, r *http.Request, p verso.Path) string {
	ls := h.heldLocks(r, p, false)
	if len(ls) == 0 {
		return ""
	}
	l := ls[0]
	if w != nil {
		w.Header().Set("X-SVN-Creation-Date", svnfs.Time(l.created))
		w.Header().Set("X-SVN-Lock-Owner", l.owner)
	}
	b := newXW()
	b.raw(`<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope><D:depth>0</D:depth>`)
	if l.comment != "" {
		b.raw("<D:owner>")
		b.text(l.comment)
		b.raw("</D:owner>")
	}
	b.raw("<D:timeout>Infinite</D:timeout><D:locktoken><D:href>")
	b.text(l.token)
	b.raw("</D:href></D:locktoken></D:activelock>")
	return string(b.bytes())
}

// ErrLocked is what Locks returns for a path locked by someone else,
// ErrNoLock for a token that names no lock of the path; other errors are
// the lock table's failures.
var (
	ErrLocked = errors.New("locked")
	ErrNoLock = errors.New("no such lock")
)

// LockedError is how Locks.Confirm tells which path a lock holds off; it
// is ErrLocked.
type LockedError struct{ Path verso.Path }

func (e *LockedError) Error() string        { return fmt.Sprintf("'%s' is locked", e.Path) }
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// SVN_ERR_FS_PATH_ALREADY_LOCKED, SVN_ERR_FS_NO_SUCH_LOCK,
// SVN_ERR_FS_OUT_OF_DATE.
const (
	errFSLocked    = 160035
	errFSNoLock    = 160034
	errFSOutOfDate = 160042
)

var tokenRE = regexp.MustCompile(`<([^<>\s]+)>`)

// ifTokens returns the lock tokens an If header submits.
func ifTokens(r *http.Request) []string {
	var out []string
	for _, m := range tokenRE.FindAllStringSubmatch(r.Header.Get("If"), -1) {
		out = append(out, m[1])
	}
	return out
}

// confirmLocks refuses op (isNew: it makes its path) if a lock holds it
// off, unless the request or the transaction submits the lock's token; it
// returns the tokens the request submits, for the record of its change to
// add to t.
func (h *Handler) confirmLocks(r *http.Request, t *txn, op verso.Op, isNew bool) (tokens []string, err error) {
	if h.o.Locks == nil {
		return nil, nil
	}
	if err := h.lockError(h.o.Locks.Confirm(r.Context(), dav.OpScopes(op, isNew), append(ifTokens(r), t.tokens...))); err != nil {
		return nil, err
	}
	return ifTokens(r), nil
}

// mergeConfirmLocks refuses the commit of t if a lock granted since its
// changes were checked holds one of them off, unless the MERGE (tokens,
// from its body) or the transaction submits the lock's token.
func (h *Handler) mergeConfirmLocks(ctx context.Context, t *txn, tokens []string) error {
	if h.o.Locks == nil {
		return nil
	}
	var scopes []LockScope
	for _, op := range t.ops {
		scopes = append(scopes, dav.OpScopes(op, t.added[op.Path])...)
	}
	return h.lockError(h.o.Locks.Confirm(ctx, scopes, append(tokens, t.tokens...)))
}

// lockError maps Locks.Confirm's ErrLocked to svn's error, which svn
// shows as the path being locked.
func (h *Handler) lockError(err error) error {
	if !errors.Is(err, ErrLocked) {
		return err
	}
	what := "a path this commit changes"
	if le := (*LockedError)(nil); errors.As(err, &le) {
		what = "'" + string(le.Path) + "'"
	}
	return &Error{Status: http.StatusLocked, Code: errFSLocked,
		Msg: what + " is locked (svn lock or a WebDAV client's LOCK), and this commit does not hold the lock"}
}

// lock answers svn lock: LOCK of a file's public URL.
func (h *Handler) lock(w http.ResponseWriter, r *http.Request, res resource) error {
	if h.o.Locks == nil || !res.public {
		return errNoCommit
	}
	p := res.path
	if err := h.mustWrite(r, p, false); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return err
	}
	comment, err := lockComment(body)
	if err != nil {
		return err
	}
	e, err := h.store.Get(r.Context(), p, verso.Head)
	if err != nil {
		return err
	}
	if e.IsNamespace() {
		return &Error{Status: http.StatusBadRequest, Code: errUnsupported, Msg: fmt.Sprintf("'%s' is a directory: svn locks files", p)}
	}
	if base, err := versionName(r); err != nil {
		return err
	} else if base > 0 && e.ModRev > base {
		return &Error{Status: http.StatusConflict, Code: errFSOutOfDate, Msg: fmt.Sprintf("path '%s' is out of date; try updating", p)}
	}
	user := h.userOf(r)
	steal := strings.Contains(r.Header.Get("X-SVN-Options"), "lock-steal")
	if steal {
		if err := h.o.Locks.Unlock(r.Context(), p, "", true); err != nil {
			return err
		}
	}
	var ob bytes.Buffer
	xml.EscapeText(&ob, []byte(user))
	owner := ob.String()
	if comment != "" {
		ob.Reset()
		xml.EscapeText(&ob, []byte(comment))
		owner = strings.TrimSpace(owner + " " + ob.String())
	}
	created := time.Now().UTC()
	meta, _ := json.Marshal(lockMeta{User: user, Comment: comment, Created: created}) // strings and a time: cannot fail
	tok, err := h.o.Locks.Lock(r.Context(), p, owner, string(meta))
	if errors.Is(err, ErrLocked) {
		return &Error{Status: http.StatusLocked, Code: errFSLocked, Msg: fmt.Sprintf("path '%s' is already locked", p)}
	} else if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Lock-Token", "<"+tok+">")
	hd.Set("X-SVN-Creation-Date", svnfs.Time(created))
	if user != "" {
		hd.Set("X-SVN-Lock-Owner", user)
	}
	hd.Set("Content-Type", `text/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusOK)
	b := newXW()
	b.raw(xmlHeader + `<D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope><D:depth>0</D:depth>`)
	if comment != "" {
		b.raw("<D:owner>")
		b.text(comment)
		b.raw("</D:owner>")
	}
	b.raw("<D:timeout>Infinite</D:timeout><D:locktoken><D:href>")
	b.text(tok)
	b.raw("</D:href></D:locktoken></D:activelock></D:lockdiscovery></D:prop>\n")
	w.Write(b.bytes())
	return nil
}

// lockComment reads a LOCK body (DAV:lockinfo) and returns its owner text,
// svn's lock comment.
func lockComment(body []byte) (string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	depth, inOwner := 0, false
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", bodyError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > 16 {
				return "", badRequest("elements nested too deep")
			}
			if depth == 1 && (t.Name.Space != nsDAV || t.Name.Local != "lockinfo") {
				return "", badRequest("LOCK body is <%s>, not DAV:lockinfo", t.Name.Local)
			}
			if depth == 2 && t.Name.Space == nsDAV && t.Name.Local == "owner" {
				inOwner = true
			}
		case xml.EndElement:
			if depth == 2 {
				inOwner = false
			}
			depth--
		case xml.CharData:
			if inOwner {
				b.Write(t)
			}
		}
	}
}

// unlock answers svn unlock: UNLOCK of a file's public URL with the token.
func (h *Handler) unlock(w http.ResponseWriter, r *http.Request, res resource) error {
	if h.o.Locks == nil || !res.public {
		return errNoCommit
	}
	p := res.path
	if err := h.mustWrite(r, p, false); err != nil {
		return err
	}
	tok := strings.TrimSpace(r.Header.Get("Lock-Token"))
	tok = strings.TrimSuffix(strings.TrimPrefix(tok, "<"), ">")
	force := strings.Contains(r.Header.Get("X-SVN-Options"), "lock-break")
	if tok == "" && !force {
		return badRequest("UNLOCK needs a Lock-Token header")
	}
	if err := h.o.Locks.Unlock(r.Context(), p, tok, force); errors.Is(err, ErrNoLock) {
		return &Error{Status: http.StatusForbidden, Code: errFSNoLock, Msg: fmt.Sprintf("no lock on '%s' with that token", p)}
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mergeLocks returns the locks a MERGE body lists (S:lock-token-list):
// path and token of each.
func mergeLocks(body []byte) (paths, tokens []string) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return paths, tokens
		}
		switch t := tok.(type) {
		case xml.StartElement:
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			switch t.Name.Local {
			case "lock-path":
				paths = append(paths, strings.TrimSpace(text.String()))
			case "lock-token":
				tokens = append(tokens, strings.TrimSpace(text.String()))
			}
		}
	}
}

// releaseLocks releases, after a commit, the locks the MERGE listed (paths
// relative to base, the MERGE's URL), as svn commit does unless
// --no-unlock.
func (h *Handler) releaseLocks(r *http.Request, base verso.Path, body []byte) {
	if h.o.Locks == nil || !strings.Contains(r.Header.Get("X-SVN-Options"), "release-locks") {
		return
	}
	paths, tokens := mergeLocks(body)
	for i := range paths {
		if i >= len(tokens) {
			break
		}
		p, err := joinRel(base, paths[i])
		if err == nil {
			h.o.Locks.Unlock(r.Context(), p, tokens[i], false)
		}
	}
}
