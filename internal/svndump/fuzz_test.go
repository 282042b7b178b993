package svndump

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/verso-config/verso/bolt"
)

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
