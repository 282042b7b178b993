package svn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// report answers a REPORT: the root element of its body names it.
func (h *Handler) report(w http.ResponseWriter, r *http.Request, res resource) error {
	doc, err := h.readDocument(w, r)
	if err != nil {
		return err
	}
	if doc.Name.Space != nsSVN {
		return badRequest("unknown report <%s> in namespace %q", doc.Name.Local, doc.Name.Space)
	}
	if doc.Name.Local == "update-report" {
		return h.updateReport(w, r, doc)
	}
	switch res.kind {
	case kindNode:
	case kindMe, kindVCC: // the repository as a whole, at head
		res.path, res.rev = verso.Root, verso.Head
	default:
		return badRequest("the %s report goes to a path, not %s", doc.Name.Local, res.uri)
	}
	if err := h.mustRead(r, res.path); err != nil {
		return err
	}
	base := res.rev
	if base == verso.Head {
		if base, err = h.head(r.Context()); err != nil {
			return err
		}
	}
	q := reportQuery{doc: doc, path: res.path, rev: base}
	switch doc.Name.Local {
	case "log-report":
		return h.logReport(w, r, q)
	case "get-locations":
		return h.locationsReport(w, r, q)
	case "get-location-segments":
		return h.segmentsReport(w, r, q)
	case "file-revs-report":
		return h.fileRevsReport(w, r, q)
	case "list-report":
		return h.listReport(w, r, q)
	case "dated-rev-report":
		return h.datedRevReport(w, r, q)
	case "get-locks-report":
		return h.locksReport(w, r, q)
	case "inherited-props-report":
		return h.inheritedPropsReport(w, r, q)
	case "get-deleted-rev-report":
		return h.deletedRevReport(w, r, q)
	}
	return &Error{Status: http.StatusNotImplemented, Code: errUnsupported,
		Msg: fmt.Sprintf("verso does not answer the %s report", doc.Name.Local)}
}

// reportQuery is a report's body with the path and revision of its URL.
type reportQuery struct {
	doc  *document
	path verso.Path
	rev  verso.Revision
}

// text returns the text of the first child named local ("" if none).
func (q reportQuery) text(local string) (string, bool) {
	for _, c := range q.doc.Children {
		if c.Name.Local == local {
			return strings.TrimSpace(c.Text), true
		}
	}
	return "", false
}

// has reports whether the body has a child named local.
func (q reportQuery) has(local string) bool {
	_, ok := q.text(local)
	return ok
}

// revision reads the child local as a revision number; def when it is
// missing or -1 (svn's "none").
func (q reportQuery) revision(local string, def verso.Revision) (verso.Revision, error) {
	s, ok := q.text(local)
	if !ok || s == "" || s == "-1" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("<%s> %q is not a revision number", local, s)
	}
	return verso.Revision(n), nil
}

// relPath reads the child local as a path relative to the URL's, which
// the user of r must be allowed to read.
func (q reportQuery) relPath(h *Handler, r *http.Request, local string) (verso.Path, error) {
	s, _ := q.text(local)
	p, err := joinRel(q.path, s)
	if err != nil {
		return "", err
	}
	return p, h.mustRead(r, p)
}

// writeReport writes a whole small report answer.
func writeReport(w http.ResponseWriter, name, body string) error {
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.Write([]byte(xmlHeader + `<S:` + name + ` xmlns:S="svn:" xmlns:D="DAV:">` + "\n" + body + `</S:` + name + ">\n"))
	return nil
}

// checkRev returns an error unless 0 <= rev <= head.
func (h *Handler) checkRev(ctx context.Context, rev verso.Revision) error {
	_, err := h.revAt(ctx, rev)
	return err
}

// reportArgs reads the arguments reports share, a path relative to the
// report's URL and revisions, keeping the first error (a 400 for a bad
// one, a 403 for a path the user may not read); done then checks that no
// revision read is beyond the head and returns that error.
type reportArgs struct {
	q   reportQuery
	h   *Handler
	r   *http.Request
	err error
	hi  verso.Revision // the highest revision read
}

func (q reportQuery) args(h *Handler, r *http.Request) *reportArgs {
	return &reportArgs{q: q, h: h, r: r}
}

