package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// TestLayoutVersions fails when go.mod moves to a version of bbolt whose
// layout nobody checked: review layout.go against the new version's
// source, then add it to layoutVersions and set goModBbolt.
func TestLayoutVersions(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(bboltModule) + `\s+(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatalf("go.mod requires no %s", bboltModule)
	}
	v := string(m[1])
	if !slices.Contains(layoutVersions, v) {
		t.Errorf("go.mod requires bbolt %s, which is not in layoutVersions %v: check layout.go against it and add it", v, layoutVersions)
	}
	if goModBbolt != v {
		t.Errorf("goModBbolt is %s, go.mod requires bbolt %s", goModBbolt, v)
	}
	// Test binaries carry no versions of their dependencies; binaries do.
	if b := buildBbolt(); b != "" && b != v {
		t.Errorf("the build information names bbolt %q, go.mod %s", b, v)
	}
	if l := currentLayout(); !l.known || l.bbolt != v {
		t.Errorf("currentLayout() = %+v, want bbolt %s known", l, v)
	}
}

// TestLayout_Decoders reads a bbolt file made here with the decoders of
// layout.go and compares what they find with what bbolt's own API says:
// meta page, page types and counts, bucket roots, freelist.
func TestLayout_Decoders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "layout.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("v"), 5000) // overflow pages
	for round := range 3 {
		err = db.Update(func(tx *bbolt.Tx) error {
			for b := range 6 {
				bk, err := tx.CreateBucketIfNotExists(fmt.Appendf(nil, "bucket%d", b))
				if err != nil {
					return err
				}
				n := []int{1, 3, 50, 400, 4000, 20}[b] // small ones stay inline
				for k := range n {
					v := []byte(fmt.Sprint(round, k))
					if b == 5 {
						v = big
					}
					if err := bk.Put(fmt.Appendf(nil, "key%06d", k), v); err != nil {
						return err
					}
				}
				if round == 2 && b == 3 {
					for k := range 200 { // free some pages
						if err := bk.Delete(fmt.Appendf(nil, "key%06d", k)); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()

	m, err := readFileMeta(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	metas, err := readMetaPages(f, m.pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if nm := newerMeta(metas, m.pageSize); nm != m {
		t.Errorf("newerMeta = %+v, readFileMeta %+v", nm, m)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		if m.pageSize != db.Info().PageSize || m.txid != uint64(tx.ID()) || m.pgid*uint64(m.pageSize) != uint64(tx.Size()) {
			t.Errorf("meta page: %+v; bbolt: page size %d, txid %d, size %d", m, db.Info().PageSize, tx.ID(), tx.Size())
		}
		// Every page's header against bbolt's Tx.Page.
		types := map[uint16]string{branchPageFlag: "branch", leafPageFlag: "leaf", freelistFlag: "freelist", 0x04: "meta"}
		overflowed := false
		// (The pages after one with overflow pages are its own: skip them.)
		for id, next := uint64(0), uint64(0); id < m.pgid; id = next {
			next = id + 1
			info, err := tx.Page(int(id))
			if err != nil || info == nil {
				t.Fatalf("bbolt: page %d: %v", id, err)
			}
			if info.Type == "free" {
				continue
			}
			b, ok, err := readWholePage(f, id, m.pageSize, m.pgid)
			if err != nil || !ok {
				t.Fatalf("page %d: %v", id, err)
			}
			h := readHeader(b)
			if h.id != id || types[h.flags] != info.Type || int(h.count) != info.Count || int(h.overflow) != info.OverflowCount {
				t.Errorf("page %d: decoded %+v, bbolt %+v", id, h, info)
			}
			if len(b) != h.pageLen(m.pageSize) {
				t.Errorf("page %d: read %d bytes, want %d", id, len(b), h.pageLen(m.pageSize))
			}
			overflowed = overflowed || h.overflow > 0
			next = id + uint64(h.overflow) + 1
			if id == m.freelist {
				stats := db.Stats()
				if n, ok := freelistFits(b); !ok || int(n) != stats.FreePageN+stats.PendingPageN {
					t.Errorf("freelist: %d ids (%v), bbolt %d free and %d pending", n, ok, stats.FreePageN, stats.PendingPageN)
				}
			}
		}
		if !overflowed {
			t.Error("no page with overflow pages: the test wants one")
		}
		// The root bucket's leaf: every bucket, its root page or its
		// inline page.
		root, err := readPage(f, m.root, m.pageSize)
		if err != nil {
			return err
		}
		var want []uint64
		inline := 0
		err = tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			if r := uint64(bk.Root()); r != 0 {
				want = append(want, r)
			} else {
				inline++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if got := bucketRoots(root); !slices.Equal(got, want) || inline == 0 {
			t.Errorf("bucket roots %v, bbolt %v (%d inline: the test wants some)", got, want, inline)
		}
		for i := range int(readHeader(root).count) {
			flags, name, v, ok := leafElem(root, i)
			bk := tx.Bucket(name)
			if !ok || !isBucket(flags) || bk == nil {
				t.Fatalf("element %d: %q (%v), flags %#x", i, name, ok, flags)
			}
			r, page, ok := bucketRoot(v)
			if !ok || r != uint64(bk.Root()) {
				t.Errorf("bucket %s: root %d (%v), bbolt %d", name, r, ok, bk.Root())
			}
			if r == 0 && int(readHeader(page).count) != bk.Stats().KeyN {
				t.Errorf("inline bucket %s: %d keys, bbolt %d", name, readHeader(page).count, bk.Stats().KeyN)
			}
			// Each tree's pages, level by level, as bbolt counts them.
			if r != 0 {
				st := bk.Stats()
				pages, levels := 0, 0
				walkTree(f, tx.Size(), m.pageSize, r, func(l []uint64) { pages += len(l); levels++ })
				if levels != st.Depth || pages != st.BranchPageN+st.LeafPageN {
					t.Errorf("bucket %s: %d levels of %d pages, bbolt depth %d, %d branch and %d leaf pages",
						name, levels, pages, st.Depth, st.BranchPageN, st.LeafPageN)
				}
			}
		}
		if p := checkPages(f, fi.Size()); len(p) > 0 {
			t.Errorf("checkPages: %v", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLayout_FormatVersion checks that a file whose meta pages carry
// another bbolt format version is refused at open as such, not as damage.
func TestLayout_FormatVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := s.pageSize
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, pageOffset(1, pageSize)} {
		ne.PutUint32(b[off+pageHeader+4:], boltVersion+1)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, nil)
	if err == nil || !strings.Contains(err.Error(), "format version 3") || errors.Is(err, errCorrupt) {
		t.Errorf("Open of bbolt format version 3 = %v, want it named, not as damage", err)
	}
}

// withBbolt has the package take the build's bbolt for version v while
// the test runs.
func withBbolt(t *testing.T, v string) {
	old := testBboltVersion
	testBboltVersion = v
	t.Cleanup(func() { testBboltVersion = old })
}

// TestLayout_Unknown opens stores as a build with a bbolt version whose
// layout verso was not checked against would: read-ahead and the page
// checker turn off with one log line, commits go without the log (bbolt
// syncs each), and a log left by a crash is refused, naming the version,
// rather than its meta pages restored.
func TestLayout_Unknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("/a", "1"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	withBbolt(t, "v9.9.9")
	var logged bytes.Buffer
	s, err = Open(path, &Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(logged.String(), "\n"); lines != 1 || !strings.Contains(logged.String(), "v9.9.9") ||
		!strings.Contains(logged.String(), "read-ahead") || !strings.Contains(logged.String(), "log") {
		t.Errorf("log of Open = %q, want one line naming bbolt v9.9.9 and what is off", logged.String())
	}
	if s.layout.known || s.wal != nil || s.db.NoSync {
		t.Errorf("layout %+v, log %v, NoSync %v: want an unknown layout, no log, bbolt syncing", s.layout, s.wal != nil, s.db.NoSync)
	}
	if _, err := os.Stat(walPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a log beside the data file (%v): want none", err)
	}
	mustCommit(t, s, put("/b", "2"))
	if err := s.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(path, 0); err == nil || !strings.Contains(err.Error(), "v9.9.9") {
		t.Errorf("CheckFile = %v, want it refused, naming bbolt v9.9.9", err)
	}

	// A log left by a crash.
	withBbolt(t, layoutVersions[0])
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("/c", "3"))
	crash(t, s)
	withBbolt(t, "v9.9.9")
	before, _ := os.ReadFile(path)
	_, err = Open(path, nil)
	if err == nil || !strings.Contains(err.Error(), "v9.9.9") || !strings.Contains(err.Error(), walPath(path)) {
		t.Errorf("Open with a log = %v, want it refused, naming bbolt v9.9.9 and the log", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused Open changed the data file")
	}
	if _, err := os.Stat(walPath(path)); err != nil {
		t.Errorf("the log: %v, want it kept", err)
	}
	withBbolt(t, layoutVersions[0])
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := headOf(t, s); h != 3 {
		t.Errorf("head r%d after recovery, want r3", h)
	}
	e, err := s.Get(context.Background(), "/c", verso.Head)
	if err != nil || string(e.Value) != "3" {
		t.Errorf("/c = %v, %v", e, err)
	}
}
