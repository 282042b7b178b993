package verso_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func commit(t *testing.T, s verso.Store, ops ...verso.Op) verso.Revision {
	t.Helper()
	c, err := s.Commit(context.Background(), &verso.Txn{Message: "test", Ops: ops})
	if err != nil {
		t.Fatalf("Commit(%+v): %v", ops, err)
	}
	return c.Rev
}

func put(p, v string) verso.Op {
	return verso.Op{Kind: verso.OpPut, Path: verso.MustPath(p), Value: []byte(v), ContentType: "text/plain"}
}

func mkcol(p string) verso.Op { return verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(p)} }

func del(p string) verso.Op { return verso.Op{Kind: verso.OpDelete, Path: verso.MustPath(p)} }

// tree returns every path below p at rev with its value ("/" for namespaces).
func tree(t *testing.T, s verso.Store, p string, rev verso.Revision) map[verso.Path]string {
	t.Helper()
	out := map[verso.Path]string{}
	err := s.Walk(context.Background(), verso.MustPath(p), rev, verso.Infinite, func(e *verso.Entry) error {
		if e.IsNamespace() {
			out[e.Path] = "/"
		} else {
			out[e.Path] = string(e.Value)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%s, %d): %v", p, rev, err)
	}
	return out
}

func TestDiff(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	r1 := commit(t, s, mkcol("/ns"), put("/ns/a", "1"), put("/ns/b", "1"), put("/other", "x"))
	commit(t, s, put("/ns/a", "2"), del("/ns/b"), put("/ns/c", "new"), put("/other", "y"))
	r3 := commit(t, s, put("/ns/a", "1"), put("/ns/a", "1")) // back to r1's value
	diffs, err := verso.Diff(ctx, s, "/ns", r1, r3)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	var got []string
	for _, d := range diffs {
		switch {
		case d.Old == nil:
			got = append(got, "+"+string(d.Path))
		case d.New == nil:
			got = append(got, "-"+string(d.Path))
		default:
			got = append(got, "~"+string(d.Path))
		}
	}
	want := []string{"-/ns/b", "+/ns/c"} // /ns/a changed and changed back; /other is outside
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff(/ns, r%d, r%d) (-want +got):\n%s", r1, r3, diff)
	}
}

func TestRestoreOps(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	r1 := commit(t, s, mkcol("/ns"), mkcol("/ns/sub"), put("/ns/a", "1"), put("/ns/sub/k", "v"), put("/keep", "k"))
	commit(t, s, put("/ns/a", "2"), del("/ns/sub"), put("/ns/new", "n"), put("/keep", "k2"))
	commit(t, s, del("/ns/a"), mkcol("/ns/a"))
	want := tree(t, s, "/ns", r1)
	ops, err := verso.RestoreOps(ctx, s, "/ns", r1)
	if err != nil {
		t.Fatalf("RestoreOps: %v", err)
	}
	r4 := commit(t, s, ops...)
	if diff := cmp.Diff(want, tree(t, s, "/ns", r4)); diff != "" {
		t.Errorf("/ns after restoring r%d (-want +got):\n%s", r1, diff)
	}
	if got := tree(t, s, "/keep", r4)["/keep"]; got != "k2" {
		t.Errorf("/keep = %q after restoring /ns, want it untouched (k2)", got)
	}
	again, err := verso.RestoreOps(ctx, s, "/ns", r1)
	if err != nil || len(again) != 0 {
		t.Errorf("RestoreOps right after a restore = %+v, %v; want no operations", again, err)
	}
}

func TestUndoOps(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	commit(t, s, mkcol("/ns"), put("/ns/a", "1"))
	r2 := commit(t, s, put("/ns/a", "2"), put("/ns/b", "b"))
	before := tree(t, s, "/", r2-1)
	ops, err := verso.UndoOps(ctx, s, r2)
	if err != nil {
		t.Fatalf("UndoOps(%d): %v", r2, err)
	}
	r3 := commit(t, s, ops...)
	if diff := cmp.Diff(before, tree(t, s, "/", r3)); diff != "" {
		t.Errorf("tree after undoing r%d (-want +got):\n%s", r2, diff)
	}

	// Undoing r3's predecessor again would discard r3: a conflict naming
	// the paths.
	r4 := commit(t, s, put("/ns/a", "4"))
	_, err = verso.UndoOps(ctx, s, r3)
	var ce *verso.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, verso.ErrConflict) {
		t.Fatalf("UndoOps(%d) after r%d changed the same key = %v, want a ConflictError", r3, r4, err)
	}
	if diff := cmp.Diff([]verso.Path{"/ns/a"}, ce.Paths); diff != "" {
		t.Errorf("conflict paths (-want +got):\n%s", diff)
	}
	if _, err := verso.UndoOps(ctx, s, 99); !errors.Is(err, verso.ErrNoRevision) {
		t.Errorf("UndoOps(99) = %v, want ErrNoRevision", err)
	}
}
