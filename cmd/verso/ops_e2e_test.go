package main

// End-to-end tests of the operator commands: check, backup and restore,
// with the built binary against real data directories.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/client"
)

// makeHistory writes a history with every kind of change through the
// client, and returns the head.
func makeHistory(t *testing.T, url string) verso.Revision {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Mkdir(ctx, "/app", nil))
	must(c.Mkdir(ctx, "/app/db", nil))
	for i := range 5 {
		_, _, err := c.Put(ctx, "/app/db/host", []byte(fmt.Sprintf("db%d.example.com", i)), nil)
		must(nil, err)
	}
	_, _, err = c.Put(ctx, "/app/db/port", []byte("5432"), nil)
	must(nil, err)
	_, _, err = c.Put(ctx, "/app/blob", []byte{0, 1, 2, 0xff}, &client.WriteOptions{ContentType: "application/x-test"})
	must(nil, err)
	must(c.Commit(ctx, (&client.Txn{Message: "copy and move"}).
		Copy("/app/db", "/app/db2", false, verso.Cond{}).
		Move("/app/blob", "/app/db2/blob", false, verso.Cond{}).
		Put("/app/db2/port", []byte("5433"), "", verso.Cond{})))
	must(c.Delete(ctx, "/app/db/port", nil))
	must(c.Delete(ctx, "/app/db2", nil))
	_, _, err = c.Put(ctx, "/top", []byte("last"), nil)
	must(nil, err)
	head, err := c.Revision(ctx, verso.Head)
	must(nil, err)
	return head.Rev
}

// compareStores fails the test unless the stopped stores in the files a
// and b hold the same head, the same record of every revision and the
// same entries at every path at every revision.
func compareStores(t *testing.T, a, b string) {
	t.Helper()
	ctx := context.Background()
	open := func(path string) *bolt.Store {
		s, err := bolt.Open(path, nil)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		return s
	}
	sa, sb := open(a), open(b)
	defer sa.Close()
	defer sb.Close()
	ha, _ := sa.Head(ctx)
	hb, _ := sb.Head(ctx)
	if ha != hb {
		t.Fatalf("head of %s = %d, of %s = %d", a, ha, b, hb)
	}
	walk := func(s *bolt.Store, rev verso.Revision) []*verso.Entry {
		var out []*verso.Entry
		if err := s.Walk(ctx, verso.Root, rev, verso.Infinite, func(e *verso.Entry) error {
			out = append(out, e)
			return nil
		}); err != nil {
			t.Fatalf("Walk(/, %d): %v", rev, err)
		}
		return out
	}
	paths := 0
	for rev := verso.Revision(0); rev <= ha; rev++ {
		if rev > 0 {
			ca, err := sa.Revision(ctx, rev)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := sb.Revision(ctx, rev)
			if err != nil {
				t.Fatalf("restored Revision(%d): %v", rev, err)
			}
			if diff := cmp.Diff(ca, cb); diff != "" {
				t.Errorf("record of r%d (-original +restored):\n%s", rev, diff)
			}
		}
		ea, eb := walk(sa, rev), walk(sb, rev)
		paths += len(ea)
		if diff := cmp.Diff(ea, eb); diff != "" {
			t.Errorf("tree at r%d (-original +restored):\n%s", rev, diff)
		}
	}
	if paths < int(ha) {
		t.Errorf("compared only %d entries over %d revisions", paths, ha)
	}
}

