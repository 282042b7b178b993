package svn

import (
	"bufio"
	"net/http"
	"path"
	"slices"
	"strconv"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// matchAny reports whether name matches one of the glob patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// fileRevsReport answers svn blame: each revision of a file between two
// revisions (starting with the one current at the start), with its
// revision properties, its property changes and its full text.
func (h *Handler) fileRevsReport(w http.ResponseWriter, r *http.Request, q reportQuery) error {
	ctx := r.Context()
	a := q.args(h, r)
	p, start, end := a.path("path"), a.rev("start-revision", 0), a.rev("end-revision", q.rev)
	if err := a.done(); err != nil {
		return err
	}
	reverse := start > end
	lo, hi := min(start, end), max(start, end)
	last, err := h.store.Get(ctx, p, hi)
	if err != nil {
		return err
	}
	if last.IsNamespace() {
		return &Error{Status: http.StatusBadRequest, Code: errNotFound, Msg: string(p) + " is not a file"}
	}
	// The revisions that changed this file, across the copy or move that
	// made it, newest first, down to the one current at lo.
	steps, err := h.history(ctx, p, 0, hi, false, func(q verso.Path) bool { return h.canRead(r, q) })
	if err != nil {
		return err
	}
	for i, st := range steps {
		if st.c.Rev <= lo {
			steps = steps[:i+1]
			break
		}
	}
	slices.Reverse(steps)
	cs := newCommits(h.store)
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(xmlHeader + `<S:file-revs-report xmlns:S="svn:" xmlns:D="DAV:">` + "\n")
	var prev *verso.Entry
	var items [][]byte
	for _, st := range steps {
		rev, at := st.c.Rev, st.at
		e, err := svnfs.GetOrNil(ctx, h.store, at, rev)
		if err != nil {
			return err
		}
		if e == nil || e.IsNamespace() {
			continue
		}
		cm, err := cs.get(ctx, rev)
		if err != nil {
			return err
		}
		if cm != nil {
			cm = h.visibleCommit(r, cm)
		}
		b := newXW()
		b.raw(`<S:file-rev path="` + attr(string(at)) + `" rev="` + strconv.FormatInt(int64(rev), 10) + `">` + "\n")
		if cm != nil {
			if cm.Author != "" {
				b.valueElem("S:rev-prop", ` name="svn:author"`, "encoding", cm.Author)
				b.raw("\n")
			}
			b.raw(`<S:rev-prop name="svn:date">` + svnfs.Time(cm.Time) + "</S:rev-prop>\n")
			if cm.Message != "" {
				b.valueElem("S:rev-prop", ` name="svn:log"`, "encoding", cm.Message)
				b.raw("\n")
			}
		}
		var old map[string]string
		if prev != nil {
			old = svnfs.Props(prev)
		}
		writePropChanges(b, old, svnfs.Props(e), "S:set-prop", "S:remove-prop")
		if prev == nil || string(prev.Value) != string(e.Value) {
			b.raw("<S:txdelta>")
			writeTxdelta(&b.buf, e.Value)
			b.raw("</S:txdelta>")
		}
		b.raw("</S:file-rev>\n")
		items = append(items, b.bytes())
		prev = e
	}
	if reverse {
		slices.Reverse(items)
	}
	for _, it := range items {
		bw.Write(it)
	}
	bw.WriteString("</S:file-revs-report>\n")
	return bw.Flush()
}

// writePropChanges writes the changes that turn properties from into to.
func writePropChanges(b *xw, from, to map[string]string, set, remove string) {
	for _, k := range svnfs.SortedKeys(from) {
		if _, ok := to[k]; !ok {
			b.raw("<" + remove + ` name="` + attr(k) + `"/>` + "\n")
		}
	}
	for _, k := range svnfs.SortedKeys(to) {
		if v, ok := from[k]; !ok || v != to[k] {
			b.valueElem(set, ` name="`+attr(k)+`"`, "encoding", to[k])
			b.raw("\n")
		}
	}
}