// path reads the child local as a path relative to the URL's, which the
// user must be allowed to read.
func (a *reportArgs) path(local string) verso.Path {
	if a.err != nil {
		return ""
	}
	p, err := a.q.relPath(a.h, a.r, local)
	a.err = err
	return p
}

// rev reads the child local as a revision number: def when it is missing
// or -1 (svn's "none").
func (a *reportArgs) rev(local string, def verso.Revision) verso.Revision {
	if a.err != nil {
		return 0
	}
	rev, err := a.q.revision(local, def)
	a.err = err
	a.hi = max(a.hi, rev)
	return rev
}

// done returns the first error, or one if a revision read is beyond the
// head.
func (a *reportArgs) done() error {
	if a.err != nil {
		return a.err
	}
	return a.h.checkRev(a.r.Context(), a.hi)
}

// visibleCommit is c as the user of r may see it: without the paths they
// may not read, without the message when some were left out (generated
// messages name paths), nil when they may read none of them.
func (h *Handler) visibleCommit(r *http.Request, c *verso.Commit) *verso.Commit {
	if h.o.Access == nil {
		return c
	}
	out := *c
	out.Changes = make([]verso.Change, 0, len(c.Changes))
	for _, ch := range c.Changes {
		if !h.canRead(r, ch.Path) {
			continue
		}
		if ch.From != "" && !h.canRead(r, ch.From) {
			// An addition, as the user sees it: what it changed
			// compared with its source no longer answers.
			ch.From, ch.FromRev, ch.Action, ch.Mods = "", 0, verso.Added, 0
		}
		out.Changes = append(out.Changes, ch)
	}
	switch {
	case len(c.Changes) > 0 && len(out.Changes) == 0:
		return nil
	case len(out.Changes) < len(c.Changes):
		out.Message = ""
	}
	return &out
}

// logReport answers svn log: the commits that changed the paths, between
// two revisions in either order, with their changed paths if asked.
func (h *Handler) logReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	head, err := h.head(ctx)
	if err != nil {
		return err
	}
	a := q.args(h, r)
	start, end := a.rev("start-revision", head), a.rev("end-revision", head)
	if err := a.done(); err != nil {
		return err
	}
	limit := 0
	if s, ok := q.text("limit"); ok && s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
			return badRequest("<limit> %q is not a number", s)
		}
	}
	var paths []verso.Path
	revprops, allRevprops, noRevprops := map[string]bool{}, true, false
	for _, c := range q.doc.Children {
		switch c.Name.Local {
		case "path":
			p, err := joinRel(q.path, strings.TrimSpace(c.Text))
			if err != nil {
				return err
			}
			paths = append(paths, p)
		case "revprop":
			revprops[strings.TrimSpace(c.Text)] = true
			allRevprops = false
		case "no-revprops":
			noRevprops, allRevprops = true, false
		case "all-revprops":
			allRevprops = true
		}
	}
	if len(paths) == 0 {
		paths = []verso.Path{q.path}
	}
	changed := q.has("discover-changed-paths")
	lo, hi := min(start, end), max(start, end)
	strict := q.has("strict-node-history")
	byRev := map[verso.Revision]*verso.Commit{}
	at := map[verso.Revision][]verso.Path{} // the paths each commit is listed for
	readable := func(p verso.Path) bool { return h.canRead(r, p) }
	for _, p := range paths {
		if !h.canRead(r, p) || hi == 0 {
			continue
		}
		steps, err := h.history(ctx, p, lo, hi, strict, readable)
		if err != nil {
			return err
		}
		for _, s := range steps {
			byRev[s.c.Rev] = s.c
			at[s.c.Rev] = append(at[s.c.Rev], s.at)
		}
	}
	revs := make([]verso.Revision, 0, len(byRev))
	for rev := range byRev {
		revs = append(revs, rev)
	}
	slices.Sort(revs)
	if start > end {
		slices.Reverse(revs)
	}
	cs := newCommits(h.store)
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(xmlHeader + `<S:log-report xmlns:S="svn:" xmlns:D="DAV:">` + "\n")
	n := 0
	for _, rev := range revs {
		c := h.visibleCommit(r, byRev[rev])
		if c == nil || !touches(c, at[rev]) {
			continue
		}
		if limit > 0 && n == limit {
			break
		}
		n++
		b := newXW()
		b.raw("<S:log-item>\n<D:version-name>" + strconv.FormatInt(int64(rev), 10) + "</D:version-name>\n")
		want := func(name string) bool { return !noRevprops && (allRevprops || revprops[name]) }
		if want("svn:author") && c.Author != "" {
			b.valueElem("D:creator-displayname", "", "encoding", c.Author)
			b.raw("\n")
		}
		if want("svn:date") {
			b.elem("S:date", svnfs.Time(c.Time))
			b.raw("\n")
		}
		if want("svn:log") && (c.Message != "" || len(c.Changes) == len(byRev[rev].Changes)) {
			b.valueElem("D:comment", "", "encoding", c.Message)
			b.raw("\n")
		}
		if changed {
			if err := h.changedPaths(ctx, cs, b, c); err != nil {
				return err
			}
		}
		b.raw("</S:log-item>\n")
		bw.Write(b.bytes())
	}
	bw.WriteString("</S:log-report>\n")
	return bw.Flush()
}

