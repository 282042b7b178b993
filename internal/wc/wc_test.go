package wc_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/internal/wc"
	"github.com/verso-config/verso/server"
)

// newServer returns a client of a real verso server on a bolt file, with
// /app/db/{host,port} and /app/name in it (head 5), and the server's URL.
func newServer(t *testing.T) (*client.Client, string) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ts := httptest.NewServer(server.New(st, &server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tx := &client.Txn{}
	tx.Mkdir("/app", verso.Cond{}).Mkdir("/app/db", verso.Cond{}).
		Put("/app/db/host", []byte("db1\n"), "", verso.Cond{}).
		Put("/app/db/port", []byte("5432\n"), "", verso.Cond{}).
		Put("/app/name", []byte("shop\n"), "", verso.Cond{})
	if _, err := c.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	return c, ts.URL
}

func checkout(t *testing.T, c *client.Client, url string) *wc.WC {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "wc")
	var out bytes.Buffer
	w, err := wc.Checkout(t.Context(), c, url, "/config", "/app", dir, &out)
	if err != nil {
		t.Fatalf("Checkout: %v", err)
	}
	return w
}

func write(t *testing.T, w *wc.WC, rel, content string) {
	t.Helper()
	name := filepath.Join(w.Root, filepath.FromSlash(rel))
	os.MkdirAll(filepath.Dir(name), 0o755)
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, w *wc.WC, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.Root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func status(t *testing.T, w *wc.WC) []string {
	t.Helper()
	cs, err := w.Status()
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func serverValue(t *testing.T, c *client.Client, p verso.Path) string {
	t.Helper()
	v, err := c.Get(t.Context(), p, verso.Head)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(v.Data)
}

func TestWC_CheckoutStatusDiffCommit(t *testing.T) {
	c, url := newServer(t)
	dir := filepath.Join(t.TempDir(), "wc")
	var out bytes.Buffer
	w, err := wc.Checkout(t.Context(), c, url, "/config", "/app", dir, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := "A    " + filepath.Join(dir, "db") + "\nA    " + filepath.Join(dir, "db/host") + "\nA    " + filepath.Join(dir, "db/port") +
		"\nA    " + filepath.Join(dir, "name") + "\nChecked out revision 1.\n"
	if out.String() != want {
		t.Errorf("checkout printed %q, want %q", out.String(), want)
	}
	if got := read(t, w, "db/host"); got != "db1\n" {
		t.Errorf("db/host = %q", got)
	}
	if s := status(t, w); len(s) != 0 {
		t.Errorf("status after checkout = %q, want nothing", s)
	}

	write(t, w, "db/host", "db2\n")
	write(t, w, "db/user", "admin\n")
	write(t, w, "cache/size", "10\n")
	os.Remove(filepath.Join(w.Root, "name"))
	wantStatus := []string{"A  cache", "A  cache/size", "M  db/host", "A  db/user", "D  name"}
	if diff := cmp.Diff(wantStatus, status(t, w)); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	// Open finds the working copy from a folder inside it.
	w2, err := wc.Open(filepath.Join(w.Root, "db"))
	if err != nil || w2.Root != w.Root {
		t.Fatalf("Open(db) = %v, %v", w2, err)
	}
	var diff bytes.Buffer
	if err := w2.Diff(&diff, "db/host"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Index: db/host", "--- db/host\t(revision 1)", "+++ db/host\t(working copy)", "-db1", "+db2"} {
		if !strings.Contains(diff.String(), s) {
			t.Errorf("diff lacks %q:\n%s", s, diff.String())
		}
	}

	out.Reset()
	rev, err := w.Commit(t.Context(), c, "edit config", &out)
	if err != nil || rev != 2 {
		t.Fatalf("Commit = %d, %v; want 2", rev, err)
	}
	if !strings.HasSuffix(out.String(), "Committed revision 2.\n") {
		t.Errorf("commit printed %q", out.String())
	}
	cm, err := c.Revision(t.Context(), 2)
	if err != nil || cm.Message != "edit config" || len(cm.Changes) != 5 {
		t.Errorf("Revision(2) = %+v, %v; want one revision with all 5 changes", cm, err)
	}
	for p, want := range map[verso.Path]string{"/app/db/host": "db2\n", "/app/db/user": "admin\n", "/app/cache/size": "10\n"} {
		if got := serverValue(t, c, p); got != want {
			t.Errorf("server %s = %q, want %q", p, got, want)
		}
	}
	if s := status(t, w); len(s) != 0 {
		t.Errorf("status after commit = %q, want nothing", s)
	}
	// Nothing to commit: no revision.
	if rev, err := w.Commit(t.Context(), c, "again", io.Discard); rev != 0 || err != nil {
		t.Errorf("Commit with no changes = %d, %v; want 0, nil", rev, err)
	}
}

func TestWC_OutOfDateThenUpdateConflict(t *testing.T) {
	c, url := newServer(t)
	a := checkout(t, c, url)
	b := checkout(t, c, url)

	write(t, b, "db/host", "theirs\n")
	write(t, b, "db/port", "6543\n")
	if _, err := b.Commit(t.Context(), c, "theirs", io.Discard); err != nil {
		t.Fatal(err)
	}

	write(t, a, "db/host", "mine\n")
	write(t, a, "name", "shop2\n")
	_, err := a.Commit(t.Context(), c, "mine", io.Discard)
	var ood *wc.OutOfDateError
	if !errors.As(err, &ood) {
		t.Fatalf("Commit of a stale working copy = %v, want out of date", err)
	}
	if diff := cmp.Diff([]string{"db/host"}, ood.Paths); diff != "" {
		t.Errorf("out-of-date paths (-want +got):\n%s", diff)
	}
	if got := serverValue(t, c, "/app/name"); got != "shop\n" {
		t.Errorf("server /app/name = %q after a refused commit, want it unchanged", got)
	}

	var out bytes.Buffer
	rev, err := a.Update(t.Context(), c, &out)
	if err != nil || rev != 2 {
		t.Fatalf("Update = %d, %v", rev, err)
	}
	if want := "C  db/host\nU  db/port\nUpdated to revision 2.\n"; out.String() != want {
		t.Errorf("update printed %q, want %q", out.String(), want)
	}
	if got := read(t, a, "db/host.mine"); got != "mine\n" {
		t.Errorf("db/host.mine = %q", got)
	}
	if got := read(t, a, "db/host.r2"); got != "theirs\n" {
		t.Errorf("db/host.r2 = %q", got)
	}
	want := "<<<<<<< .mine\nmine\n||||||| .r1\ndb1\n=======\ntheirs\n>>>>>>> .r2\n"
	if got := read(t, a, "db/host"); got != want {
		t.Errorf("db/host = %q, want %q", got, want)
	}
	if got := read(t, a, "name"); got != "shop2\n" {
		t.Errorf("name = %q, local edit lost", got)
	}
	if diff := cmp.Diff([]string{"C  db/host", "M  name"}, status(t, a)); diff != "" {
		t.Errorf("status after update (-want +got):\n%s", diff)
	}
	if _, err := a.Commit(t.Context(), c, "mine", io.Discard); !errors.Is(err, wc.ErrConflicted) {
		t.Errorf("Commit with a conflict = %v, want ErrConflicted", err)
	}

	write(t, a, "db/host", "merged\n")
	if err := a.Resolve(io.Discard, "db/host"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.Root, "db/host.mine")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("db/host.mine still there after resolve: %v", err)
	}
	if rev, err := a.Commit(t.Context(), c, "merged", io.Discard); err != nil || rev != 3 {
		t.Fatalf("Commit after resolve = %d, %v", rev, err)
	}
	if got := serverValue(t, c, "/app/db/host"); got != "merged\n" {
		t.Errorf("server db/host = %q", got)
	}
}

func TestWC_UpdateAddsAndDeletes(t *testing.T) {
	c, url := newServer(t)
	a := checkout(t, c, url)
	b := checkout(t, c, url)
	write(t, b, "new/key", "n\n")
	os.Remove(filepath.Join(b.Root, "name"))
	os.RemoveAll(filepath.Join(b.Root, "db"))
	if _, err := b.Commit(t.Context(), c, "reshape", io.Discard); err != nil {
		t.Fatal(err)
	}
	write(t, a, "db/extra", "local only\n") // keeps db/ alive locally
	var out bytes.Buffer
	if _, err := a.Update(t.Context(), c, &out); err != nil {
		t.Fatal(err)
	}
	want := "D  db/host\nD  db/port\nD  name\nA  new\nA  new/key\nUpdated to revision 2.\n"
	if out.String() != want {
		t.Errorf("update printed %q, want %q", out.String(), want)
	}
	if diff := cmp.Diff([]string{"A  db", "A  db/extra"}, status(t, a)); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestWC_Revert(t *testing.T) {
	c, url := newServer(t)
	w := checkout(t, c, url)
	write(t, w, "db/host", "changed\n")
	write(t, w, "db/new", "added\n")
	os.Remove(filepath.Join(w.Root, "name"))
	var out bytes.Buffer
	if err := w.Revert(&out, "db/host", "db/new", "name"); err != nil {
		t.Fatal(err)
	}
	if s := status(t, w); len(s) != 0 {
		t.Errorf("status after revert = %q, want nothing", s)
	}
	if got := read(t, w, "db/host"); got != "db1\n" {
		t.Errorf("db/host after revert = %q", got)
	}
	if got := read(t, w, "name"); got != "shop\n" {
		t.Errorf("name after revert = %q", got)
	}
}

// TestWC_DeleteFolderOutOfDate checks that deleting a folder is refused
// as out of date when someone else added a key below it after the working
// copy's base: the commit would delete a key its user never saw. After
// an update shows it, deleting the folder goes through.
func TestWC_DeleteFolderOutOfDate(t *testing.T) {
	c, url := newServer(t)
	w := checkout(t, c, url)

	other := &client.Txn{}
	other.Mkdir("/app/db/deep", verso.Cond{}).Put("/app/db/deep/newkey", []byte("theirs\n"), "", verso.Cond{Absent: true})
	if _, err := c.Commit(t.Context(), other); err != nil {
		t.Fatal(err)
	}

	if err := os.RemoveAll(filepath.Join(w.Root, "db")); err != nil {
		t.Fatal(err)
	}
	write(t, w, "name", "shop2\n")
	_, err := w.Commit(t.Context(), c, "drop db", io.Discard)
	var ood *wc.OutOfDateError
	if !errors.As(err, &ood) {
		t.Fatalf("Commit deleting a folder changed on the server = %v, want out of date", err)
	}
	if diff := cmp.Diff([]string{"db"}, ood.Paths); diff != "" {
		t.Errorf("out-of-date paths (-want +got):\n%s", diff)
	}
	for _, want := range []string{"out of date", "db/ (or something in it)", "verso update"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Commit error %q does not say %q", err, want)
		}
	}
	for p, want := range map[verso.Path]string{"/app/db/deep/newkey": "theirs\n", "/app/db/host": "db1\n", "/app/name": "shop\n"} {
		if got := serverValue(t, c, p); got != want {
			t.Errorf("server %s = %q after a refused commit, want %q", p, got, want)
		}
	}

	var out bytes.Buffer
	if _, err := w.Update(t.Context(), c, &out); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := read(t, w, "db/deep/newkey"); got != "theirs\n" {
		t.Errorf("db/deep/newkey after update = %q, want the other client's key", got)
	}
	// The user has now seen the new key, and deletes the folder again.
	if err := os.RemoveAll(filepath.Join(w.Root, "db")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	rev, err := w.Commit(t.Context(), c, "drop db", &out)
	if err != nil {
		t.Fatalf("Commit after update = %d, %v", rev, err)
	}
	cm, err := c.Revision(t.Context(), rev)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range cm.Changes {
		got = append(got, string(ch.Action)+" "+string(ch.Path))
	}
	want := []string{"deleted /app/db", "deleted /app/db/deep", "deleted /app/db/deep/newkey", "deleted /app/db/host", "deleted /app/db/port", "modified /app/name"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("committed changes (-want +got):\n%s", diff)
	}
	if s := status(t, w); len(s) != 0 {
		t.Errorf("status after commit = %q, want nothing", s)
	}
}

// TestWC_DeleteFolderSkipped checks folder deletions after an update that
// skipped a conflicted key: the key is still checked against its own base
// (so the deletion cannot take the server's newer version), and the
// folders above it keep their old base (so a key the metadata never saw
// cannot go with the folder unseen).
func TestWC_DeleteFolderSkipped(t *testing.T) {
	tests := []struct {
		name        string
		theirs      func(t *testing.T, b *wc.WC) // their first change, conflicting with ours
		want        string                       // their second version of db/host
		wantFolders []string                     // OutOfDateError.Folders, when checked
	}{
		{"StaleKey", func(t *testing.T, b *wc.WC) { write(t, b, "db/host", "theirs\n") }, "theirs again\n", nil},
		{"KeyNeverSeen", func(t *testing.T, b *wc.WC) { os.Remove(filepath.Join(b.Root, "db/host")) }, "theirs again\n", []string{"db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, url := newServer(t)
			a := checkout(t, c, url)
			b := checkout(t, c, url)

			tt.theirs(t, b)
			if _, err := b.Commit(t.Context(), c, "theirs", io.Discard); err != nil {
				t.Fatal(err)
			}
			write(t, a, "db/host", "mine\n")
			if _, err := a.Update(t.Context(), c, io.Discard); err != nil { // db/host conflicted
				t.Fatal(err)
			}
			write(t, b, "db/host", tt.want)
			if _, err := b.Commit(t.Context(), c, "theirs again", io.Discard); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := a.Update(t.Context(), c, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Skipped 'db/host'") {
				t.Fatalf("second update printed %q, want db/host skipped", out.String())
			}
			if err := a.Resolve(io.Discard, "db/host"); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(a.Root, "db")); err != nil {
				t.Fatal(err)
			}
			_, err := a.Commit(t.Context(), c, "drop db", io.Discard)
			var ood *wc.OutOfDateError
			if !errors.As(err, &ood) || tt.wantFolders != nil && !slices.Equal(ood.Folders, tt.wantFolders) {
				t.Fatalf("Commit deleting db = %v, want out of date (folders %v)", err, tt.wantFolders)
			}
			if got := serverValue(t, c, "/app/db/host"); got != tt.want {
				t.Errorf("server /app/db/host = %q after a refused commit, want it unchanged", got)
			}
		})
	}
}
