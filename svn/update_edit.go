package svn

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// The editor side of an update report (update.go): the walk that compares
// the working copy with the target tree, and the edits it writes.

func (u *updater) raw(s string) { u.w.WriteString(s) }

func (u *updater) xml(b *xw) { u.w.Write(b.bytes()) }

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