// touches reports whether c, as the user sees it, changed one of paths
// or something below them.
func touches(c *verso.Commit, paths []verso.Path) bool {
	if len(c.Changes) == 0 {
		return slices.Contains(paths, verso.Root)
	}
	for _, ch := range c.Changes {
		for _, p := range paths {
			if p.Contains(ch.Path) || (ch.From != "" && p.Contains(ch.From)) {
				return true
			}
		}
	}
	return false
}

// changedPaths writes the changed paths of c, as svn log -v shows them.
// A copy or move is an addition with its source (a move's source is also
// listed as deleted); as in svn, the paths below a copied or deleted
// directory are implied by it and left out, but for those the commit
// changed beyond the copy (shown modified). text-mods and prop-mods
// compare a path with the revision before, or a copy with its source.
func (h *Handler) changedPaths(ctx context.Context, cs *commits, b *xw, c *verso.Commit) error {
	copied := map[verso.Path]verso.Change{}
	deleted := map[verso.Path]bool{}
	for _, ch := range c.Changes {
		kind := "file"
		if ch.Kind == verso.KindNamespace {
			kind = "dir"
		}
		tag, extra := "S:modified-path", ""
		var text, props bool
		var err error
		switch ch.Action {
		case verso.Added:
			tag = "S:added-path"
			text, props, err = h.mods(ctx, c, ch, "", 0, noneAdded)
		case verso.Copied, verso.Moved:
			if anc, ok := ancestorIn(ch.Path, copied); ok && ch.From != "" && ch.From == ch.Path.Rebase(anc.Path, anc.From) {
				if text, props, err = h.mods(ctx, c, ch, ch.From, ch.FromRev, noneAdded); err != nil {
					return err
				}
				if !text && !props {
					continue // implied by the copy of its directory
				}
				break
			}
			tag = "S:added-path"
			if ch.From != "" {
				copied[ch.Path] = ch
				extra = ` copyfrom-path="` + attr(string(ch.From)) + `" copyfrom-rev="` + strconv.FormatInt(int64(ch.FromRev), 10) + `"`
				text, props, err = h.mods(ctx, c, ch, ch.From, ch.FromRev, noneUnchanged)
			}
		case verso.Deleted:
			if _, ok := ancestorIn(ch.Path, deleted); ok {
				continue // deleted with its directory
			}
			deleted[ch.Path] = true
			tag = "S:deleted-path"
		default:
			text, props, err = h.mods(ctx, c, ch, ch.Path, c.Rev-1, noneText)
		}
		if err != nil {
			return err
		}
		b.raw("<" + tag + ` node-kind="` + kind + `" text-mods="` + strconv.FormatBool(text) + `" prop-mods="` + strconv.FormatBool(props) + `"` + extra + ">")
		b.text(string(ch.Path))
		b.raw("</" + tag + ">\n")
	}
	return nil
}

