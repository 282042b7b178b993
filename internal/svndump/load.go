package svndump

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svndiff"
	"github.com/verso-config/verso/internal/svnfs"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// SetTime is called before each revision is committed with the time
	// the dump gives it (svn:date): the store's clock must answer it.
	SetTime func(time.Time)
	// MaxValueSize is the largest file text kept; a larger one is
	// reported and left out. Default 1 MiB.
	MaxValueSize int64
	// Progress, if set, is called after each revision is committed.
	Progress func(rev verso.Revision, offset int64)
	// Report receives each thing of the dump that verso cannot keep.
	Report func(msg string)
	// UUID, if set, receives the repository UUID the stream names.
	UUID func(uuid string)
}

// LoadError is a dump stream that cannot be read: it names the revision
// and the byte offset where reading stopped.
type LoadError struct {
	Rev    verso.Revision
	Offset int64
	Err    error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("dump stream: revision %d, byte offset %d: %v", e.Rev, e.Offset, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// countReader counts the bytes read from the stream.
type countReader struct {
	r *bufio.Reader
	n int64
}

func (c *countReader) line() (string, error) {
	s, err := c.r.ReadString('\n')
	c.n += int64(len(s))
	if err == io.EOF && s != "" {
		return s, io.ErrUnexpectedEOF
	}
	return strings.TrimSuffix(s, "\n"), err
}

func (c *countReader) read(n int64) ([]byte, error) {
	if n < 0 || n > 1<<31 {
		return nil, fmt.Errorf("content length %d is out of range", n)
	}
	b := make([]byte, 0, min(n, 1<<20))
	buf := make([]byte, 32<<10)
	for int64(len(b)) < n {
		k, err := c.r.Read(buf[:min(int64(len(buf)), n-int64(len(b)))])
		b = append(b, buf[:k]...)
		c.n += int64(k)
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// record is one header block of the stream and its content.
type record struct {
	h       map[string]string
	props   []byte
	text    []byte
	hasText bool
	hasProp bool
}

// readRecord reads the next record; io.EOF at the end of the stream.
func (c *countReader) readRecord() (*record, error) {
	var l string
	var err error
	for {
		l, err = c.line()
		if err != nil {
			return nil, err
		}
		if l != "" {
			break
		}
	}
	rec := &record{h: map[string]string{}}
	for l != "" {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", l)
		}
		rec.h[k] = v
		if l, err = c.line(); err != nil {
			return nil, err
		}
	}
	num := func(name string) (int64, bool, error) {
		v, ok := rec.h[name]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, false, fmt.Errorf("invalid %s %q", name, v)
		}
		return n, true, nil
	}
	pl, hasP, err1 := num("Prop-content-length")
	tl, hasT, err2 := num("Text-content-length")
	cl, hasC, err3 := num("Content-length")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	if hasC && cl != pl+tl {
		if !hasP && !hasT {
			pl = cl // old dumps give only Content-length for revision properties
			hasP = true
		} else {
			return nil, fmt.Errorf("the Content-length %d is not the sum of the property and text lengths", cl)
		}
	}
	if hasP {
		if rec.props, err = c.read(pl); err != nil {
			return nil, err
		}
		rec.hasProp = true
	}
	if hasT {
		if rec.text, err = c.read(tl); err != nil {
			return nil, err
		}
		rec.hasText = true
	}
	return rec, nil
}

// parseProps reads a property block: the properties set, and (in a
// Prop-delta block) those deleted.
func parseProps(b []byte) (set map[string]string, order []string, del []string, err error) {
	set = map[string]string{}
	r := &countReader{r: bufio.NewReader(strings.NewReader(string(b)))}
	for {
		l, err := r.line()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("property block: %v", err)
		}
		if l == "PROPS-END" {
			return set, order, del, nil
		}
		kind, n, ok := strings.Cut(l, " ")
		size, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || (kind != "K" && kind != "D") {
			return nil, nil, nil, fmt.Errorf("property block: malformed line %q", l)
		}
		name, err := r.read(size)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("property block: %v", err)
		}
		if l, err := r.line(); err != nil || l != "" {
			return nil, nil, nil, errors.New("property block: name not followed by a newline")
		}
		if kind == "D" {
			del = append(del, string(name))
			continue
		}
		l, err = r.line()
		v, ok := strings.CutPrefix(l, "V ")
		size, err2 := strconv.ParseInt(v, 10, 64)
		if err != nil || !ok || err2 != nil {
			return nil, nil, nil, fmt.Errorf("property block: no value for %q", name)
		}
		val, err := r.read(size)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("property block: %v", err)
		}
		if l, err := r.line(); err != nil || l != "" {
			return nil, nil, nil, errors.New("property block: value not followed by a newline")
		}
		set[string(name)] = string(val)
		order = append(order, string(name))
	}
}

