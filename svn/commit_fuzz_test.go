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

// FuzzSvndiff applies hostile deltas to a base text: no input may panic,
// and no target may pass the size cap.
func FuzzSvndiff(f *testing.F) {
	f.Add(svndiffFull([]byte("hello\n")), []byte("base"))
	f.Add([]byte("SVN\x00\x00\x04\x06\x02\x02\x00\x04\x82ab"), []byte("base text"))
	f.Add([]byte("SVN\x01\x00\x00\x05\x02\x06\x01\x85\x05hello"), []byte{})
	f.Add([]byte("SVN\x02\x00\x00\x05\x02\x07\x01\x85\x06\x05\x50hello"), []byte{})
	f.Add([]byte("SVN\x00\x00\x00\x08\x03\x01\x88\x00\x01a"), []byte{})
	f.Fuzz(func(t *testing.T, delta, base []byte) {
		out, err := applySvndiff(delta, base, 4096)
		if err == nil && len(out) > 4096 {
			t.Fatalf("target of %d bytes past the cap", len(out))
		}
	})
}

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

// TestSvndiffRoundTrip checks that deltas the client sends apply: copies
// from the source, from the target (overlapping) and new data, in
// svndiff0, 1 (zlib) and 2 (LZ4).
func TestSvndiffRoundTrip(t *testing.T) {
	if out, err := applySvndiff(svndiffFull([]byte("hello\n")), nil, 100); err != nil || string(out) != "hello\n" {
		t.Fatalf("full text: %q %v", out, err)
	}
	// source "abcdef": copy 3 from source at 2 ("cde"), new "X", copy 4 from target at 0 ("cdeX")
	ins := []byte{0x03, 0x02, 0x81, 0x44, 0x00}
	d := append([]byte("SVN\x00"), 0x00, 0x06, 0x08, byte(len(ins)), 0x01)
	d = append(d, ins...)
	d = append(d, 'X')
	if out, err := applySvndiff(d, []byte("abcdef"), 100); err != nil || string(out) != "cdeXcdeX" {
		t.Fatalf("svndiff0 with copies = %q, %v", out, err)
	}
	if _, err := applySvndiff(d, []byte("abc"), 100); err == nil {
		t.Errorf("a source view past the base applied")
	}
	if _, err := applySvndiff(d, []byte("abcdef"), 4); err == nil {
		t.Errorf("a target past the cap applied")
	}
	// svndiff1: sections stored uncompressed (length prefix equals size)
	d1 := append([]byte("SVN\x01"), 0x00, 0x00, 0x05, 0x02, 0x06, 0x01, 0x85, 0x05)
	d1 = append(d1, "hello"...)
	if out, err := applySvndiff(d1, nil, 100); err != nil || string(out) != "hello" {
		t.Fatalf("svndiff1 = %q, %v", out, err)
	}
	// svndiff2: new data LZ4-compressed: "aaaaaaaaaa" = literal "a", match offset 1 length 9
	lz := []byte{0x15, 'a', 0x01, 0x00}
	d2 := append([]byte("SVN\x02"), 0x00, 0x00, 0x0a, 0x02, byte(1+len(lz)), 0x01, 0x8a, 0x0a)
	d2 = append(d2, lz...)
	if out, err := applySvndiff(d2, nil, 100); err != nil || !bytes.Equal(out, bytes.Repeat([]byte("a"), 10)) {
		t.Fatalf("svndiff2 = %q, %v", out, err)
	}
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
