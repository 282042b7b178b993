package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// TestWalkTree checks that walkTree finds every branch and leaf page of
// the tree bucket, as bbolt counts them, level by level, reading only
// branch pages (and one leaf), and that it stops at a root that is not a
// page of the file.
func TestWalkTree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := range 20 {
		txn := &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: verso.Path(fmt.Sprintf("/n%02d", n))}}}
		for k := range 1000 {
			txn.Ops = append(txn.Ops, verso.Op{Kind: verso.OpPut, Path: verso.Path(fmt.Sprintf("/n%02d/k%04d", n, k)), Value: []byte("0123456789abcdefghij")})
		}
		if _, err := s.Commit(context.Background(), txn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		tree := tx.Bucket(bucketTree)
		st := tree.Stats()
		if st.Depth < 3 {
			t.Fatalf("a tree of depth %d: the test wants branch pages over branch pages", st.Depth)
		}
		var levels [][]uint64
		r := &countingReader{File: f}
		walkTree(r, tx.Size(), db.Info().PageSize, uint64(tree.Root()), func(level []uint64) {
			levels = append(levels, level)
		})
		if len(levels) != st.Depth {
			t.Fatalf("%d levels, bbolt says the depth is %d", len(levels), st.Depth)
		}
		branches := 0
		for _, l := range levels[:len(levels)-1] {
			branches += len(l)
		}
		if branches != st.BranchPageN || len(levels[len(levels)-1]) != st.LeafPageN {
			t.Errorf("%d branch and %d leaf pages, bbolt counts %d and %d", branches, len(levels[len(levels)-1]), st.BranchPageN, st.LeafPageN)
		}
		if r.reads != st.BranchPageN+1 {
			t.Errorf("%d pages read, want the %d branch pages and one leaf", r.reads, st.BranchPageN)
		}
		// The head cache is sized by treeKeys, an estimate from a sample
		// of the leaves: near bbolt's count, without its recursion.
		if n := treeKeys(f, tx.Size(), db.Info().PageSize, levels[len(levels)-1]); n < st.KeyN*3/4 || n > st.KeyN*4/3 {
			t.Errorf("treeKeys = %d, bbolt counts %d keys", n, st.KeyN)
		}
		for _, root := range []uint64{0, 1, uint64(tx.Size()) / uint64(db.Info().PageSize)} {
			if leaves := prefetchTree(f, db.Info().Data, tx.Size(), db.Info().PageSize, root); leaves != nil {
				t.Errorf("root %d: prefetchTree found leaves %v", root, leaves)
			}
			walkTree(f, tx.Size(), db.Info().PageSize, root, func([]uint64) { t.Errorf("root %d: walked", root) })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type countingReader struct {
	*os.File
	reads int
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	return r.File.ReadAt(p, off)
}
