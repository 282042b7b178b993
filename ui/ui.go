// Package ui is verso's web console: a few static files (HTML, CSS and
// JavaScript of its own, embedded in the binary) that a browser loads from
// /ui/ and that reach the tree only through the HTTP API (docs/HTTP.md).
// The server routes /ui/ to Handler (server.Options.Console); docs/console.md
// is a tour.
package ui

import (
	"bytes"
	"embed"
	"html"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Prefix is the URL path the console is served under.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every answer: the console's own
// files only, no inline script or style, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler returns the console for a server whose tree is under mount
// ("/config"; "" for the root).
func Handler(mount string) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	// The page learns the mount from a meta element (no inline script).
	index = bytes.Replace(index, []byte("{{MOUNT}}"), []byte(html.EscapeString(strings.TrimSuffix(mount, "/"))), 1)
	return &handler{files: files, index: index, start: time.Now()}
}

type handler struct {
	files fs.FS
	index []byte
	start time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "405 Method Not Allowed: the console's files take GET", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok { // "/ui"
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	if name == "" || name == "index.html" {
		hd.Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", h.start, bytes.NewReader(h.index))
		return
	}
	b, err := fs.ReadFile(h.files, name)
	if err != nil || strings.Contains(name, "/") {
		http.Error(w, "404 Not Found: no console file "+path.Clean("/"+name), http.StatusNotFound)
		return
	}
	switch path.Ext(name) {
	case ".js":
		hd.Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		hd.Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		hd.Set("Content-Type", "image/svg+xml")
	}
	http.ServeContent(w, r, name, h.start, bytes.NewReader(b))
}
