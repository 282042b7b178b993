package server

// Export: a whole namespace, recursively, as one JSON or YAML document, or
// as flat env or Java properties lines, for the programs that read those
// formats (Ansible, shells, systemd, Java). See "Export and import" in
// docs/HTTP.md.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/verso-config/verso"
)

// The export formats, as ?format= names them.
const (
	formatJSON       = "json"
	formatYAML       = "yaml"
	formatEnv        = "env"
	formatProperties = "properties"
)

// exportTypes is the Content-Type of each format's answer.
var exportTypes = map[string]string{
	formatJSON:       "application/json",
	formatYAML:       "application/yaml",
	formatEnv:        "text/plain; charset=utf-8",
	formatProperties: "text/x-java-properties; charset=utf-8",
}

// acceptExport maps the media types that ask for an export without
// ?format=. application/json is not among them: it asks for the listing.
var acceptExport = map[string]string{
	"application/yaml":       formatYAML,
	"application/x-yaml":     formatYAML,
	"text/yaml":              formatYAML,
	"text/x-yaml":            formatYAML,
	"text/x-java-properties": formatProperties,
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
		if _, known := exportTypes[f]; !known {
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
		if o.format != formatJSON && o.format != formatYAML {
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

// exportedKey is one key of an export: its path below the exported
// namespace, as segments, and its value.
type exportedKey struct {
	path  verso.Path
	rel   []string
	value []byte
}

// exportTree is what an export holds: every readable key and namespace
// below the exported one, in Walk order (pre-order, names in byte order).
type exportTree struct {
	keys       []exportedKey
	namespaces [][]string // relative paths of the namespaces below the root, empty ones included
}

// serveExport answers an export of the namespace ns as of rev.
func (s *Server) serveExport(w http.ResponseWriter, r *http.Request, ns *verso.Entry, rev verso.Revision, o exportOptions) error {
	t, err := s.collectExport(r, ns.Path, rev)
	if err != nil {
		return err
	}
	body, err := t.encode(s, o)
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
		tag += "-parsed"
	}
	h := w.Header()
	h.Set("Content-Type", exportTypes[o.format])
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
func (s *Server) collectExport(r *http.Request, p verso.Path, rev verso.Revision) (*exportTree, error) {
	t := &exportTree{}
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
			t.namespaces = append(t.namespaces, rel)
		} else {
			t.keys = append(t.keys, exportedKey{path: e.Path, rel: rel, value: e.Value})
		}
		return nil
	})
	return t, err
}

// encode renders t in the format o asks for. A value that is not UTF-8 text
// is refused (422 naming the key): none of the formats can carry bytes
// without a convention the reader would have to know.
func (t *exportTree) encode(s *Server, o exportOptions) ([]byte, error) {
	for _, k := range t.keys {
		if !utf8.Valid(k.value) {
			return nil, errorf(http.StatusUnprocessableEntity,
				"%s holds a value that is not UTF-8 text; it cannot be exported as %s (read it with GET)", s.href(k.path, false), o.format)
		}
	}
	switch o.format {
	case formatJSON:
		return encodeJSON(t.structure(o.parseJSON))
	case formatYAML:
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(yamlNumbers(t.structure(o.parseJSON))); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case formatEnv:
		return t.env(s)
	default:
		return t.properties(s)
	}
}

// encodeJSON writes v as indented JSON without HTML escaping (a value
// "a<b" stays "a<b").
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// structure returns t as nested maps: a namespace is a map, a key its value
// as a string, or with parseJSON the value decoded when it is valid JSON
// (numbers kept as written).
func (t *exportTree) structure(parseJSON bool) map[string]any {
	root := map[string]any{}
	dir := func(rel []string) map[string]any {
		m := root
		for _, name := range rel {
			next, ok := m[name].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[name] = next
			}
			m = next
		}
		return m
	}
	for _, ns := range t.namespaces {
		dir(ns)
	}
	for _, k := range t.keys {
		var v any = string(k.value)
		if parseJSON && json.Valid(k.value) {
			dec := json.NewDecoder(bytes.NewReader(k.value))
			dec.UseNumber()
			var parsed any
			if dec.Decode(&parsed) == nil {
				v = parsed
			}
		}
		dir(k.rel[:len(k.rel)-1])[k.rel[len(k.rel)-1]] = v
	}
	return root
}

