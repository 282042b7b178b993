package svn

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso/bolt"
)

// FuzzSkel parses hostile POST bodies.
func FuzzSkel(f *testing.F) {
	for _, s := range []string{"( create-txn )", "(create-txn-with-props (svn:log 5 hello))", "(", "(((", "9999999999 x", "( 3 ab"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSkel(b)
	})
}

// FuzzPropertyUpdate reads hostile PROPPATCH bodies of a commit.
func FuzzPropertyUpdate(f *testing.F) {
	for _, s := range []string{
		`<D:propertyupdate xmlns:D="DAV:" xmlns:S="http://subversion.tigris.org/xmlns/svn/" xmlns:V="http://subversion.tigris.org/xmlns/dav/"><D:set><D:prop><S:ignore>*.o</S:ignore><S:x V:encoding="base64">AAE=</S:x></D:prop></D:set><D:remove><D:prop><S:y/></D:prop></D:remove></D:propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><a><b/></a></D:prop></D:set></D:propertyupdate>`,
		`<a/>`, ``, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="DAV:"/>`,
	} {
		f.Add(s)
	}
	h := New(nil, Options{})
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("PROPPATCH", "/", strings.NewReader(body))
		set, remove, err := h.readPropertyUpdate(w, r)
		if err != nil {
			if e := asError(err); e.Status >= 500 {
				t.Fatalf("status %d for a bad body: %v", e.Status, err)
			}
			return
		}
		for _, p := range append(set, remove...) {
			_ = p.svnName()
		}
	})
}

// FuzzLoad feeds hostile dump streams to Load: no input may panic, and a
// stream Load refuses is a *LoadError naming where it stopped.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("SVN-fs-dump-format-version: 2\n\nRevision-number: 0\nProp-content-length: 10\nContent-length: 10\n\nPROPS-END\n\nRevision-number: 1\nProp-content-length: 56\nContent-length: 56\n\nK 8\nsvn:date\nV 27\n2026-01-01T00:00:00.000000Z\nPROPS-END\n\nNode-path: a\nNode-kind: dir\nNode-action: add\n\nNode-path: a/f\nNode-kind: file\nNode-action: add\nProp-content-length: 10\nText-content-length: 3\nContent-length: 13\n\nPROPS-END\nabc\n\n"))
	f.Add([]byte("SVN-fs-dump-format-version: 3\n\nRevision-number: 1\n\nNode-path: f\nNode-kind: file\nNode-action: add\nText-delta: true\nText-content-length: 4\nContent-length: 4\n\nSVN\x00\n"))
	f.Add([]byte("SVN-fs-dump-format-version: 2\n\nRevision-number: 1\n\nNode-path: b\nNode-kind: dir\nNode-action: add\nNode-copyfrom-rev: 0\nNode-copyfrom-path: a\n\n"))
	// The stores live in memory where there is a tmpfs: on a disk, each
	// input's fsyncs, not the loader, would set the pace.
	base, err := os.MkdirTemp("/dev/shm", "verso-fuzz")
	if err != nil {
		base = f.TempDir()
	} else {
		f.Cleanup(func() { os.RemoveAll(base) })
	}
	f.Fuzz(func(t *testing.T, dump []byte) {
		dir, err := os.MkdirTemp(base, "load")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		st, err := bolt.Open(filepath.Join(dir, "verso.db"), &bolt.Options{MaxBatch: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = Load(context.Background(), st, bytes.NewReader(dump), LoadOptions{MaxValueSize: 4096})
		var le *LoadError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("Load error %v is not a *LoadError", err)
		}
	})
}
