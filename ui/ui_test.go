package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso/ui"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandler_Headers(t *testing.T) {
	h := ui.Handler("/kv")
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/app.css", "/ui/nope", "/ui/static/app.js"} {
		resp := get(t, h, "GET", p)
		hd := resp.Header
		csp := hd.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q, want default-src 'self', frame-ancestors 'none', nothing unsafe", p, csp)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", p, hd.Get("X-Content-Type-Options"))
		}
	}
	resp := get(t, h, "GET", "/ui/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<meta name="verso-mount" content="/kv">`) {
		t.Errorf("GET /ui/ = %d, want the page naming the mount /kv:\n%s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "<script>") || strings.Contains(string(body), "style=") {
		t.Errorf("the page has inline script or style, which the policy forbids")
	}
	if ct := get(t, h, "GET", "/ui/app.js").Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("app.js Content-Type = %q", ct)
	}
	for p, want := range map[string]int{"/ui/nope": 404, "/ui/static/app.js": 404, "/ui": 301} {
		if got := get(t, h, "GET", p).StatusCode; got != want {
			t.Errorf("GET %s = %d, want %d", p, got, want)
		}
	}
	if resp := get(t, h, "POST", "/ui/"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/ = %d, want 405", resp.StatusCode)
	}
}

// The console's own JavaScript and CSS stay small: under 100 KB.
func TestHandler_Small(t *testing.T) {
	var total int64
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext == ".js" || ext == ".css" {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total >= 100_000 {
		t.Errorf("the console's JavaScript and CSS are %d bytes, want under 100 KB", total)
	}
	t.Logf("JavaScript and CSS: %d bytes", total)
}
