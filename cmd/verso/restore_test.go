package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// TestRestore_Leftover restores into a directory where an earlier restore
// was cut off while it opened its copy (a crash leaves the copy and the
// copy's write-ahead log): the new copy must not meet the old log, whose
// meta pages would be written over the snapshot's.
func TestRestore_Leftover(t *testing.T) {
	ctx := context.Background()
	commit := func(t *testing.T, s *bolt.Store, p, v string) {
		t.Helper()
		if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: verso.Path(p), Value: []byte(v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	s, err := bolt.Open(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, "/a", "snapshot")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	tmp := filepath.Join(dir, dbFile+".restoring")
	s, err = bolt.Open(tmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		commit(t, s, "/leftover"+string(rune('a'+i)), "x")
	}
	log, err := os.ReadFile(bolt.LogPath(tmp)) // as a crash would leave it
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bolt.LogPath(tmp), log, 0o600); err != nil {
		t.Fatal(err)
	}

	head, err := restore(ctx, snap, dir, false)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if head != 1 {
		t.Errorf("restore: head %d, want 1", head)
	}
	s, err = bolt.Open(filepath.Join(dir, dbFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e, err := s.Get(ctx, "/a", verso.Head); err != nil || string(e.Value) != "snapshot" {
		t.Errorf("Get(/a) after the restore = %v, %v; want %q", e, err, "snapshot")
	}
	if err := s.Check(); err != nil {
		t.Error(err)
	}
}
