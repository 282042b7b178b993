//go:build linux

package server_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// TestServer_DiskFull runs a server on a store whose file system fills up:
// a PUT that needs space answers 507 with a message, GET goes on, and once
// space is freed PUT succeeds again without a restart.
func TestServer_DiskFull(t *testing.T) {
	onlyOnBolt(t, "fills the file system of a bbolt file")
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system to fill needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("mount a tmpfs to fill: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	st, err := bolt.Open(filepath.Join(dir, "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(server.New(st, nil))
	t.Cleanup(func() {
		hs.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	ts := &testServer{Server: hs, store: st}

	ts.must(t, http.StatusCreated, "PUT", "/config/a", "1")
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	big := strings.Repeat("x", 600<<10) // more than the log's room: it must grow
	status, body, _ := ts.do(t, "PUT", "/config/a", strings.NewReader(big))
	if status != http.StatusInsufficientStorage || !strings.Contains(body, "disk is full") {
		t.Errorf("PUT on a full disk = %d %q, want 507 saying the disk is full", status, body)
	}
	status, body, _ = ts.do(t, "POST", "/api/v1/txn", strings.NewReader(`{"ops":[{"op":"put","path":"/b","value":"`+big+`"}]}`))
	if status != http.StatusInsufficientStorage || !strings.Contains(body, "disk is full") {
		t.Errorf("POST /api/v1/txn on a full disk = %d %.200q, want 507 saying the disk is full", status, body)
	}
	if b, _ := ts.must(t, http.StatusOK, "GET", "/config/a", ""); b != "1" {
		t.Errorf("GET on a full disk = %q, want 1", b)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ts.must(t, http.StatusNoContent, "PUT", "/config/a", big)
	if b, _ := ts.must(t, http.StatusOK, "GET", "/config/a", ""); b != big {
		t.Errorf("GET after space was freed: %d bytes, want %d", len(b), len(big))
	}
}
