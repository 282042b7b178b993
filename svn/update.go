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
