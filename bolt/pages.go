package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
)

// guard runs fn and turns a panic (bbolt panics on many kinds of damaged
// page) or a memory fault (bbolt reads the file through a memory map: a
// page beyond the end of a file cut short faults) into an error wrapping
// errCorrupt, instead of the end of the process. A fault is recoverable
// only on the goroutine that set debug.SetPanicOnFault, so fn must do its
// reading on the calling goroutine.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged data file: %v: %w", p, errCorrupt)
		}
	}()
	return fn()
}

// pageWalker checks the structure of every page bbolt can reach from a
// meta page: that each page it points to is below the high-water mark and
// of the right type, and that every element, key and value lies inside its
// page. It reads the file with ReadAt, never through a memory map, so that
// it cannot fault: once it finds no problem, bbolt can read every page
// without reading outside the file, even on a goroutine of its own (as its
// Tx.Check does).
type pageWalker struct {
	f        io.ReaderAt
	m        fileMeta
	seen     map[uint64]bool
	problems []error
}

// checkPages returns the structural problems of the pages of the file f
// of size bytes (none: a nil slice), at most maxProblems of them.
func checkPages(f io.ReaderAt, size int64) []error {
	m, err := readFileMeta(f, size)
	if err != nil {
		return []error{err}
	}
	w := &pageWalker{f: f, m: m, seen: make(map[uint64]bool)}
	w.page(m.root, leafPageFlag|branchPageFlag, 0, "root bucket", nil, nil)
	if m.freelist != noFreelist {
		w.freelist()
	}
	return w.problems
}

func (w *pageWalker) addf(format string, args ...any) {
	if len(w.problems) < maxProblems {
		w.problems = append(w.problems, fmt.Errorf(format, args...))
	}
}

// read returns page id with its overflow pages, or nil after recording a
// problem.
func (w *pageWalker) read(id uint64, what string) []byte {
	if id < firstDataPage || id >= w.m.pgid {
		w.addf("%s: page %d is not below the high-water mark %d", what, id, w.m.pgid)
		return nil
	}
	b, ok, err := readWholePage(w.f, id, w.m.pageSize, w.m.pgid)
	if err != nil {
		w.addf("%s: page %d: %v", what, id, err)
		return nil
	}
	if !ok {
		w.addf("%s: page %d and its %d overflow pages pass the high-water mark %d", what, id, readHeader(b).overflow, w.m.pgid)
		return nil
	}
	return b
}

// page checks the branch or leaf page id and the pages below it, whose
// keys must lie in [lo, hi) (nil: no bound), and returns the greatest key
// below it. Its checks are those bbolt's own page check makes (bounds,
// types, one reference to each page and its overflow pages, key order):
// where the meta page records no freelist, bbolt rebuilds the freelist by
// running that check on a goroutine of its own and panics on the first
// problem it meets, leaving that goroutine reading the file; a file that
// passes the walker gives it nothing to meet.
func (w *pageWalker) page(id uint64, want uint16, depth int, what string, lo, hi []byte) []byte {
	if w.seen[id] {
		w.addf("%s: page %d is referenced twice", what, id)
		return nil
	}
	w.seen[id] = true
	if depth > maxTreeDepth {
		w.addf("%s: page %d: tree deeper than %d", what, id, maxTreeDepth)
		return nil
	}
	b := w.read(id, what)
	if b == nil {
		return nil
	}
	h := readHeader(b)
	if h.id != id {
		w.addf("%s: page %d: its header says page %d", what, id, h.id)
	}
	for i := uint64(1); i <= uint64(h.overflow); i++ {
		if w.seen[id+i] {
			w.addf("%s: page %d: its overflow page %d is referenced twice", what, id, id+i)
		}
		w.seen[id+i] = true
	}
	return w.elements(b, id, want, depth, what, lo, hi)
}

