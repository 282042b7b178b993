package svndump

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// Dump writes the history of store, revisions 1 to the head, as an
// svnadmin dump stream (format 2, full texts) that `svnadmin load`
// accepts: each verso revision is the svn revision of the same number,
// with its author, date and message; copies and moves keep their source.
// uuid is the repository UUID the stream names ("" for none).
func Dump(ctx context.Context, store verso.Store, w io.Writer, uuid string, progress func(verso.Revision)) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "SVN-fs-dump-format-version: 2\n\n")
	if uuid != "" {
		fmt.Fprintf(bw, "UUID: %s\n\n", uuid)
	}
	var r0 []byte
	if head > 0 {
		c, err := store.Revision(ctx, 1)
		if err != nil {
			return fmt.Errorf("revision 1: %w", err)
		}
		r0 = propBlock([][2]string{{"svn:date", svnfs.Time(c.Time)}})
	} else {
		r0 = propBlock(nil)
	}
	writeRecord(bw, [][2]string{{"Revision-number", "0"}}, r0, nil, false)
	for rev := verso.Revision(1); rev <= head; rev++ {
		if err := dumpRevision(ctx, store, bw, rev); err != nil {
			return fmt.Errorf("revision %d: %w", rev, err)
		}
		if progress != nil {
			progress(rev)
		}
	}
	return bw.Flush()
}

// propBlock encodes properties as the stream carries them.
func propBlock(props [][2]string) []byte {
	var b []byte
	for _, p := range props {
		b = fmt.Appendf(b, "K %d\n%s\nV %d\n%s\n", len(p[0]), p[0], len(p[1]), p[1])
	}
	return append(b, "PROPS-END\n"...)
}

// writeRecord writes headers, then the property block and text, if any.
func writeRecord(w *bufio.Writer, h [][2]string, props, text []byte, hasText bool) {
	for _, kv := range h {
		fmt.Fprintf(w, "%s: %s\n", kv[0], kv[1])
	}
	if props != nil {
		fmt.Fprintf(w, "Prop-content-length: %d\n", len(props))
	}
	if hasText {
		fmt.Fprintf(w, "Text-content-length: %d\nText-content-md5: %s\nText-content-sha1: %s\n", len(text), svnfs.MD5Hex(text), svnfs.SHA1Hex(text))
	}
	if props != nil || hasText {
		fmt.Fprintf(w, "Content-length: %d\n", len(props)+len(text))
	}
	w.WriteString("\n")
	w.Write(props)
	w.Write(text)
	w.WriteString("\n")
}

// entryProps returns e's svn properties as a property block.
func entryProps(e *verso.Entry) []byte {
	m := svnfs.Props(e)
	var ps [][2]string
	for _, k := range svnfs.SortedKeys(m) {
		ps = append(ps, [2]string{k, m[k]})
	}
	return propBlock(ps)
}

func dumpRevision(ctx context.Context, store verso.Store, w *bufio.Writer, rev verso.Revision) error {
	c, err := store.Revision(ctx, rev)
	if err != nil {
		return err
	}
	var rp [][2]string
	if c.Author != "" {
		rp = append(rp, [2]string{"svn:author", c.Author})
	}
	rp = append(rp, [2]string{"svn:date", svnfs.Time(c.Time)}, [2]string{"svn:log", c.Message})
	writeRecord(w, [][2]string{{"Revision-number", strconv.FormatInt(int64(rev), 10)}}, propBlock(rp), nil, false)

	changes := append([]verso.Change(nil), c.Changes...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	deleted := map[verso.Path]bool{}
	copied := map[verso.Path]verso.Change{}
	// deletes first (a path deleted and made again is a replace)
	for _, ch := range changes {
		if ch.Action != verso.Deleted || underAny(ch.Path, deleted) {
			continue
		}
		deleted[ch.Path] = true
	}
	added := map[verso.Path]bool{}
	for _, ch := range changes {
		if ch.Action != verso.Deleted {
			added[ch.Path] = true
		}
	}
	for _, p := range sortedPaths(deleted) {
		if !added[p] {
			writeRecord(w, [][2]string{{"Node-path", nodePath(p)}, {"Node-action", "delete"}}, nil, nil, false)
		}
	}
	for _, ch := range changes {
		if ch.Action == verso.Deleted {
			continue
		}
		e, err := store.Get(ctx, ch.Path, rev)
		if err != nil {
			return fmt.Errorf("%s: %w", ch.Path, err)
		}
		kind := "file"
		if e.IsNamespace() {
			kind = "dir"
		}
		h := [][2]string{{"Node-path", nodePath(ch.Path)}, {"Node-kind", kind}}
		var before *verso.Entry
		action := "add"
		switch {
		case deleted[ch.Path]:
			action = "replace"
		case ch.Action == verso.Modified:
			action = "change"
			before, _ = svnfs.GetOrNil(ctx, store, ch.Path, rev-1)
		}
		// a path below a copy: implied by the copy, unless it differs from its source
		if anc, ok := copiedAncestor(ch.Path, copied); ok && (ch.Action == verso.Copied || ch.Action == verso.Moved || ch.Action == verso.Added) {
			src := ch.Path.Rebase(anc.Path, anc.From)
			before, _ = svnfs.GetOrNil(ctx, store, src, anc.FromRev)
			if before == nil {
				action = "add"
			} else {
				action = "change"
			}
		} else if ch.Action == verso.Copied || ch.Action == verso.Moved {
			if ch.From != "" {
				h = append(h, [2]string{"Node-copyfrom-rev", strconv.FormatInt(int64(ch.FromRev), 10)}, [2]string{"Node-copyfrom-path", nodePath(ch.From)})
				copied[ch.Path] = ch
				before, _ = svnfs.GetOrNil(ctx, store, ch.From, ch.FromRev)
			}
		}
		h = append(h, [2]string{"Node-action", action})
		var props, text []byte
		hasText := false
		if before == nil || !maps.Equal(svnfs.Props(before), svnfs.Props(e)) {
			if !(before == nil && len(svnfs.Props(e)) == 0 && action == "change") {
				props = entryProps(e)
			}
		}
		if before == nil && action != "change" && len(svnfs.Props(e)) == 0 && kind == "dir" {
			props = nil
		}
		if kind == "file" && (before == nil || string(before.Value) != string(e.Value)) {
			text, hasText = e.Value, true
		}
		if action == "change" && props == nil && !hasText {
			continue
		}
		writeRecord(w, h, props, text, hasText)
	}
	return nil
}

func nodePath(p verso.Path) string { return string(p)[1:] }

func underAny(p verso.Path, set map[verso.Path]bool) bool {
	for q := p.Parent(); ; q = q.Parent() {
		if set[q] && q != p {
			return true
		}
		if q == verso.Root {
			return false
		}
	}
}

func copiedAncestor(p verso.Path, copied map[verso.Path]verso.Change) (verso.Change, bool) {
	for q := p.Parent(); ; q = q.Parent() {
		if ch, ok := copied[q]; ok {
			return ch, true
		}
		if q == verso.Root {
			return verso.Change{}, false
		}
	}
}

func sortedPaths(m map[verso.Path]bool) []verso.Path {
	out := make([]verso.Path, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