func TestBackupRestore_RoundTrip(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	head := makeHistory(t, p.URL)
	cl := newCLI(t, p.URL)

	snap := filepath.Join(t.TempDir(), "snap.db")
	out, stderr, code := cl.run("", "backup", snap)
	if code != 0 || !strings.Contains(out, "Saved a ") || !strings.Contains(out, snap) {
		t.Fatalf("verso backup %s: status %d, stdout %q, stderr %q", snap, code, out, stderr)
	}
	cl.fails(1, []string{"backup", snap}, "exists", "--force")
	if _, stderr, code := cl.run("", "backup", snap, "--force"); code != 0 {
		t.Fatalf("verso backup --force over an existing file: status %d, stderr %q", code, stderr)
	}
	if code, stderr := p.Stop(t); code != 0 {
		t.Fatalf("verso serve exited %d: %s", code, stderr)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	out, stderr, code = runVerso(t, "restore", snap, "--data", restored)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("at revision %d.", head)) {
		t.Fatalf("verso restore: status %d, stdout %q, stderr %q; want revision %d", code, out, stderr, head)
	}
	compareStores(t, filepath.Join(data, dbFile), filepath.Join(restored, dbFile))

	// The restored directory serves the same tree.
	p2 := launchVerso(t, "--data", restored)
	c, _ := client.New(p2.URL, nil)
	v, err := c.Get(context.Background(), "/app/db/host", 4)
	if err != nil || string(v.Data) != "db1.example.com" {
		t.Errorf("Get(/app/db/host, 4) from the restored store = %v, %v", v, err)
	}
}

// corruptIndex deletes a key of the index bucket of the stopped store in
// file, which verso check must notice.
func corruptIndex(t *testing.T, file string) {
	t.Helper()
	db, err := bbolt.Open(file, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("index"))
		k, _ := b.Cursor().Last()
		return b.Delete(k)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRestore_Refuses(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	makeHistory(t, p.URL)
	snap := filepath.Join(t.TempDir(), "snap.db")
	if _, stderr, code := newCLI(t, p.URL).run("", "backup", snap); code != 0 {
		t.Fatalf("verso backup: %d %s", code, stderr)
	}

	// Into the directory of a running server: refused.
	_, stderr, code := runVerso(t, "restore", snap, "--data", data, "--force")
	if code != 1 || !strings.Contains(stderr, "in use by another verso") {
		t.Errorf("restore into a running server's directory: status %d, stderr %q", code, stderr)
	}
	p.Stop(t)

	// Over an existing store without --force: refused, nothing changed.
	before, _ := os.ReadFile(filepath.Join(data, dbFile))
	_, stderr, code = runVerso(t, "restore", snap, "--data", data)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("restore over a store: status %d, stderr %q; want 1 and a hint of --force", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(data, dbFile)); string(after) != string(before) {
		t.Errorf("a refused restore changed the store")
	}
	// With --force: the old store is kept beside.
	if out, stderr, code := runVerso(t, "restore", snap, "--data", data, "--force"); code != 0 {
		t.Errorf("restore --force: status %d, %q %q", code, out, stderr)
	}
	if kept, _ := os.ReadFile(filepath.Join(data, dbFile+replacedSuffix)); string(kept) != string(before) {
		t.Errorf("restore --force did not keep the replaced store as %s", dbFile+replacedSuffix)
	}

	// A damaged snapshot: refused before anything is touched.
	corruptIndex(t, snap)
	fresh := filepath.Join(t.TempDir(), "fresh")
	_, stderr, code = runVerso(t, "restore", snap, "--data", fresh)
	if code != 1 || !strings.Contains(stderr, "refusing to restore") || !strings.Contains(stderr, "index") {
		t.Errorf("restore of a damaged snapshot: status %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(fresh, dbFile)); err == nil {
		t.Errorf("restore of a damaged snapshot created %s", filepath.Join(fresh, dbFile))
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	makeHistory(t, p.URL)

	_, stderr, code := runVerso(t, "check", "--data", data)
	if code != 1 || !strings.Contains(stderr, "in use by another verso") {
		t.Errorf("check of a running server's directory: status %d, stderr %q", code, stderr)
	}
	p.Stop(t)

	out, stderr, code := runVerso(t, "check", "--data", data)
	if code != 0 || out != filepath.Join(data, dbFile)+": ok\n" {
		t.Errorf("check of a good store: status %d, stdout %q, stderr %q", code, out, stderr)
	}
	_, stderr, code = runVerso(t, "check", "--data", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "no store in") {
		t.Errorf("check of an empty directory: status %d, stderr %q", code, stderr)
	}

	corruptIndex(t, filepath.Join(data, dbFile))
	_, stderr, code = runVerso(t, "check", "--data", data)
	if code != 1 || !strings.Contains(stderr, "index /") || !strings.Contains(stderr, "missing") {
		t.Errorf("check of a damaged store: status %d, stderr %q; want 1 naming the missing index key", code, stderr)
	}
}