// What mods answers for a change whose earlier state is missing.
const (
	noneAdded     = iota // as an addition: a file's text, and its properties if it has any
	noneUnchanged        // nothing changed
	noneText             // a file's text
)

// mods returns svn's text-mods and prop-mods of ch, a change of c: what
// it changed compared with the state of from as of fromRev ("": none;
// none tells what to answer then). A commit that recorded its Mods says
// so without reading either state, but for a property change, whose svn
// properties (not the WebDAV ones) are compared; older records are
// compared state by state.
func (h *Handler) mods(ctx context.Context, c *verso.Commit, ch verso.Change, from verso.Path, fromRev verso.Revision, none int) (text, props bool, err error) {
	file := ch.Kind == verso.KindKey
	var now, before *verso.Entry
	if ch.Mods.Recorded() {
		text = file && ch.Mods&verso.ModValue != 0
		if ch.Mods&verso.ModProps == 0 {
			return text, false, nil
		}
		if now, err = svnfs.GetOrNil(ctx, h.store, ch.Path, c.Rev); err != nil || now == nil {
			return text, false, err
		}
		if ch.Action == verso.Added {
			return text, len(svnfs.Props(now)) > 0, nil
		}
		if before, err = svnfs.GetOrNil(ctx, h.store, from, fromRev); err != nil {
			return false, false, err
		}
		return text, !maps.Equal(svnfs.Props(before), svnfs.Props(now)), nil
	}
	if from != "" {
		if before, err = svnfs.GetOrNil(ctx, h.store, from, fromRev); err != nil {
			return false, false, err
		}
	}
	if before == nil {
		switch none {
		case noneUnchanged:
			return false, false, nil
		case noneText:
			return file, false, nil
		}
	}
	if now, err = svnfs.GetOrNil(ctx, h.store, ch.Path, c.Rev); err != nil || now == nil {
		return false, false, err
	}
	if before == nil {
		return file, len(svnfs.Props(now)) > 0, nil
	}
	return file && string(before.Value) != string(now.Value), !maps.Equal(svnfs.Props(before), svnfs.Props(now)), nil
}

// ancestorIn returns the value of the nearest ancestor of p (not p
// itself) that is a key of m.
func ancestorIn[V any](p verso.Path, m map[verso.Path]V) (V, bool) {
	var zero V
	if len(m) == 0 || p == verso.Root {
		return zero, false
	}
	for q := p.Parent(); ; q = q.Parent() {
		if v, ok := m[q]; ok {
			return v, true
		}
		if q == verso.Root {
			return zero, false
		}
	}
}

// sameNode reports whether the entry at a revision is the same node as e:
// the same path, created by the same revision (verso does not follow a
// node across copies and moves; see docs/svn.md).
func sameNode(a, b *verso.Entry) bool {
	return a != nil && b != nil && a.Kind == b.Kind && a.CreateRev == b.CreateRev
}

// locationsReport answers where a node was at other revisions: its path
// then, following the copies and moves that made it (history).
func (h *Handler) locationsReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	a := q.args(h, r)
	p, peg := a.path("path"), a.rev("peg-revision", q.rev)
	if err := a.done(); err != nil {
		return err
	}
	at, err := h.store.Get(ctx, p, peg)
	if err != nil {
		return err
	}
	steps, err := h.history(ctx, p, 0, peg, false, func(q verso.Path) bool { return h.canRead(r, q) })
	if err != nil {
		return err
	}
	b := newXW()
	for _, c := range q.doc.Children {
		if c.Name.Local != "location-revision" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(c.Text), 10, 64)
		if err != nil || n < 0 {
			return badRequest("<location-revision> %q is not a revision number", c.Text)
		}
		where := verso.Path("")
		if verso.Revision(n) >= peg {
			// Later than the peg: where it still is, if it is.
			e, err := svnfs.GetOrNil(ctx, h.store, p, verso.Revision(n))
			if err != nil && !errors.Is(err, verso.ErrNoRevision) {
				return err
			}
			if sameNode(at, e) {
				where = p
			}
		} else {
			for _, st := range steps { // newest first
				if st.c.Rev <= verso.Revision(n) {
					where = st.at
					break
				}
			}
		}
		if where != "" {
			b.raw(`<S:location rev="` + strconv.FormatInt(n, 10) + `" path="` + attr(string(where)) + `"/>` + "\n")
		}
	}
	return writeReport(w, "get-locations-report", string(b.bytes()))
}

