package client_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/server"
)

// newClient returns a client of a real verso server on a bolt file in a
// temporary directory.
func newClient(t *testing.T) *client.Client {
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
		t.Fatalf("client.New(%q): %v", ts.URL, err)
	}
	return c
}

func TestClient_WritesReturnTheirRevision(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	if rev, err := c.Mkdir(ctx, "/ns", nil); rev != 1 || err != nil {
		t.Fatalf("Mkdir(/ns) = %d, %v, want 1, nil", rev, err)
	}
	if rev, created, err := c.Put(ctx, "/ns/key", []byte("v"), nil); rev != 2 || !created || err != nil {
		t.Fatalf("Put(/ns/key) = %d, %v, %v, want 2, true, nil", rev, created, err)
	}
	if rev, err := c.Delete(ctx, "/ns/key", &client.WriteOptions{Message: "drop it"}); rev != 3 || err != nil {
		t.Fatalf("Delete(/ns/key) = %d, %v, want 3, nil", rev, err)
	}
	cm, err := c.Revision(ctx, 3)
	if err != nil || cm.Message != "drop it" {
		t.Errorf("Revision(3) = %+v, %v, want the message %q", cm, err, "drop it")
	}
}

func TestClient_ListAtRevision(t *testing.T) {
	ctx := t.Context()
	c := newClient(t)
	mustMkdir(t, c, "/ns")
	mustPut(t, c, "/ns/a", "1")
	mustPut(t, c, "/ns/b", "22")

	got, err := c.List(ctx, "/ns", 2)
	if err != nil {
		t.Fatalf("List(/ns, 2): %v", err)
	}
	want := []client.Entry{{Name: "a", Kind: verso.KindKey, Size: 1, ContentType: "text/plain; charset=utf-8", Revision: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(/ns, 2) mismatch (-want +got):\n%s", diff)
	}
	root, err := c.List(ctx, verso.Root, verso.Head)
	if err != nil || len(root) != 1 || root[0].Name != "ns" || root[0].Kind != verso.KindNamespace {
		t.Errorf("List(/, Head) = %+v, %v, want the namespace ns", root, err)
	}
}

func TestClient_GetNamespace(t *testing.T) {
	c := newClient(t)
	mustMkdir(t, c, "/ns")
	_, err := c.Get(t.Context(), "/ns", verso.Head)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Message != "/ns is a namespace, not a key" {
		t.Errorf("Get(/ns) error = %v, want a *client.Error saying /ns is a namespace", err)
	}
}

func mustMkdir(t *testing.T, c *client.Client, p verso.Path) {
	t.Helper()
	if _, err := c.Mkdir(t.Context(), p, nil); err != nil {
		t.Fatalf("Mkdir(%s): %v", p, err)
	}
}

func mustPut(t *testing.T, c *client.Client, p verso.Path, v string) {
	t.Helper()
	if _, _, err := c.Put(t.Context(), p, []byte(v), nil); err != nil {
		t.Fatalf("Put(%s): %v", p, err)
	}
}
