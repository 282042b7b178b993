package server

// Export: a whole namespace, recursively, as one JSON or YAML document, or
// as flat env or Java properties lines, for the programs that read those
// formats (Ansible, shells, systemd, Java). See "Export and import" in
// docs/HTTP.md. This file answers the request; the formats themselves are
// package internal/format's.

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/format"
)

// acceptExport maps the media types that ask for an export without
// ?format=. application/json is not among them: it asks for the listing.
var acceptExport = map[string]string{
	"application/yaml":       format.YAML,
	"application/x-yaml":     format.YAML,
	"text/yaml":              format.YAML,
	"text/x-yaml":            format.YAML,
	"text/x-java-properties": format.Properties,
}

// exportOptions is what an export request asks for.
type exportOptions struct {
	format    string
	parseJSON bool // ?parse=json: values that are JSON become structure
}

// exportRequested reads the export a GET asks for: ?format= (json, yaml,
// env, properties) or an Accept type of acceptExport. ok is false when the
// GET asks for no export.
func exportRequested(r *http.Request) (o exportOptions, ok bool, err error) {
	q := r.URL.Query()
	if f := q.Get("format"); f != "" {
		if _, known := format.ContentTypes[f]; !known {
			return o, false, errorf(http.StatusBadRequest, "format must be json, yaml, env or properties, not %q", f)
		}
		o.format = f
	} else if q.Has("format") {
		return o, false, errorf(http.StatusBadRequest, "format must be json, yaml, env or properties")
	} else {
		for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if f, known := acceptExport[mt]; err == nil && known {
				o.format = f
				break
			}
		}
		if o.format == "" {
			if q.Has("parse") {
				return o, false, errorf(http.StatusBadRequest, "parse= applies to exports: add format=json or format=yaml")
			}
			return o, false, nil
		}
	}
	switch q.Get("parse") {
	case "":
	case "json":
		if o.format != format.JSON && o.format != format.YAML {
			return o, false, errorf(http.StatusBadRequest, "parse=json applies to format=json and format=yaml, not %s", o.format)
		}
		o.parseJSON = true
	default:
		return o, false, errorf(http.StatusBadRequest, "parse must be json, not %q", q.Get("parse"))
	}
	return o, true, nil
}

// exportIfAsked answers a GET that asks for an export (see
// exportRequested) of the namespace e, read at rev. done is false when the
// GET asks for none. ?format= on a key is a 400: a key is exported by
// reading it.
func (s *Server) exportIfAsked(w http.ResponseWriter, r *http.Request, e *verso.Entry, rev verso.Revision) (done bool, err error) {
	if !e.IsNamespace() {
		if r.URL.Query().Has("format") {
			return true, errorf(http.StatusBadRequest, "format= exports a namespace; %s is a key (GET it without format= for its value)", s.href(e.Path, false))
		}
		return false, nil
	}
	o, ok, err := exportRequested(r)
	if !ok || err != nil {
		return err != nil, err
	}
	return true, s.serveExport(w, r, e, rev, o)
}

// serveExport answers an export of the namespace ns as of rev.
func (s *Server) serveExport(w http.ResponseWriter, r *http.Request, ns *verso.Entry, rev verso.Revision, o exportOptions) error {
	t, err := s.collectExport(r, ns.Path, rev)
	if err != nil {
		return err
	}
	body, err := format.Encode(t, o.format, o.parseJSON)
	var ue *format.UnfitError
	if errors.As(err, &ue) {
		return errorf(http.StatusUnprocessableEntity, "%s", ue.Describe(func(p verso.Path) string { return s.href(p, false) }))
	}
	if err != nil {
		return err
	}
	// The revision as the user sees it: a change below ns to a path the
	// user may not read does not move it (visible.go).
	treeRev, err := s.visibleChange(r, ns, rev)
	if err != nil {
		return err
	}
	tag := strconv.FormatInt(int64(treeRev), 10) + "-" + o.format
	if o.parseJSON {
		// "typed": values read by the schemas' rule (docs/schema.md);
		// earlier versions tagged a different typed body "-parsed".
		tag += "-typed"
	}
	h := w.Header()
	h.Set("Content-Type", format.ContentTypes[o.format])
	h.Set("Vary", "Accept, Authorization")
	h.Set("ETag", `"`+tag+`"`)
	h.Set(HeaderRevision, strconv.FormatInt(int64(treeRev), 10))
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	return nil
}

// collectExport walks the namespace p as of rev and keeps what the request
// may read. An unreadable namespace is left out with everything below it,
// so not even its name shows.
func (s *Server) collectExport(r *http.Request, p verso.Path, rev verso.Revision) (*format.Tree, error) {
	t := &format.Tree{}
	var hidden verso.Path // the last unreadable namespace, whose subtree is skipped
	err := s.store.Walk(r.Context(), p, rev, verso.Infinite, func(e *verso.Entry) error {
		if e.Path == p {
			return nil
		}
		if hidden != "" && hidden.Contains(e.Path) {
			return nil
		}
		if !s.readable(r, e.Path) {
			if e.IsNamespace() {
				hidden = e.Path
			}
			return nil
		}
		rel := strings.Split(strings.TrimPrefix(string(e.Path.Rebase(p, verso.Root)), "/"), "/")
		if e.IsNamespace() {
			t.Namespaces = append(t.Namespaces, rel)
		} else {
			t.Keys = append(t.Keys, format.Key{Path: e.Path, Rel: rel, Value: e.Value})
		}
		return nil
	})
	return t, err
}