// elements checks the elements of the branch or leaf page b (a page of
// the file, or a bucket inlined in its parent's value when id is 0),
// whose keys must lie in [lo, hi), and returns the greatest key below it.
func (w *pageWalker) elements(b []byte, id uint64, want uint16, depth int, what string, lo, hi []byte) (maxKey []byte) {
	h := readHeader(b)
	flags, count := h.flags, int(h.count)
	if flags&want == 0 || (flags != branchPageFlag && flags != leafPageFlag) {
		w.addf("%s: page %d: type %#x is not a branch or leaf page", what, id, flags)
		return nil
	}
	if !elementsFit(b, count) {
		w.addf("%s: page %d: %d elements do not fit in it", what, id, count)
		return nil
	}
	prev := lo
	for i := range count {
		if flags == branchPageFlag {
			child, key, ok := branchElem(b, i)
			if !ok {
				w.addf("%s: page %d: element %d lies outside the page", what, id, i)
				return nil
			}
			w.keyOrder(id, i, key, prev, hi, what)
			next := hi
			if i+1 < count {
				if _, k, ok := branchElem(b, i+1); ok {
					next = k
				}
			}
			maxKey = w.page(child, leafPageFlag|branchPageFlag, depth+1, what, key, next)
			prev = maxKey
			continue
		}
		eflags, key, v, ok := leafElem(b, i)
		if !ok {
			w.addf("%s: page %d: element %d lies outside the page", what, id, i)
			return nil
		}
		w.keyOrder(id, i, key, prev, hi, what)
		prev, maxKey = key, key
		if !isBucket(eflags) {
			continue
		}
		name := fmt.Sprintf("bucket %q", shown(key))
		if len(v) < bucketHeader {
			w.addf("%s: page %d: %s: header of %d bytes", what, id, name, len(v))
			continue
		}
		root, inline, ok := bucketRoot(v)
		switch {
		case !ok:
			w.addf("%s: page %d: inline %s of %d bytes", what, id, name, len(v))
		case root != 0:
			w.page(root, leafPageFlag|branchPageFlag, depth+1, name, nil, nil)
		default:
			w.elements(inline, 0, leafPageFlag, depth+1, name, nil, nil)
		}
	}
	return maxKey
}

// keyOrder checks key i of page id as bbolt's check does: the first key
// at or above prev (the key its parent points by, or the greatest key of
// the page to its left), any other above prev (the key before it), and
// every key below hi (the parent's next key), when there is one.
func (w *pageWalker) keyOrder(id uint64, i int, key, prev, hi []byte, what string) {
	switch c := bytes.Compare(prev, key); {
	case i == 0 && prev != nil && c > 0, i > 0 && c >= 0:
		w.addf("%s: page %d: key %d (%x) is not above the key before it (%x)", what, id, i, shown(key), shown(prev))
	}
	if hi != nil && bytes.Compare(key, hi) >= 0 {
		w.addf("%s: page %d: key %d (%x) is not below its parent's next key (%x)", what, id, i, shown(key), shown(hi))
	}
}

// freelist checks that the freelist page holds the ids it counts.
func (w *pageWalker) freelist() {
	b := w.read(w.m.freelist, "freelist")
	if b == nil {
		return
	}
	if flags := readHeader(b).flags; flags != freelistFlag {
		w.addf("freelist: page %d: type %#x is not a freelist page", w.m.freelist, flags)
		return
	}
	if n, ok := freelistFits(b); !ok {
		w.addf("freelist: page %d: %d ids do not fit in it", w.m.freelist, n)
	}
}

