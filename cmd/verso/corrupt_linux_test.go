package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheck_ReadOnly checks a stopped store on a read-only file system:
// check takes no lock it would have to create and writes nothing.
func TestCheck_ReadOnly(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("mount tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(data, syscall.MNT_DETACH) })
	p := launchVerso(t, "--data", data)
	makeHistory(t, p.URL)
	p.Stop(t)
	if err := syscall.Mount("tmpfs", data, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	out, stderr, code := runVerso(t, "check", "--data", data)
	if code != 0 || !strings.HasSuffix(out, ": ok\n") {
		t.Errorf("check of a read-only store: status %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestServe_CorruptAtOpen starts verso on damaged data files: it refuses
// to start, naming the file, rather than serving a store that fails later.
func TestServe_CorruptAtOpen(t *testing.T) {
	t.Parallel()
	for name, corrupt := range map[string]func(b []byte) []byte{
		"empty":                func(b []byte) []byte { return nil },
		"truncated to 3 pages": func(b []byte) []byte { return b[:3*4096] },
		"meta pages zeroed":    func(b []byte) []byte { clear(b[:8192]); return b },
	} {
		t.Run(name, func(t *testing.T) {
			data := t.TempDir()
			p := launchVerso(t, "--data", data)
			makeHistory(t, p.URL)
			p.Stop(t)
			db := filepath.Join(data, dbFile)
			b, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(db, corrupt(b), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runVerso(t, "serve", "--listen", "127.0.0.1:0", "--data", data)
			if code != 1 || !strings.Contains(stderr, db) {
				t.Errorf("serve on a damaged file: status %d, stderr %q; want 1 naming %s", code, stderr, db)
			}
		})
	}
}

// TestServe_TruncatedWhileRunning cuts the data file short under a
// running verso: reads of the file answer 5xx, /readyz turns 503 with
// the cause, and the process lives on.
func TestServe_TruncatedWhileRunning(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	makeHistory(t, p.URL)
	db := filepath.Join(data, dbFile)
	if err := os.Truncate(db, 8192); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v (verso stderr:\n%s)", path, err, p.Stderr())
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for i := range 3 {
		if code, body := get(fmt.Sprintf("/api/v1/log?path=/&limit=%d", 5+i)); code < 500 {
			t.Errorf("log of a truncated file: %d %s, want 5xx", code, body)
		}
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "damaged") {
		t.Errorf("/readyz: %d %q, want 503 naming the damage", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d, want 200: the process lives", code)
	}
}
