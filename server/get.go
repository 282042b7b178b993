package server

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/fastlane"
)

// handleGet answers GET and HEAD: a key's raw bytes, or a namespace's
// listing. ?rev=N (or mod_dav_svn's ?p=N) reads as of revision N.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	rev := verso.Head
	if r.URL.RawQuery != "" {
		var err error
		if rev, err = revisionParam(r); err != nil {
			return err
		}
		// ?index=N&wait=D (watch.go): a long-poll that waits answers later,
		// from the watch hub, through getAt.
		if parked, err := s.longPoll(w, r, p, rev); parked || err != nil {
			return err
		}
	}
	return s.getAt(w, r, p, rev)
}

// getAt answers GET and HEAD of p as of rev, once any long-poll is over.
func (s *Server) getAt(w http.ResponseWriter, r *http.Request, p verso.Path, rev verso.Revision) error {
	e, err := s.getEntry(r, p, rev) // ?consistent: a linearizable read (consistent.go)
	if err != nil {
		return err
	}
	if done, err := s.exportIfAsked(w, r, e, rev); done || err != nil { // ?format= (export.go)
		return err
	}
	if e.IsNamespace() {
		return s.serveListing(w, r, e, rev)
	}
	// The same head as the fast lane's answer (internal/fastlane).
	if needsServeContent(r) {
		fastlane.SetKeyHeader(w.Header(), e, false)
		http.ServeContent(w, r, "", e.ModTime, bytes.NewReader(e.Value))
		return nil
	}
	fastlane.SetKeyHeader(w.Header(), e, true)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(e.Value)
	}
	return nil
}

// needsServeContent reports whether a GET asks for more than the plain
// bytes (a range or a conditional answer), which http.ServeContent handles.
func needsServeContent(r *http.Request) bool {
	h := r.Header
	return h["Range"] != nil || h["If-None-Match"] != nil || h["If-Modified-Since"] != nil ||
		h["If-Match"] != nil || h["If-Unmodified-Since"] != nil || h["If-Range"] != nil
}

// revisionParam reads ?rev=N or ?p=N; HEAD or absent means the head.
func revisionParam(r *http.Request) (verso.Revision, error) {
	q := r.URL.Query()
	v := q.Get("rev")
	if v == "" {
		v = q.Get("p")
	}
	if v == "" {
		return verso.Head, nil
	}
	rev, err := verso.ParseRevision(v)
	if err != nil {
		return 0, withStatus(http.StatusBadRequest, err)
	}
	return rev, nil
}

// listingJSON is a namespace listing as JSON.
type listingJSON struct {
	Path     verso.Path         `json:"path"`
	Revision verso.Revision     `json:"revision"`
	Entries  []listingEntryJSON `json:"entries"`
}

type listingEntryJSON struct {
	Name        string         `json:"name"`
	Kind        verso.Kind     `json:"kind"`
	Size        int            `json:"size"`
	ContentType string         `json:"content_type,omitempty"`
	Revision    verso.Revision `json:"revision"`
}

// serveListing answers GET of a namespace: its children, one name a line
// (namespaces with a trailing /) by default, JSON for Accept:
// application/json, an HTML page for browsers.
func (s *Server) serveListing(w http.ResponseWriter, r *http.Request, ns *verso.Entry, rev verso.Revision) error {
	var children []*verso.Entry
	err := s.store.Walk(r.Context(), ns.Path, rev, 1, func(e *verso.Entry) error {
		if e.Path != ns.Path && s.readable(r, e.Path) { // unreadable children are left out (access.go)
			children = append(children, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Revisions as the user sees them: a change below ns (or below a child)
	// to a path the user may not read does not move them (visible.go).
	nsRev, err := s.visibleChange(r, ns, rev)
	if err != nil {
		return err
	}
	revs := make([]verso.Revision, len(children))
	for i, c := range children {
		if revs[i], err = s.visibleChange(r, c, rev); err != nil {
			return err
		}
	}
	var body bytes.Buffer
	var ctype string
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/json"):
		ctype = "application/json"
		out := listingJSON{Path: ns.Path, Revision: nsRev, Entries: []listingEntryJSON{}}
		for i, c := range children {
			out.Entries = append(out.Entries, listingEntryJSON{
				Name: c.Path.Base(), Kind: c.Kind, Size: len(c.Value), ContentType: c.ContentType, Revision: revs[i],
			})
		}
		enc := json.NewEncoder(&body)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	case strings.Contains(accept, "text/html"):
		ctype = "text/html; charset=utf-8"
		if err := listingPage.Execute(&body, s.listingData(ns, nsRev, children, revs)); err != nil {
			return err
		}
	default:
		ctype = "text/plain; charset=utf-8"
		for _, c := range children {
			body.WriteString(c.Path.Base())
			if c.IsNamespace() {
				body.WriteByte('/')
			}
			body.WriteByte('\n')
		}
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Vary", "Accept, Authorization") // each user sees their own listing
	h.Set("ETag", `W/"`+strconv.FormatInt(int64(nsRev), 10)+`"`)
	h.Set(HeaderRevision, strconv.FormatInt(int64(nsRev), 10))
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", ns.ModTime, bytes.NewReader(body.Bytes()))
	return nil
}

type listingItem struct {
	Name, Href, Kind string
	Size             int
	Revision         verso.Revision
}

type listingPageData struct {
	Path     verso.Path
	Parent   string
	Revision verso.Revision
	Items    []listingItem
}

func (s *Server) listingData(ns *verso.Entry, nsRev verso.Revision, children []*verso.Entry, revs []verso.Revision) listingPageData {
	d := listingPageData{Path: ns.Path, Revision: nsRev}
	if ns.Path != verso.Root {
		d.Parent = s.href(ns.Path.Parent(), true)
	}
	for i, c := range children {
		name := c.Path.Base()
		if c.IsNamespace() {
			name += "/"
		}
		d.Items = append(d.Items, listingItem{
			Name: name, Href: s.href(c.Path, c.IsNamespace()), Kind: c.Kind.String(), Size: len(c.Value), Revision: revs[i],
		})
	}
	return d
}

var listingPage = template.Must(template.New("listing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>verso: {{.Path}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1em}</style></head>
<body><h1>{{.Path}}</h1><p>revision {{.Revision}}</p>
<table><tr><th>name</th><th>kind</th><th>size</th><th>revision</th></tr>
{{if .Parent}}<tr><td><a href="{{.Parent}}">../</a></td></tr>{{end}}
{{range .Items}}<tr><td><a href="{{.Href}}">{{.Name}}</a></td><td>{{.Kind}}</td><td>{{if eq .Kind "key"}}{{.Size}}{{end}}</td><td>{{.Revision}}</td></tr>
{{end}}</table></body></html>
`))
