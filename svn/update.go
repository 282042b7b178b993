package svn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// depth is svn's depth of a working copy or an operation.
type depth int

const (
	depthUnknown depth = iota
	depthEmpty
	depthFiles
	depthImmediates
	depthInfinity
)

func parseDepth(s string) (depth, bool) {
	switch s {
	case "", "unknown":
		return depthUnknown, true
	case "empty":
		return depthEmpty, true
	case "files":
		return depthFiles, true
	case "immediates":
		return depthImmediates, true
	case "infinity":
		return depthInfinity, true
	}
	return 0, false
}

// below returns the depth of a subdirectory of a directory of depth d.
func (d depth) below() depth {
	switch d {
	case depthInfinity, depthUnknown:
		return d
	}
	return depthEmpty
}

// reported is what the client said of one path of its working copy.
type reported struct {
	rev        verso.Revision
	depth      depth
	startEmpty bool
	missing    bool
	link       verso.Path // a switched path: where it comes from ("" if not)
}

// updater drives one update report: it compares the working copy the
// client reported (each path at its revision) with the tree at the target
// revision, and writes the edits that turn one into the other, as
// mod_dav_svn's send-all mode does: every file's text travels inline, in
// full (svndiff.Full).
type updater struct {
	h   *Handler
	r   *http.Request
	ctx context.Context
	w   *bufio.Writer
	cs  *commits

	anchor     verso.Path // src-path: the working copy's directory
	target     string     // update-target: one name in anchor, or ""
	tgtBase    verso.Path // the path the target becomes (a switch's dst-path)
	rev        verso.Revision
	requested  depth
	textDeltas bool
	ancestry   bool // false with ignore-ancestry: same name, same kind is the same node

	// report maps edit paths (relative to anchor; the target's report
	// "" is the target itself) to what the client has there.
	report map[string]*reported
	paths  []string // report's keys, sorted

	// changed is what the history between the working copy's revisions
	// and the target's changed (see changedKids); changedDone says it
	// was computed, changedOK that it can be used.
	changed                map[verso.Path]map[string]bool
	changedDone, changedOK bool
}

// maxChanged bounds the changes an update reads from the history to
// find what changed; beyond it, it compares the trees directory by
// directory instead.
const maxChanged = 200_000

// changedKids returns, by namespace, the names of its children that some
// revision between the working copy's revisions and the target revision
// changed (at or below them), read from the log of the anchor and of the
// working copy's switched paths: an unchanged child is the same node
// with the same tree at both revisions, so the update need not look at
// it. ok is false when the log cannot answer (pruned, too long), and
// the update compares whole listings.
func (u *updater) changedKids() (map[verso.Path]map[string]bool, bool) {
	if u.changedDone {
		return u.changed, u.changedOK
	}
	u.changedDone = true
	lo, hi := u.rev, u.rev
	roots := []verso.Path{u.anchor}
	for _, rp := range u.report {
		if rp.missing {
			continue
		}
		lo, hi = min(lo, rp.rev), max(hi, rp.rev)
		if rp.link != "" {
			roots = append(roots, rp.link)
		}
	}
	u.changed = map[verso.Path]map[string]bool{}
	n := 0
	for _, root := range roots {
		if hi == lo {
			break
		}
		commits, err := u.h.store.Log(u.ctx, verso.LogQuery{Path: root, Before: hi, Limit: int(hi - lo)})
		if err != nil {
			return nil, false
		}
		for _, c := range commits {
			if c.Rev <= lo {
				break
			}
			if n += len(c.Changes); n > maxChanged {
				return nil, false
			}
			for _, ch := range c.Changes {
				for q := ch.Path; q != verso.Root; {
					parent := q.Parent()
					kids := u.changed[parent]
					if kids == nil {
						kids = map[string]bool{}
						u.changed[parent] = kids
					}
					if kids[q.Base()] {
						break // its ancestors are in already
					}
					kids[q.Base()] = true
					q = parent
				}
			}
		}
	}
	u.changedOK = true
	return u.changed, true
}