// propNameRE is the svn property names verso keeps (they become XML
// element names).
var propNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*$`)

// deadPropName returns the dead property an svn property is kept as.
func deadPropName(name string) (string, bool) {
	if rest, ok := strings.CutPrefix(name, "svn:"); ok {
		return "{" + svnfs.NSSVNProp + "}" + rest, propNameRE.MatchString(rest)
	}
	return "{" + svnfs.NSCustom + "}" + name, propNameRE.MatchString(name)
}

// loader holds the state of one Load.
type loader struct {
	ctx   context.Context
	store verso.Store
	o     LoadOptions
	rev   verso.Revision // the revision being read
	// the revision being built
	author, log string
	date        time.Time
	ops         []verso.Op
	deleted     map[verso.Path]int // index of the OpDelete
	touched     map[verso.Path]bool
	state       map[verso.Path]*loadNode
	copies      map[verso.Path]copySource
	skipped     map[verso.Path]bool // paths left out, with what is below them
	started     bool
}

// loadNode is a path as this revision left it so far.
type loadNode struct {
	kind  verso.Kind
	text  []byte
	props map[string]string // svn names
	gone  bool
}

// copySource is where a path copied in this revision came from.
type copySource struct {
	path verso.Path
	rev  verso.Revision
}

// Load reads an svnadmin dump stream (format 2 or 3, with or without
// deltas) into store: each revision of the stream becomes the verso
// revision of the same number, with its svn:author, svn:date and svn:log.
// An empty store takes a dump that starts at revision 0 or 1; a store
// whose head is N only one that starts at revision N+1 (an incremental
// dump, svnadmin dump -r N+1:M --incremental), whose changes apply to
// the tree the store holds. What verso cannot keep is passed to o.Report.
func Load(ctx context.Context, store verso.Store, r io.Reader, o LoadOptions) (verso.Revision, error) {
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = 1 << 20
	}
	if o.Report == nil {
		o.Report = func(string) {}
	}
	if o.SetTime == nil {
		o.SetTime = func(time.Time) {}
	}
	l := &loader{ctx: ctx, store: store, o: o, skipped: map[verso.Path]bool{}}
	cr := &countReader{r: bufio.NewReaderSize(r, 64<<10)}
	fail := func(err error) error {
		return &LoadError{Rev: l.rev, Offset: cr.n, Err: err}
	}
	first, err := cr.readRecord()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, fail(err)
	}
	switch first.h["SVN-fs-dump-format-version"] {
	case "1", "2", "3":
	default:
		return 0, fail(fmt.Errorf("not an svnadmin dump stream (format %q)", first.h["SVN-fs-dump-format-version"]))
	}
	for {
		rec, err := cr.readRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fail(err)
		}
		switch {
		case rec.h["UUID"] != "":
			if o.UUID != nil {
				o.UUID(rec.h["UUID"])
			} else {
				o.Report(fmt.Sprintf("the repository UUID %s is not kept", rec.h["UUID"]))
			}
		case rec.h["Revision-number"] != "":
			if err := l.commit(); err != nil {
				return 0, fail(err)
			}
			n, err := strconv.ParseInt(rec.h["Revision-number"], 10, 64)
			if err != nil || n < 0 {
				return 0, fail(fmt.Errorf("invalid Revision-number %q", rec.h["Revision-number"]))
			}
			if err := l.begin(verso.Revision(n), rec); err != nil {
				return 0, fail(err)
			}
			if o.Progress != nil && n > 0 {
				o.Progress(verso.Revision(n)-1, cr.n)
			}
		case rec.h["Node-path"] != "" || rec.h["Node-action"] != "":
			if !l.started {
				return 0, fail(errors.New("a node record before any revision"))
			}
			if err := l.node(rec); err != nil {
				return 0, fail(err)
			}
		default:
			return 0, fail(errors.New("a record that is neither a revision nor a node"))
		}
	}
	if err := l.commit(); err != nil {
		return 0, fail(err)
	}
	head, err := store.Head(ctx)
	if o.Progress != nil {
		o.Progress(head, cr.n)
	}
	return head, err
}

// begin starts revision n.
func (l *loader) begin(n verso.Revision, rec *record) error {
	head, err := l.store.Head(l.ctx)
	if err != nil {
		return err
	}
	l.rev = n // named by the errors
	switch {
	case !l.started && head > 0 && n != head+1:
		return fmt.Errorf("the dump starts at revision %d, but the store ends at revision %d: verso keeps revision numbers, so onto this store it loads only a dump that starts at revision %d (svnadmin dump -r %d:HEAD --incremental); a whole dump loads into a new store", n, head, head+1, head+1)
	case n != head+1 && !(n == 0 && head == 0 && !l.started):
		return fmt.Errorf("revision %d does not follow revision %d: verso keeps revision numbers, so a dump must start at revision 0 or 1 (or, onto a store that ends at revision N, at N+1) and leave none out", n, head)
	}
	l.rev, l.started = n, true
	l.author, l.log, l.date = "", "", time.Time{}
	l.ops = nil
	l.deleted, l.touched = map[verso.Path]int{}, map[verso.Path]bool{}
	l.state, l.copies = map[verso.Path]*loadNode{}, map[verso.Path]copySource{}
	if !rec.hasProp {
		return nil
	}
	props, _, _, err := parseProps(rec.props)
	if err != nil {
		return err
	}
	for k, v := range props {
		switch k {
		case "svn:author":
			l.author = v
		case "svn:log":
			l.log = v
		case "svn:date":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("invalid svn:date %q", v)
			}
			l.date = t
		default:
			l.o.Report(fmt.Sprintf("r%d: revision property %s is not kept (verso keeps svn:author, svn:date and svn:log)", n, k))
		}
	}
	return nil
}

// commit commits the revision read so far as one verso revision.
func (l *loader) commit() error {
	if !l.started || l.rev == 0 {
		return nil
	}
	ops := l.ops
	if len(ops) == 0 {
		// a revision that changed nothing keeps its number
		ops = []verso.Op{{Kind: verso.OpCheck, Path: verso.Root}}
	}
	if l.date.IsZero() {
		l.o.Report(fmt.Sprintf("r%d has no svn:date: it gets the time it was loaded", l.rev))
		l.date = time.Now()
	}
	l.o.SetTime(l.date)
	c, err := l.store.Commit(l.ctx, &verso.Txn{Author: l.author, Message: l.log, Ops: ops})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c.Rev != l.rev {
		return fmt.Errorf("committed as verso revision %d, not %d", c.Rev, l.rev)
	}
	l.ops = nil
	return nil
}

// lookup returns p as the revision has it so far (nil if absent).
func (l *loader) lookup(p verso.Path) (*loadNode, error) {
	if n, ok := l.state[p]; ok {
		if n.gone {
			return nil, nil
		}
		return n, nil
	}
	for q := p; ; q = q.Parent() {
		if c, ok := l.copies[q]; ok {
			return l.readStore(p.Rebase(q, c.path), c.rev)
		}
		if n, ok := l.state[q]; ok && n.gone {
			return nil, nil
		}
		if q == verso.Root {
			break
		}
	}
	return l.readStore(p, verso.Head)
}

func (l *loader) readStore(p verso.Path, rev verso.Revision) (*loadNode, error) {
	e, err := l.store.Get(l.ctx, p, rev)
	if errors.Is(err, verso.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &loadNode{kind: e.Kind, text: e.Value, props: svnfs.Props(e)}, nil
}

func (l *loader) skippedBelow(p verso.Path) bool {
	for q := p; ; q = q.Parent() {
		if l.skipped[q] {
			return true
		}
		if q == verso.Root {
			return false
		}
	}
}

// node applies one node record.
func (l *loader) node(rec *record) error {
	p, err := verso.ParsePath("/" + strings.TrimPrefix(rec.h["Node-path"], "/"))
	if err != nil {
		return fmt.Errorf("invalid Node-path %q: %v", rec.h["Node-path"], err)
	}
	action := rec.h["Node-action"]
	if l.skippedBelow(p) {
		l.o.Report(fmt.Sprintf("r%d: %s of %s left out, as that path was left out before", l.rev, action, p))
		return nil
	}
	switch action {
	case "delete":
		return l.del(p)
	case "replace":
		if err := l.del(p); err != nil {
			return err
		}
		return l.add(p, rec)
	case "add":
		return l.add(p, rec)
	case "change":
		return l.change(p, rec)
	}
	return fmt.Errorf("node %s: unknown Node-action %q", p, action)
}

func (l *loader) del(p verso.Path) error {
	if p == verso.Root {
		return errors.New("a node deletes the root directory")
	}
	n, err := l.lookup(p)
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("node %s: deletes a path that does not exist", p)
	}
	l.ops = append(l.ops, verso.Op{Kind: verso.OpDelete, Path: p})
	l.deleted[p] = len(l.ops) - 1
	svnfs.DropBelow(l.state, p)
	svnfs.DropBelow(l.copies, p)
	l.state[p] = &loadNode{gone: true}
	return nil
}

func (l *loader) add(p verso.Path, rec *record) error {
	kind := verso.KindKey
	switch rec.h["Node-kind"] {
	case "file":
	case "dir":
		kind = verso.KindNamespace
	default:
		return fmt.Errorf("node %s: invalid Node-kind %q", p, rec.h["Node-kind"])
	}
	var base *loadNode
	if from := rec.h["Node-copyfrom-path"]; from != "" {
		src, err := verso.ParsePath("/" + strings.TrimPrefix(from, "/"))
		if err != nil {
			return fmt.Errorf("node %s: invalid Node-copyfrom-path %q", p, from)
		}
		rev, err := strconv.ParseInt(rec.h["Node-copyfrom-rev"], 10, 64)
		if err != nil || rev < 0 || verso.Revision(rev) >= l.rev {
			return fmt.Errorf("node %s: invalid Node-copyfrom-rev %q", p, rec.h["Node-copyfrom-rev"])
		}
		if l.skippedBelow(src) {
			l.o.Report(fmt.Sprintf("r%d: copy of %s to %s left out, as its source was left out", l.rev, src, p))
			l.skipped[p] = true
			return nil
		}
		if base, err = l.copy(p, src, verso.Revision(rev)); err != nil {
			return err
		}
	} else if kind == verso.KindNamespace {
		l.ops = append(l.ops, verso.Op{Kind: verso.OpMkcol, Path: p})
	}
	if base == nil {
		base = &loadNode{kind: kind}
	}
	n := &loadNode{kind: kind, text: base.text, props: base.props}
	if kind == verso.KindKey && (base.kind != verso.KindKey || rec.hasText || rec.h["Node-copyfrom-path"] == "") {
		text, ok, err := l.text(p, rec, base.text)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		n.text = text
		l.ops = append(l.ops, verso.Op{Kind: verso.OpPut, Path: p, Value: text, ContentType: contentTypeOf(text, rec, nil)})
	}
	l.state[p] = n
	return l.props(p, n, rec, base.props)
}

// copy adds the copy of src at rev to p and returns what it copied.
func (l *loader) copy(p, src verso.Path, rev verso.Revision) (*loadNode, error) {
	se, err := l.store.Get(l.ctx, src, rev)
	if err != nil {
		return nil, fmt.Errorf("node %s: copy source %s@%d: %w", p, src, rev, err)
	}
	cur, err := l.store.Get(l.ctx, src, verso.Head)
	if err != nil && !errors.Is(err, verso.ErrNotFound) {
		return nil, err
	}
	touched := false
	for q := range l.state {
		if src.Contains(q) || q.Contains(src) {
			if _, del := l.deleted[q]; !del || !q.Contains(src) {
				touched = true
			}
		}
	}
	depth := 0
	if se.IsNamespace() {
		depth = verso.Infinite
	}
	ops, err := svnfs.CopyOps(l.ctx, l.store, src, p, rev, depth, se, cur, !touched)
	if err != nil {
		return nil, err
	}
	l.ops = svnfs.InsertOps(l.ops, l.deleted, svnfs.CopyAt(l.deleted, src, len(l.ops)), ops)
	l.copies[p] = copySource{path: src, rev: rev}
	return &loadNode{kind: se.Kind, text: se.Value, props: svnfs.Props(se)}, nil
}

func (l *loader) change(p verso.Path, rec *record) error {
	n, err := l.lookup(p)
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("node %s: changes a path that does not exist", p)
	}
	nn := &loadNode{kind: n.kind, text: n.text, props: n.props}
	if rec.hasText {
		if n.kind != verso.KindKey {
			return fmt.Errorf("node %s: text for a directory", p)
		}
		text, ok, err := l.text(p, rec, n.text)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		nn.text = text
		l.ops = append(l.ops, verso.Op{Kind: verso.OpPut, Path: p, Value: text, ContentType: contentTypeOf(text, rec, n.props)})
	}
	l.state[p] = nn
	return l.props(p, nn, rec, n.props)
}

// text returns the node's text: its content, or its delta applied to
// base. ok is false if it was left out (too large).
func (l *loader) text(p verso.Path, rec *record, base []byte) ([]byte, bool, error) {
	if !rec.hasText {
		return []byte{}, true, nil
	}
	text := rec.text
	if rec.h["Text-delta"] == "true" {
		var err error
		text, err = svndiff.Apply(rec.text, base, l.o.MaxValueSize)
		if errors.Is(err, svndiff.ErrTooLarge) {
			text = nil
		} else if err != nil {
			return nil, false, fmt.Errorf("node %s: text delta: %v", p, err)
		}
	}
	if text == nil || int64(len(text)) > l.o.MaxValueSize {
		l.o.Report(fmt.Sprintf("r%d: %s left out: its text is larger than --max-value-size (%d bytes)", l.rev, p, l.o.MaxValueSize))
		l.skipped[p] = true
		return nil, false, nil
	}
	if want := rec.h["Text-content-md5"]; want != "" && svnfs.MD5Hex(text) != want {
		return nil, false, fmt.Errorf("node %s: text checksum mismatch (MD5 %s, want %s)", p, svnfs.MD5Hex(text), want)
	}
	return text, true, nil
}

// props applies the node's property block to p, whose properties were old.
func (l *loader) props(p verso.Path, n *loadNode, rec *record, old map[string]string) error {
	if !rec.hasProp {
		return nil
	}
	set, order, del, err := parseProps(rec.props)
	if err != nil {
		return fmt.Errorf("node %s: %v", p, err)
	}
	next := map[string]string{}
	if rec.h["Prop-delta"] == "true" {
		for k, v := range old {
			next[k] = v
		}
		for _, k := range del {
			delete(next, k)
		}
	}
	var changes []verso.PropChange
	for k := range old {
		if _, keep := set[k]; !keep {
			if _, still := next[k]; !still {
				if name, ok := deadPropName(k); ok {
					changes = append(changes, verso.PropChange{Name: name, Remove: true})
				}
			}
		}
	}
	for _, k := range order {
		v := set[k]
		name, ok := deadPropName(k)
		if !ok {
			l.o.Report(fmt.Sprintf("r%d: property %q of %s is not kept: verso keeps property names that are XML names", l.rev, k, p))
			continue
		}
		if !svnfs.XMLSafe(strings.ReplaceAll(v, "\r", "")) {
			l.o.Report(fmt.Sprintf("r%d: property %s of %s is not kept: its value is not text", l.rev, k, p))
			continue
		}
		next[k] = v
		if old[k] == v {
			if _, had := old[k]; had {
				continue
			}
		}
		changes = append(changes, verso.PropChange{Name: name, Value: svnfs.XMLText(v)})
	}
	n.props = next
	if len(changes) > 0 {
		l.ops = append(l.ops, verso.Op{Kind: verso.OpProps, Path: p, Props: changes})
	}
	if mt, ok := next["svn:mime-type"]; ok && n.kind == verso.KindKey {
		for i := range l.ops {
			if l.ops[i].Kind == verso.OpPut && l.ops[i].Path == p {
				l.ops[i].ContentType = mt
			}
		}
	}
	return nil
}

// contentTypeOf returns the content type a loaded key is given: its
// svn:mime-type, or the one verso detects.
func contentTypeOf(text []byte, rec *record, props map[string]string) string {
	if mt := props["svn:mime-type"]; mt != "" {
		return mt
	}
	return http.DetectContentType(text)
}
