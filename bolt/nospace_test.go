//go:build linux

package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// mountTmpfs mounts a tmpfs of size bytes for the test and returns its
// directory, or skips the test where it cannot (not root, no tmpfs).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system to fill needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount a tmpfs to fill: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full and returns
// its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			break
		}
	}
	// What a partial write may have left: fill to the last byte.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// TestStore_DiskFull fills the file system of a store: a commit that needs
// more space is refused with ErrNoSpace and changes nothing, reads go on,
// small commits that fit in the log's room are kept although bbolt cannot
// write them yet, and once space is freed commits succeed again without
// reopening the store, which then holds every acknowledged commit.
func TestStore_DiskFull(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	path := filepath.Join(dir, "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // the last s, before unmounting
	ctx := context.Background()
	mustCommit(t, s, put("/a", "1"))
	filler := fillDisk(t, dir)

	big := strings.Repeat("x", 600<<10) // more than the log's room: it must grow
	_, err = s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/big", big)}})
	if !errors.Is(err, verso.ErrNoSpace) {
		t.Fatalf("Commit on a full disk: %v, want ErrNoSpace", err)
	}
	if e := mustGet(t, s, "/a", verso.Head); string(e.Value) != "1" {
		t.Errorf("Get(/a) on a full disk = %q, want 1", e.Value)
	}
	if _, err := s.Get(ctx, "/big", verso.Head); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("Get(/big) after its commit was refused: %v, want ErrNotFound", err)
	}
	// Small commits fit in the log's room; bbolt cannot write them
	// (its file must grow), which must not stop the store.
	var acked []string
	for i := range 40 {
		p := "/small" + strings.Repeat("s", i)
		_, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put(p, strings.Repeat("v", 4<<10))}})
		switch {
		case err == nil:
			acked = append(acked, p)
		case !errors.Is(err, verso.ErrNoSpace):
			t.Fatalf("small commit %d on a full disk: %v, want nil or ErrNoSpace", i, err)
		}
	}
	time.Sleep(3 * defaultTxMaxAge) // bbolt's commit is tried and fails
	if err := s.Writable(); err != nil {
		t.Fatalf("Writable on a full disk: %v, want nil (the store carries on)", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/big", big)}}); err != nil {
		t.Fatalf("Commit after space was freed: %v", err)
	}
	acked = append(acked, "/big")
	for _, p := range acked {
		mustGet(t, s, p, verso.Head)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	head := headOf(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := headOf(t, s); h != head {
		t.Errorf("head after reopening = r%d, want r%d", h, head)
	}
	for _, p := range acked {
		mustGet(t, s, p, verso.Head)
	}
}

// TestStore_LogSyncFailed has a sync of the log fail (as one may on a full
// disk): the log takes no more records, and the next commit starts a new
// log first, which a full disk refuses with ErrNoSpace until space is
// freed.
func TestStore_LogSyncFailed(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	path := filepath.Join(dir, "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.walIdle, s.walMaxAge = time.Hour, time.Hour // before the first commit
	ctx := context.Background()
	mustCommit(t, s, put("/a", "1"))
	filler := fillDisk(t, dir)
	old := s.wal
	old.Broken = true // what a failed sync leaves; the committer is idle
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{put("/b", "2")}}); !errors.Is(err, verso.ErrNoSpace) {
		t.Fatalf("Commit after a failed sync, on a full disk: %v, want ErrNoSpace", err)
	}
	if _, err := os.Stat(walPath(path) + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("new log left behind after a failed checkpoint: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, put("/b", "2"))
	if s.wal == old || s.wal.Broken {
		t.Error("the store appended to the log whose sync failed")
	}
	mustCommit(t, s, put("/c", "3"))
	crash(t, s)
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{"/a", "/b", "/c"} {
		mustGet(t, s, p, verso.Head)
	}
	if h := headOf(t, s); h != 3 {
		t.Errorf("head = r%d, want r3", h)
	}
}