// updateReport answers the update report behind checkout, update, switch,
// status -u, export and diff.
func (h *Handler) updateReport(w http.ResponseWriter, r *http.Request, doc *document) error {
	u := &updater{h: h, r: r, ctx: r.Context(), cs: newCommits(h.store), textDeltas: true, ancestry: true,
		report: map[string]*reported{}}
	q := reportQuery{doc: doc}
	head, err := h.head(u.ctx)
	if err != nil {
		return err
	}
	src, ok := q.text("src-path")
	if !ok {
		return badRequest("update report without <src-path>")
	}
	if u.anchor, err = h.repoPath(src); err != nil {
		return err
	}
	a := q.args(h, r)
	u.rev = a.rev("target-revision", head)
	if err := a.done(); err != nil {
		return err
	}
	u.target, _ = q.text("update-target")
	if u.target != "" {
		if strings.Contains(u.target, "/") || u.target == "." || u.target == ".." {
			return badRequest("<update-target> %q is not a name", u.target)
		}
		if _, err := joinRel(u.anchor, u.target); err != nil {
			return err
		}
	}
	if dst, ok := q.text("dst-path"); ok && dst != "" {
		if u.tgtBase, err = h.repoPath(dst); err != nil {
			return err
		}
	} else if u.tgtBase, err = joinRel(u.anchor, u.target); err != nil {
		return err
	}
	d, _ := q.text("depth")
	if u.requested, ok = parseDepth(d); !ok {
		return badRequest("<depth> %q is not a depth", d)
	}
	if s, ok := q.text("recursive"); ok && s == "no" && u.requested == depthUnknown {
		u.requested = depthFiles
	}
	if s, _ := q.text("text-deltas"); s == "no" {
		u.textDeltas = false
	}
	if s, _ := q.text("ignore-ancestry"); s == "yes" {
		u.ancestry = false
	}
	for _, c := range doc.Children {
		if c.Name.Local != "entry" && c.Name.Local != "missing" {
			continue
		}
		rel := strings.Trim(strings.TrimSpace(c.Text), "/")
		ep := rel
		if u.target != "" {
			ep = strings.TrimSuffix(u.target+"/"+rel, "/")
		}
		if _, err := joinRel(u.anchor, ep); err != nil {
			return err
		}
		if c.Name.Local == "missing" {
			// The working copy lacks ep (a target it excluded or never
			// had keeps the revision it was reported at).
			if rp := u.report[ep]; rp != nil {
				rp.missing = true
			} else {
				u.report[ep] = &reported{missing: true}
			}
			continue
		}
		rp := &reported{depth: depthInfinity}
		rs, _ := c.attr("rev")
		n, err := strconv.ParseInt(rs, 10, 64)
		if err != nil || n < 0 || verso.Revision(n) > head {
			return badRequest("<entry> %q has an invalid rev %q", rel, rs)
		}
		rp.rev = verso.Revision(n)
		if ds, ok := c.attr("depth"); ok {
			if rp.depth, ok = parseDepth(ds); !ok || rp.depth == depthUnknown {
				return badRequest("<entry> %q has an invalid depth %q", rel, ds)
			}
		}
		if s, _ := c.attr("start-empty"); s == "true" {
			rp.startEmpty = true
		}
		if l, ok := c.attr("linkpath"); ok && l != "" {
			// A path in the repository, not a URL.
			if rp.link, err = verso.ParsePath(l); err != nil {
				return badRequest("<entry> %q has an invalid linkpath %q", rel, l)
			}
			if err := h.mustRead(r, rp.link); err != nil {
				return err
			}
		}
		u.report[ep] = rp
	}
	if u.report[u.target] == nil {
		return badRequest("the update report says nothing of its target")
	}
	for k := range u.report {
		u.paths = append(u.paths, k)
	}
	sort.Strings(u.paths)
	if err := h.mustRead(r, u.tgtBase); err != nil {
		return err
	}
	if err := u.prunedTarget(); err != nil {
		return err
	}
	// A working copy older than the start of history (--keep-for) cannot
	// be updated: say so before the answer starts.
	for _, ep := range u.paths {
		if rp := u.report[ep]; !rp.missing {
			if _, err := h.store.Get(u.ctx, u.srcPath(ep), rp.rev); errors.Is(err, verso.ErrGone) && !u.stateKept(rp.rev) {
				return &Error{Status: http.StatusGone, Code: errNoSuchRevision, Msg: fmt.Sprintf(
					"revision %d of the working copy is older than the history verso keeps (--keep-for): check it out again", rp.rev)}
			}
		}
	}
	// The target must exist at the target revision, unless it is one name
	// in the anchor (an update of a file that was deleted deletes it).
	if u.target == "" {
		if _, err := h.store.Get(u.ctx, u.tgtBase, u.rev); err != nil {
			return err
		}
	} else if _, err := h.store.Get(u.ctx, u.anchor, u.rev); err != nil {
		return err
	}

	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	u.w = bufio.NewWriterSize(w, 64<<10)
	if err := u.drive(); err != nil {
		// The answer has begun: cut it, so that the client reports an
		// error instead of reading a partial edit as a complete one.
		h.o.Logger.Error("svn update report failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	return u.w.Flush()
}

func (u *updater) raw(s string) { u.w.WriteString(s) }

func (u *updater) xml(b *xw) { u.w.Write(b.bytes()) }

// srcPath and tgtPath are the repository paths of an edit path: where the
// working copy has it, and where the target revision's tree has it.
func (u *updater) srcPath(ep string) verso.Path {
	if p, ok := u.linked(ep); ok {
		return p
	}
	p, _ := joinRel(u.anchor, ep)
	return p
}

func (u *updater) tgtPath(ep string) verso.Path {
	if p, ok := u.linked(ep); ok {
		return p // a switched subtree stays switched
	}
	rel := ep
	if u.target != "" {
		rel = strings.TrimPrefix(strings.TrimPrefix(ep, u.target), "/")
	}
	p, _ := joinRel(u.tgtBase, rel)
	return p
}

// linked returns the repository path of ep when it is at or below a
// switched path of the working copy (reported with a linkpath).
func (u *updater) linked(ep string) (verso.Path, bool) {
	at := ep
	for {
		if rp := u.report[at]; rp != nil && rp.link != "" {
			p, err := joinRel(rp.link, strings.TrimPrefix(strings.TrimPrefix(ep, at), "/"))
			return p, err == nil
		}
		if at == "" || at == u.target {
			return "", false
		}
		if i := strings.LastIndexByte(at, '/'); i >= 0 {
			at = at[:i]
		} else {
			at = ""
		}
	}
}

// source returns what the working copy has at edit path ep: the entry at
// the revision it reported (nil if it has nothing there), that revision,
// and the depth of the working copy there.
func (u *updater) source(ep string) (*verso.Entry, verso.Revision, depth, error) {
	at := ep
	var rp *reported
	for {
		if rp = u.report[at]; rp != nil {
			break
		}
		if at == "" {
			return nil, 0, depthEmpty, nil
		}
		if i := strings.LastIndexByte(at, '/'); i >= 0 {
			at = at[:i]
		} else {
			at = ""
		}
	}
	if rp.missing {
		return nil, 0, depthEmpty, nil
	}
	d := rp.depth
	if at != ep {
		levels := strings.Count(strings.TrimPrefix(ep, at), "/")
		if at == "" {
			levels = strings.Count(ep, "/") + 1
		}
		switch {
		case rp.startEmpty, rp.depth == depthEmpty:
			return nil, 0, depthEmpty, nil
		case rp.depth == depthFiles && levels > 1, rp.depth == depthImmediates && levels > 1:
			return nil, 0, depthEmpty, nil
		}
		d = rp.depth.below()
	}
	e, err := u.h.store.Get(u.ctx, u.srcPath(ep), rp.rev)
	switch {
	case errors.Is(err, verso.ErrNotFound):
		e, err = nil, nil
	case errors.Is(err, verso.ErrGone):
		// That state was pruned (--keep-versions): the working copy has
		// something there, as it is now if anything, so that it gets the
		// whole of the new state.
		// If it is gone since, it is deleted.
		now, err2 := svnfs.GetOrNil(u.ctx, u.h.store, u.srcPath(ep), u.rev)
		stale := verso.Entry{Path: u.srcPath(ep), Kind: verso.KindKey}
		if now != nil {
			stale = *now
		}
		stale.TreeRev, stale.ModRev, stale.Props = -1, -1, map[string]string{}
		stale.Value = append([]byte{0}, stale.Value...) // differs from any text
		e, err = &stale, err2
	}
	if err != nil {
		return nil, 0, 0, err
	}
	if e != nil && at != ep && rp.depth == depthFiles && e.IsNamespace() {
		return nil, 0, depthEmpty, nil
	}
	return e, rp.rev, d, nil
}

// reportedBelow reports whether the client reported anything strictly
// below edit path ep.
func (u *updater) reportedBelow(ep string) bool {
	prefix := ep + "/"
	if ep == "" {
		prefix = ""
	}
	i := sort.SearchStrings(u.paths, prefix)
	for ; i < len(u.paths); i++ {
		k := u.paths[i]
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		if k != ep {
			return true
		}
	}
	return false
}

// target returns the entry at edit path ep in the target revision, nil if
// there is none; unreadable reports a path that exists but the user may
// not read.
func (u *updater) targetEntry(ep string) (e *verso.Entry, unreadable bool, err error) {
	p := u.tgtPath(ep)
	e, err = svnfs.GetOrNil(u.ctx, u.h.store, p, u.rev)
	if err != nil || e == nil {
		return nil, false, err
	}
	if !u.h.canRead(u.r, p) {
		return nil, true, nil
	}
	return e, false, nil
}

// drive writes the whole edit.
func (u *updater) drive() error {
	u.raw(xmlHeader + `<S:update-report xmlns:S="svn:" xmlns:V="` + nsSVNDAV + `" xmlns:D="DAV:" send-all="true" inline-props="true">` + "\n")
	u.raw(`<S:target-revision rev="` + strconv.FormatInt(int64(u.rev), 10) + `"/>` + "\n")
	rootRev := u.report[u.target].rev
	if u.target == "" {
		s, srev, d, err := u.source("")
		if err != nil {
			return err
		}
		t, _, err := u.targetEntry("")
		if err != nil {
			return err
		}
		if t == nil {
			return errors.New("update target vanished")
		}
		u.raw(`<S:open-directory rev="` + strconv.FormatInt(int64(srev), 10) + `">` + "\n")
		if err := u.nodeHeader(t, s, false); err != nil {
			return err
		}
		if err := u.deltaDirs("", s, t, d, u.requested); err != nil {
			return err
		}
		u.raw("</S:open-directory>\n")
	} else {
		u.raw(`<S:open-directory rev="` + strconv.FormatInt(int64(rootRev), 10) + `">` + "\n")
		if err := u.updateEntry(u.target); err != nil {
			return err
		}
		u.raw("</S:open-directory>\n")
	}
	u.raw("</S:update-report>\n")
	return nil
}

// nodeHeader writes what follows an open or add of t: its checked-in
// URL, its entry properties (committed revision, date, author, UUID) and
// its property changes from s (nil: all of t's).
func (u *updater) nodeHeader(t, s *verso.Entry, added bool) error {
	n, err := u.cs.nodeOf(u.ctx, t, u.rev)
	if err != nil {
		return err
	}
	b := newXW()
	b.raw("<D:checked-in><D:href>")
	b.text(u.h.href("rvr", n.cr, t.Path))
	b.raw("</D:href></D:checked-in>\n")
	b.raw(`<S:set-prop name="svn:entry:committed-rev">` + strconv.FormatInt(int64(n.cr), 10) + "</S:set-prop>\n")
	if !n.date.IsZero() {
		b.raw(`<S:set-prop name="svn:entry:committed-date">` + svnfs.Time(n.date) + "</S:set-prop>\n")
	}
	if n.author != "" {
		b.valueElem("S:set-prop", ` name="svn:entry:last-author"`, "encoding", n.author)
		b.raw("\n")
	} else if !added {
		b.raw(`<S:remove-prop name="svn:entry:last-author"/>` + "\n")
	}
	b.raw(`<S:set-prop name="svn:entry:uuid">` + u.h.UUID(u.ctx) + "</S:set-prop>\n")
	var old map[string]string
	if s != nil {
		old = svnfs.Props(s)
	}
	writePropChanges(b, old, svnfs.Props(t), "S:set-prop", "S:remove-prop")
	u.xml(b)
	return nil
}

// updateEntry edits the child at edit path ep of a directory being
// edited.
func (u *updater) updateEntry(ep string) error {
	s, srev, d, err := u.source(ep)
	if err != nil {
		return err
	}
	t, unreadable, err := u.targetEntry(ep)
	if err != nil {
		return err
	}
	return u.edit(ep, s, srev, d, t, unreadable, u.childRequested(ep))
}

// childRequested is the requested depth for a child at ep of the
// operation's target: the request's below the target.
func (u *updater) childRequested(ep string) depth {
	if ep == u.target {
		return u.requested
	}
	if u.requested == depthImmediates || u.requested == depthFiles {
		return depthEmpty
	}
	return u.requested
}

// edit turns the working copy's s (at srev, depth d) into t at ep.
func (u *updater) edit(ep string, s *verso.Entry, srev verso.Revision, d depth, t *verso.Entry, unreadable bool, req depth) error {
	name := ep[strings.LastIndexByte(ep, '/')+1:]
	qname := attr(name)
	if s != nil && (t == nil || !u.related(s, t)) {
		u.raw(`<S:delete-entry name="` + qname + `"/>` + "\n")
		s = nil
	}
	if unreadable {
		kind := "file"
		if e, _ := svnfs.GetOrNil(u.ctx, u.h.store, u.tgtPath(ep), u.rev); e != nil && e.IsNamespace() {
			kind = "directory"
		}
		u.raw(`<S:absent-` + kind + ` name="` + qname + `"/>` + "\n")
		return nil
	}
	if t == nil {
		return nil
	}
	if s == nil {
		return u.add(ep, t, req)
	}
	same := s.TreeRev == t.TreeRev && s.CreateRev == t.CreateRev && s.Path == t.Path
	if same && !u.reportedBelow(ep) && !(t.IsNamespace() && req > d && d != depthUnknown) {
		return nil
	}
	srevs := strconv.FormatInt(int64(srev), 10)
	if t.IsNamespace() {
		u.raw(`<S:open-directory name="` + qname + `" rev="` + srevs + `">` + "\n")
		if err := u.nodeHeader(t, s, false); err != nil {
			return err
		}
		if err := u.deltaDirs(ep, s, t, d, req); err != nil {
			return err
		}
		u.raw("</S:open-directory>\n")
		return nil
	}
	u.raw(`<S:open-file name="` + qname + `" rev="` + srevs + `">` + "\n")
	if err := u.nodeHeader(t, s, false); err != nil {
		return err
	}
	if string(s.Value) != string(t.Value) {
		u.text(t.Value)
	}
	u.raw("</S:open-file>\n")
	return nil
}

// related reports whether the target's t is the working copy's s, or
// descends from it by copies and moves, so that an edit of s makes t; or,
// with ignore-ancestry, whether they are of the same kind.
func (u *updater) related(s, t *verso.Entry) bool {
	if s.Kind != t.Kind {
		return false
	}
	if !u.ancestry || (s.Path == t.Path && s.CreateRev == t.CreateRev) {
		return true
	}
	p, e := t.Path, t
	for range 8 { // a copy of a copy of ...: a few steps back is enough
		if p == s.Path && e.CreateRev == s.CreateRev {
			return true
		}
		c, err := u.cs.get(u.ctx, e.CreateRev)
		if err != nil || c == nil {
			return false
		}
		ch := changeOf(c, p)
		if ch == nil || ch.From == "" {
			return false
		}
		if e, err = svnfs.GetOrNil(u.ctx, u.h.store, ch.From, ch.FromRev); err != nil || e == nil {
			return false
		}
		p = ch.From
	}
	return false
}

// text writes a file's new text and its checksum.
func (u *updater) text(v []byte) {
	u.raw("<S:txdelta>")
	if u.textDeltas {
		writeTxdelta(u.w, v)
	} else {
		writeTxdelta(u.w, nil)
	}
	u.raw("</S:txdelta><S:prop><V:md5-checksum>" + svnfs.MD5Hex(v) + "</V:md5-checksum></S:prop>")
}

// add writes t, which the working copy does not have, and for a
// directory its children down to depth req.
func (u *updater) add(ep string, t *verso.Entry, req depth) error {
	qname := attr(ep[strings.LastIndexByte(ep, '/')+1:])
	if !t.IsNamespace() {
		u.raw(`<S:add-file name="` + qname + `">` + "\n")
		if err := u.nodeHeader(t, nil, true); err != nil {
			return err
		}
		u.text(t.Value)
		u.raw("</S:add-file>\n")
		return nil
	}
	b := newXW()
	b.raw(`<S:add-directory name="` + qname + `" bc-url="`)
	b.text(u.h.href("bc", u.rev, t.Path))
	b.raw(`">` + "\n")
	u.xml(b)
	if err := u.nodeHeader(t, nil, true); err != nil {
		return err
	}
	if req == depthUnknown {
		req = depthInfinity
	}
	if req != depthEmpty {
		children, err := u.children(t.Path)
		if err != nil {
			return err
		}
		for _, c := range children {
			if c.IsNamespace() && req == depthFiles {
				continue
			}
			cep := ep + "/" + c.Path.Base()
			if !u.h.canRead(u.r, c.Path) {
				if err := u.edit(cep, nil, 0, depthEmpty, nil, true, depthEmpty); err != nil {
					return err
				}
				continue
			}
			creq := req
			if req == depthImmediates {
				creq = depthEmpty
			}
			if err := u.add(cep, c, creq); err != nil {
				return err
			}
		}
	}
	u.raw("</S:add-directory>\n")
	return nil
}

// children returns the entries right below namespace p at the target
// revision.
func (u *updater) children(p verso.Path) ([]*verso.Entry, error) {
	var out []*verso.Entry
	err := u.h.store.Walk(u.ctx, p, u.rev, 1, func(e *verso.Entry) error {
		if e.Path != p {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// deltaDirs edits the children of the directory at ep: s (the working
// copy's, nil when it starts empty) becomes t. d is the working copy's
// depth there, req the depth asked for.
func (u *updater) deltaDirs(ep string, s, t *verso.Entry, d, req depth) error {
	eff := req
	if eff == depthUnknown {
		eff = d
	}
	if eff == depthUnknown {
		eff = depthInfinity
	}
	if eff == depthEmpty {
		return nil
	}
	join := func(name string) string {
		if ep == "" {
			return name
		}
		return ep + "/" + name
	}
	// The same directory, whole in the working copy (not started empty,
	// not deepened): only the children the history says changed, and
	// those the client reported something of, can differ.
	if rp := u.report[ep]; s != nil && d == depthInfinity && (req == depthUnknown || req == depthInfinity) &&
		(rp == nil || !rp.startEmpty) && s.Path == t.Path && s.CreateRev == t.CreateRev && u.srcPath(ep) == t.Path {
		if changed, ok := u.changedKids(); ok {
			return u.deltaChanged(ep, join, changed[t.Path], req)
		}
	}
	// The names the working copy may have: the source directory's at its
	// revision, and whatever the client reported below it.
	names := map[string]bool{}
	if s != nil {
		_, srev, _, err := u.source(ep)
		if err != nil {
			return err
		}
		err = u.h.store.Walk(u.ctx, u.srcPath(ep), srev, 1, func(e *verso.Entry) error {
			if e.Path != s.Path {
				names[e.Path.Base()] = true
			}
			return nil
		})
		if errors.Is(err, verso.ErrGone) {
			// That listing was pruned: the names changed since are the
			// ones that may differ.
			err = u.changedNames(ep, srev, names)
		}
		if err != nil && !errors.Is(err, verso.ErrNotFound) {
			return err
		}
	}
	prefix := join("")
	for _, k := range u.paths {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "" && !strings.Contains(rest, "/") && (ep != "" || k != "") {
			names[rest] = true
		}
	}
	tchildren, err := u.children(t.Path)
	if err != nil {
		return err
	}
	tnames := map[string]*verso.Entry{}
	for _, c := range tchildren {
		tnames[c.Path.Base()] = c
	}
	// Deletions first, in name order, then the target's children.
	var gone []string
	for name := range names {
		if _, ok := tnames[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		cs, _, _, err := u.source(join(name))
		if err != nil {
			return err
		}
		if cs == nil || (eff == depthFiles && cs.IsNamespace()) || !u.h.canRead(u.r, cs.Path) {
			continue // an unreadable path is not even named
		}
		u.raw(`<S:delete-entry name="` + attr(name) + `"/>` + "\n")
	}
	creq := req
	if req == depthImmediates || req == depthFiles {
		creq = depthEmpty
	}
	for _, c := range tchildren {
		if eff == depthFiles && c.IsNamespace() {
			continue
		}
		cep := join(c.Path.Base())
		cs, csrev, cd, err := u.source(cep)
		if err != nil {
			return err
		}
		if cs != nil && eff == depthFiles && cs.IsNamespace() {
			continue
		}
		if cs == nil && req == depthUnknown && c.IsNamespace() && d == depthImmediates {
			// A new directory in a working copy of depth immediates
			// comes empty, as the working copy's depth says.
			if !u.h.canRead(u.r, c.Path) {
				continue
			}
			if err := u.add(cep, c, depthEmpty); err != nil {
				return err
			}
			continue
		}
		t, unreadable := c, !u.h.canRead(u.r, c.Path)
		if _, ok := u.linked(cep); ok { // switched: the target is elsewhere
			if t, unreadable, err = u.targetEntry(cep); err != nil {
				return err
			}
		} else if unreadable {
			t = nil
		}
		cr := creq
		if req == depthUnknown && cs == nil && d != depthUnknown {
			cr = d.below()
			if d == depthInfinity {
				cr = depthUnknown
			}
		}
		if err := u.edit(cep, cs, csrev, cd, t, unreadable, cr); err != nil {
			return err
		}
	}
	return nil
}

// deltaChanged is deltaDirs for a directory the working copy has whole:
// it edits the children named in changed (those the history between the
// revisions changed) and those the client reported something at or
// below, and leaves the others, unchanged, alone.
func (u *updater) deltaChanged(ep string, join func(string) string, changed map[string]bool, req depth) error {
	names := make(map[string]bool, len(changed))
	for name := range changed {
		names[name] = true
	}
	prefix := join("")
	i := sort.SearchStrings(u.paths, prefix)
	for ; i < len(u.paths) && strings.HasPrefix(u.paths[i], prefix); i++ {
		if k := u.paths[i]; ep != "" || k != "" {
			rest := strings.TrimPrefix(k, prefix)
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				rest = rest[:j]
			}
			if rest != "" {
				names[rest] = true
			}
		}
	}
	type child struct {
		ep         string
		t          *verso.Entry
		unreadable bool
	}
	var kept []child
	// Deletions first, in name order, then the target's children.
	for _, name := range sortedNames(names) {
		cep := join(name)
		t, unreadable, err := u.targetEntry(cep)
		if err != nil {
			return err
		}
		if t != nil || unreadable {
			kept = append(kept, child{cep, t, unreadable})
			continue
		}
		cs, _, _, err := u.source(cep)
		if err != nil {
			return err
		}
		if cs != nil && u.h.canRead(u.r, cs.Path) { // an unreadable path is not even named
			u.raw(`<S:delete-entry name="` + attr(name) + `"/>` + "\n")
		}
	}
	for _, c := range kept {
		cs, csrev, cd, err := u.source(c.ep)
		if err != nil {
			return err
		}
		if err := u.edit(c.ep, cs, csrev, cd, c.t, c.unreadable, req); err != nil {
			return err
		}
	}
	return nil
}

// sortedNames returns the keys of m in byte order.
func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