// segmentsReport answers the revision ranges a node lived at each of its
// paths, newest first, from start down to end.
func (h *Handler) segmentsReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	a := q.args(h, r)
	p, peg := a.path("path"), a.rev("peg-revision", q.rev)
	start, end := a.rev("start-revision", peg), a.rev("end-revision", 0)
	if err := a.done(); err != nil {
		return err
	}
	if start > peg || end > start {
		return badRequest("location segments need end <= start <= peg, got %d, %d, %d", end, start, peg)
	}
	e, err := h.store.Get(ctx, p, peg)
	if err != nil {
		return err
	}
	steps, err := h.history(ctx, p, 0, peg, false, func(q verso.Path) bool { return h.canRead(r, q) })
	if err != nil {
		return err
	}
	b := newXW()
	segment := func(path verso.Path, lo, hi verso.Revision) {
		lo, hi = max(lo, end), min(hi, start)
		if lo <= hi {
			b.raw(`<S:location-segment path="` + attr(strings.TrimPrefix(string(path), "/")) + `" range-start="` +
				strconv.FormatInt(int64(lo), 10) + `" range-end="` + strconv.FormatInt(int64(hi), 10) + `"/>` + "\n")
		}
	}
	// Each path the node had, newest first: it lived there from the
	// oldest step at that path (its creation, or the copy that brought it)
	// up to where the newer path took over.
	top := peg
	for i := 0; i < len(steps); {
		j := i
		for j+1 < len(steps) && steps[j+1].at == steps[i].at {
			j++
		}
		path := steps[i].at
		born := steps[j].c.Rev
		ch := changeOf(steps[j].c, path)
		made := ch != nil && (ch.Action == verso.Added || ch.Action == verso.Copied || ch.Action == verso.Moved)
		if !made { // no record of its making (the root)
			born = min(e.CreateRev, born)
			if i > 0 {
				born = 0
			}
		}
		segment(path, born, top)
		if !made || ch.From == "" {
			break
		}
		top, i = ch.FromRev, j+1
	}
	if len(steps) == 0 {
		segment(p, e.CreateRev, top)
	}
	return writeReport(w, "get-location-segments-report", string(b.bytes()))
}

// datedRevReport answers the newest revision at or before a date.
func (h *Handler) datedRevReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	s, _ := q.text("creationdate")
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return badRequest("<creationdate> %q is not a date", s)
	}
	head, err := h.head(ctx)
	if err != nil {
		return err
	}
	// Binary search: commit times grow with revisions.
	lo, hi := verso.Revision(0), head
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		c, err := h.store.Revision(ctx, mid)
		if err != nil && !errors.Is(err, verso.ErrGone) {
			return err
		}
		if c == nil || !c.Time.After(t) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return writeReport(w, "dated-rev-report", "<D:version-name>"+strconv.FormatInt(int64(lo), 10)+"</D:version-name>\n")
}

// deletedRevReport answers the revision, between peg and end, that
// deleted a path.
func (h *Handler) deletedRevReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	a := q.args(h, r)
	p, peg := a.path("path"), a.rev("peg-revision", q.rev)
	end := a.rev("end-revision", peg)
	if err := a.done(); err != nil {
		return err
	}
	found := verso.Revision(-1)
	commits, err := h.store.Log(ctx, verso.LogQuery{Path: p, Before: max(end, 1)})
	if err != nil {
		return err
	}
	for _, c := range commits { // newest first: the last match is the oldest
		if c.Rev <= peg {
			break
		}
		for _, ch := range c.Changes {
			if ch.Path == p && ch.Action == verso.Deleted {
				found = c.Rev
			}
		}
	}
	return writeReport(w, "get-deleted-rev-report", "<D:version-name>"+strconv.FormatInt(int64(found), 10)+"</D:version-name>\n")
}