// yamlNumbers replaces the JSON numbers of v by YAML number nodes that
// keep the text as written (1.10 stays 1.10, not 1.1).
func yamlNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = yamlNumbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = yamlNumbers(x)
		}
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(t), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}
	}
	return v
}

// env renders t as NAME='value' lines for sh's "." and systemd's
// EnvironmentFile: names are the path below the namespace joined with "_",
// upper-cased, every character other than A-Z, 0-9 and _ made "_", and "_"
// put before a leading digit; values are single-quoted, a quote inside
// ending the quoting, escaped, and starting it again. Two keys that come out as one name, or a value holding a
// NUL (which no environment can carry), are refused with 422.
func (t *exportTree) env(s *Server) ([]byte, error) {
	var b bytes.Buffer
	seen := map[string]verso.Path{}
	for _, k := range t.keys {
		name := envName(k.rel)
		if other, dup := seen[name]; dup {
			return nil, errorf(http.StatusUnprocessableEntity, "%s and %s both export as %s; rename one of them",
				s.href(other, false), s.href(k.path, false), name)
		}
		seen[name] = k.path
		if bytes.IndexByte(k.value, 0) >= 0 {
			return nil, errorf(http.StatusUnprocessableEntity, "%s holds a NUL byte, which an environment variable cannot", s.href(k.path, false))
		}
		b.WriteString(name)
		b.WriteString("='")
		b.WriteString(strings.ReplaceAll(string(k.value), "'", `'\''`))
		b.WriteString("'\n")
	}
	return b.Bytes(), nil
}

// envName is the environment variable name of a key at rel.
func envName(rel []string) string {
	var b strings.Builder
	for i, seg := range rel {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, c := range seg {
			switch {
			case c >= 'a' && c <= 'z':
				b.WriteRune(c - 'a' + 'A')
			case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
				b.WriteRune(c)
			default:
				b.WriteByte('_')
			}
		}
	}
	name := b.String()
	if name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return name
}

// properties renders t as Java properties: key=value lines, the key the
// path below the namespace joined with ".", escaped as
// java.util.Properties.store escapes (\ = : # ! and spaces in keys,
// a leading space in values, \t \n \r \f, everything outside printable
// ASCII as \uXXXX), so the output is plain ASCII. Two keys that come out as
// one name ("a.b" and "a/b") are refused with 422.
func (t *exportTree) properties(s *Server) ([]byte, error) {
	var b bytes.Buffer
	seen := map[string]verso.Path{}
	for _, k := range t.keys {
		name := strings.Join(k.rel, ".")
		if other, dup := seen[name]; dup {
			return nil, errorf(http.StatusUnprocessableEntity, "%s and %s both export as %q; rename one of them",
				s.href(other, false), s.href(k.path, false), name)
		}
		seen[name] = k.path
		propertiesEscape(&b, name, true)
		b.WriteByte('=')
		propertiesEscape(&b, string(k.value), false)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// propertiesEscape writes s escaped for a properties file, as Java's
// Properties.saveConvert does: spaces escaped everywhere in a key, only
// leading in a value.
func propertiesEscape(b *bytes.Buffer, s string, key bool) {
	for i, c := range s {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case ' ':
			if key || i == 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(' ')
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			if c < 0x20 || c > 0x7e {
				for _, u := range utf16.Encode([]rune{c}) {
					fmt.Fprintf(b, `\u%04X`, u)
				}
				continue
			}
			b.WriteRune(c)
		}
	}
}