// checkOpenFile checks, before bbolt reads the data file f, what Open
// relies on: a valid meta page, a file that holds every page below its
// high-water mark, root and freelist pages below it, a freelist page
// that holds the ids it counts. Where the meta page
// records no freelist, bbolt rebuilds it by walking every page on a
// goroutine of its own, where damage would end the process: then every
// page's structure is checked first. A new (empty) file passes.
func checkOpenFile(f *os.File, lay layout) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 || !lay.known {
		return err // without the layout, bbolt checks its meta pages itself
	}
	m, err := readFileMeta(f, fi.Size())
	if errors.Is(err, errLayout) {
		return fmt.Errorf("data file: %w", err)
	}
	if err != nil {
		return fmt.Errorf("damaged data file: %w", err)
	}
	var problems []error
	if m.freelist == noFreelist {
		problems = checkPages(f, fi.Size())
	} else {
		// bbolt reads the ids the freelist page counts.
		w := &pageWalker{f: f, m: m}
		w.freelist()
		problems = w.problems
	}
	if len(problems) == 0 {
		problems = checkBranches(f, m, bucketMeta, bucketTree)
	}
	if len(problems) > 0 {
		return fmt.Errorf("damaged data file: %w", errors.Join(append(problems, errCorrupt)...))
	}
	return nil
}

// checkBranches checks the branch pages of the named buckets' trees (the
// buckets Open reads whole) level by level, as walkTree reads them: every
// child below the high-water mark, and no page reached twice, so that a
// cursor cannot descend forever. It reads only branch pages (and the
// first page of each level, to see whether it is one), not the leaves.
func checkBranches(f io.ReaderAt, m fileMeta, names ...[]byte) []error {
	w := &pageWalker{f: f, m: m}
	root := w.read(m.root, "root bucket")
	if root == nil || readHeader(root).flags != leafPageFlag {
		return w.problems // five buckets fit in one leaf: a branch root is left to bbolt
	}
	count := int(readHeader(root).count)
	for i := range count {
		if !elementsFit(root, i+1) {
			break
		}
		flags, name, v, ok := leafElem(root, i)
		if !ok || !isBucket(flags) {
			continue
		}
		if !slices.ContainsFunc(names, func(n []byte) bool { return bytes.Equal(n, name) }) {
			continue
		}
		if id, _, ok := bucketRoot(v); ok && id != 0 {
			w.branches(id, fmt.Sprintf("bucket %q", shown(name)))
		}
	}
	return w.problems
}

// branches checks the branch pages of the tree whose root page is root.
func (w *pageWalker) branches(root uint64, what string) {
	seen := map[uint64]bool{root: true}
	level := []uint64{root}
	for depth := 0; len(level) > 0; depth++ {
		if depth > maxTreeDepth {
			w.addf("%s: tree deeper than %d", what, maxTreeDepth)
			return
		}
		var next []uint64
		for i, id := range level {
			b := w.read(id, what)
			if b == nil {
				return
			}
			h := readHeader(b)
			if h.flags != branchPageFlag {
				if i == 0 && h.flags == leafPageFlag {
					return // the leaves
				}
				w.addf("%s: page %d: type %#x where the level holds branch pages", what, id, h.flags)
				return
			}
			count := int(h.count)
			if !elementsFit(b, count) {
				w.addf("%s: page %d: %d elements do not fit in it", what, id, count)
				return
			}
			for j := range count {
				child := branchChild(b, j)
				if child < firstDataPage || child >= w.m.pgid {
					w.addf("%s: page %d: child page %d is not below the high-water mark %d", what, id, child, w.m.pgid)
					return
				}
				if seen[child] {
					w.addf("%s: page %d: child page %d is referenced twice", what, id, child)
					return
				}
				seen[child] = true
				next = append(next, child)
			}
		}
		level = next
	}
}

// shown is bytes read from a damaged file, in a message: at most 32 of
// them, then their length when there are more. Damage can make a key or a
// value seem to be gigabytes long.
type shown []byte

const shownMax = 32

// Format prints the bytes with the verb given (%x, %q), shortened.
func (b shown) Format(f fmt.State, verb rune) {
	s := []byte(b)
	if len(s) > shownMax {
		s = s[:shownMax]
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
	if len(b) > shownMax {
		fmt.Fprintf(f, "… (%d bytes)", len(b))
	}
}