// listReport answers svn ls: the entries at and below a path, with the
// fields asked for.
func (h *Handler) listReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	a := q.args(h, r)
	p, rev := a.path("path"), a.rev("revision", q.rev)
	if err := a.done(); err != nil {
		return err
	}
	depth := verso.Infinite
	switch d, _ := q.text("depth"); d {
	case "empty":
		depth = 0
	case "files", "immediates":
		depth = 1
	}
	filesOnly := false
	if d, _ := q.text("depth"); d == "files" {
		filesOnly = true
	}
	fields := map[string]bool{}
	var patterns []string
	for _, c := range q.doc.Children {
		switch c.Name.Local {
		case "prop":
			fields[strings.TrimSpace(c.Text)] = true
		case "pattern":
			patterns = append(patterns, c.Text)
		}
	}
	cs := newCommits(h.store)
	hidden := h.hidden(r)
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(xmlHeader + `<S:list-report xmlns:S="svn:" xmlns:D="DAV:">` + "\n")
	err := h.store.Walk(ctx, p, rev, depth, func(e *verso.Entry) error {
		if e.Path != p && (hidden(e.Path) || (filesOnly && e.IsNamespace())) {
			return nil
		}
		if e.Path != p && len(patterns) > 0 && !matchAny(patterns, e.Path.Base()) {
			return nil
		}
		n, err := cs.nodeOf(ctx, e, rev)
		if err != nil {
			return err
		}
		kind, size := "file", strconv.Itoa(len(e.Value))
		if e.IsNamespace() {
			kind, size = "dir", "-1"
		}
		s := `<S:item node-kind="` + kind + `"`
		if fields["DAV:getcontentlength"] {
			s += ` size="` + size + `"`
		}
		if fields["DAV:version-name"] {
			s += ` created-rev="` + strconv.FormatInt(int64(n.cr), 10) + `"`
		}
		if fields["DAV:creationdate"] && !n.date.IsZero() {
			s += ` date="` + svnfs.Time(n.date) + `"`
		}
		if fields[nsSVNDAV+"deadprop-count"] {
			s += ` has-props="` + strconv.FormatBool(len(svnfs.Props(e)) > 0) + `"`
		}
		b := newXW()
		b.raw(s + ">")
		if fields["DAV:creator-displayname"] && n.author != "" {
			b.elem("D:creator-displayname", n.author)
		}
		b.text(string(e.Path))
		b.raw("</S:item>\n")
		_, err = bw.Write(b.bytes())
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteString("</S:list-report>\n")
	return bw.Flush()
}

// hidden returns a function that tells, for the paths of a pre-order
// walk, which to leave out: the paths the user may not read, and
// everything below them.
func (h *Handler) hidden(r *http.Request) func(verso.Path) bool {
	var below verso.Path
	return func(p verso.Path) bool {
		if below != "" && below.Contains(p) {
			return true
		}
		if !h.canRead(r, p) {
			below = p
			return true
		}
		return false
	}
}

// inheritedPropsReport answers the properties of a path's parents, which
// the client reads for svn:auto-props and svn:global-ignores.
func (h *Handler) inheritedPropsReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	a := q.args(h, r)
	p, rev := a.path("path"), a.rev("revision", q.rev)
	if err := a.done(); err != nil {
		return err
	}
	var parents []verso.Path
	for a := p; a != verso.Root; {
		a = a.Parent()
		parents = append(parents, a)
	}
	slices.Reverse(parents)
	b := newXW()
	for _, a := range parents {
		if !h.canRead(r, a) {
			continue
		}
		e, err := svnfs.GetOrNil(ctx, h.store, a, rev)
		if err != nil {
			return err
		}
		if e == nil {
			continue
		}
		props := svnfs.Props(e)
		if len(props) == 0 {
			continue
		}
		b.raw("<S:iprop-item>\n")
		b.elem("S:iprop-path", string(a))
		b.raw("\n")
		for _, name := range svnfs.SortedKeys(props) {
			b.elem("S:iprop-name", name)
			b.raw("\n")
			b.valueElem("S:iprop-value", "", "encoding", props[name])
			b.raw("\n")
		}
		b.raw("</S:iprop-item>\n")
	}
	return writeReport(w, "inherited-props-report", string(b.bytes()))
}
