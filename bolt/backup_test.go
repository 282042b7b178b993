package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/verso-config/verso"
)

func TestStore_Backup(t *testing.T) {
	s := mustOpen(t, &Options{Clock: testClock()})
	mustCommit(t, s, mkcol("/app"), put("/app/k", "v1"))
	mustCommit(t, s, put("/app/k", "v2"), put("/app/j", "x"))
	mustCommit(t, s, del("/app/j"))

	// Commits go on while the backup runs; the snapshot holds some prefix
	// of them, complete.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			mustCommit(t, s, put("/app/k", fmt.Sprint("during", i)))
		}
	}()
	var buf bytes.Buffer
	n, err := s.Backup(context.Background(), &buf)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup() error: %v", err)
	}
	if n != int64(buf.Len()) || n == 0 {
		t.Errorf("Backup() = %d bytes, wrote %d", n, buf.Len())
	}

	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(path, 0); err != nil {
		t.Fatalf("CheckFile(snapshot) = %v", err)
	}
	b, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open(snapshot): %v", err)
	}
	defer b.Close()
	ctx := context.Background()
	head, _ := b.Head(ctx)
	if head < 3 || head > 23 {
		t.Fatalf("snapshot head = %d, want 3..23", head)
	}
	for rev := verso.Revision(1); rev <= head; rev++ {
		want, err := s.Revision(ctx, rev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Revision(ctx, rev)
		if err != nil {
			t.Fatalf("snapshot Revision(%d): %v", rev, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("snapshot Revision(%d) differs (-store +snapshot):\n%s", rev, diff)
		}
		if diff := cmp.Diff(walkAll(t, s, "/", rev, verso.Infinite), walkAll(t, b, "/", rev, verso.Infinite)); diff != "" {
			t.Errorf("snapshot tree at r%d differs (-store +snapshot):\n%s", rev, diff)
		}
	}
}

func TestStore_BackupCanceled(t *testing.T) {
	s := mustOpen(t, nil)
	mustCommit(t, s, mkcol("/a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup(canceled) = %v, want context.Canceled", err)
	}
	s.Close()
	if _, err := s.Backup(context.Background(), &bytes.Buffer{}); !errors.Is(err, verso.ErrClosed) {
		t.Errorf("Backup() after Close = %v, want ErrClosed", err)
	}
}

func TestStore_SizeWritable(t *testing.T) {
	s := mustOpen(t, nil)
	if err := s.Writable(); err != nil {
		t.Errorf("Writable() = %v, want nil", err)
	}
	before := s.Size()
	if before <= 0 {
		t.Errorf("Size() = %d, want > 0", before)
	}
	for i := range 50 {
		mustCommit(t, s, put(fmt.Sprint("/k", i), strings.Repeat("x", 4096)))
	}
	if after := s.Size(); after <= before {
		t.Errorf("Size() after 200KiB of values = %d, want more than %d", after, before)
	}
	s.Close()
	if err := s.Writable(); !errors.Is(err, verso.ErrClosed) {
		t.Errorf("Writable() after Close = %v, want ErrClosed", err)
	}
	if n := s.Size(); n != 0 {
		t.Errorf("Size() after Close = %d, want 0", n)
	}
}

func TestCheckFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, mkcol("/a"), put("/a/k", "1"))
	mustCommit(t, s, put("/a/k", "2"))

	// In use by the store: refused, not waited for.
	if err := CheckFile(path, 100e6); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("CheckFile(open store) = %v, want 'in use'", err)
	}
	s.Close()
	if err := CheckFile(path, 0); err != nil {
		t.Errorf("CheckFile(good file) = %v", err)
	}
	if err := CheckFile(filepath.Join(t.TempDir(), "missing.db"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckFile(missing) = %v, want ErrNotExist", err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("verso"), 4096), 0o600)
	if err := CheckFile(garbage, 0); err == nil {
		t.Errorf("CheckFile(garbage) = nil, want an error")
	}

	mustUpdateFile(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketIndex).Delete(indexKey("/a", 2)) })
	if err := CheckFile(path, 0); err == nil || !strings.Contains(err.Error(), "index /a@2: missing") {
		t.Errorf("CheckFile(corrupted) = %v, want 'index /a@2: missing'", err)
	}
}
