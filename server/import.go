package server

// Import: a JSON or YAML document sent to a namespace becomes keys and
// namespaces below it, in one revision. See "Export and import" in
// docs/HTTP.md.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/verso-config/verso"
)

// importSizeFactor times the value limit is the largest document an import
// takes (8 MiB with the default 1 MiB limit).
const importSizeFactor = 8

// maxYAMLNodes caps the nodes an import visits, so that YAML aliases cannot
// expand a small document into a huge one.
const maxYAMLNodes = 1 << 20

// Media types of imported values.
const (
	textType   = "text/plain; charset=utf-8"
	jsonType   = "application/json"
	binaryType = "application/octet-stream"
)

// importFormat returns "json" or "yaml" for a request whose Content-Type is
// a JSON or YAML document, and "" otherwise.
func importFormat(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/json", strings.HasSuffix(mt, "+json"):
		return formatJSON
	case mt == "application/yaml", mt == "application/x-yaml", mt == "text/yaml", mt == "text/x-yaml", strings.HasSuffix(mt, "+yaml"):
		return formatYAML
	}
	return ""
}

// importsOnPut reports whether a PUT is an import: a JSON or YAML document
// sent to the root or to an existing namespace (which a PUT could not
// otherwise write).
func (s *Server) importsOnPut(r *http.Request, p verso.Path) bool {
	if importFormat(r) == "" {
		return false
	}
	e, err := s.current(r, p)
	return err == nil && e != nil && e.IsNamespace()
}

// importJSON is the answer of an import.
type importJSON struct {
	// Changed is false when the tree already held the document (no new
	// revision was made).
	Changed  bool           `json:"changed"`
	Revision verso.Revision `json:"revision"`
	Added    int            `json:"added"`
	Modified int            `json:"modified"`
	Deleted  int            `json:"deleted"`
}

// handleImport answers POST (or a PUT of a document, see importsOnPut) to
// a namespace: the document's objects become namespaces, its other values
// keys, all in one revision. ?sync=1 also deletes what is below the
// namespace and not in the document. A namespace missing at p is created,
// with the namespaces above it.
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request, p verso.Path) error {
	format := importFormat(r)
	if format == "" {
		return errorf(http.StatusUnsupportedMediaType, "%s imports a document: send Content-Type application/json or application/yaml", r.Method)
	}
	sync := false
	switch v := r.URL.Query().Get("sync"); v {
	case "", "0", "false":
	case "1", "true":
		sync = true
	default:
		return errorf(http.StatusBadRequest, "sync must be 1 or 0, not %q", v)
	}
	limit := s.max * importSizeFactor
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "document exceeds the import limit of %d bytes", limit)
		}
		return withStatus(http.StatusBadRequest, fmt.Errorf("read body: %w", err))
	}
	var doc *docNode
	if format == formatJSON {
		doc, err = parseJSONDoc(body)
	} else {
		doc, err = parseYAMLDoc(body)
	}
	if err != nil {
		return err
	}
	if doc.kind != docObject {
		return errorf(http.StatusBadRequest, "the document must be an object (a mapping) of keys and namespaces")
	}
	pl, err := s.planImport(r, p, doc, sync)
	if err != nil {
		return err
	}
	if dry, err := wantsDryRun(r); err != nil || dry {
		if err != nil {
			return err
		}
		return s.dryRun(w, r, &verso.Txn{Author: s.author(r), Base: pl.head, Ops: pl.ops}) // dryrun.go
	}
	if len(pl.ops) == 0 {
		w.Header().Set(HeaderRevision, strconv.FormatInt(int64(pl.head), 10))
		return writeJSON(w, http.StatusOK, importJSON{Revision: pl.head})
	}
	msg, err := message(r, "IMPORT "+string(p))
	if err != nil {
		return err
	}
	c, err := s.store.Commit(r.Context(), &verso.Txn{Author: s.author(r), Message: msg, Base: pl.head, Ops: pl.ops})
	if err != nil {
		return err
	}
	out := importJSON{Changed: true, Revision: c.Rev}
	for _, ch := range c.Changes {
		switch ch.Action {
		case verso.Deleted:
			out.Deleted++
		case verso.Modified:
			out.Modified++
		default:
			out.Added++
		}
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(c.Rev), 10))
	return writeJSON(w, http.StatusOK, out)
}

// importPlan is the transaction an import makes, planned against head.
type importPlan struct {
	head verso.Revision
	ops  []verso.Op
}

// planImport turns doc into the operations that make the namespace p hold
// it, as of the head: only what differs is written. The commit is based on
// that head, so a concurrent change to a path the import touches fails it
// with 409 rather than being overwritten unseen.
func (s *Server) planImport(r *http.Request, p verso.Path, doc *docNode, sync bool) (*importPlan, error) {
	ctx := r.Context()
	head, err := s.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	pl := &importPlan{head: head}
	cur := map[verso.Path]*verso.Entry{}
	var order []verso.Path
	err = s.store.Walk(ctx, p, head, verso.Infinite, func(e *verso.Entry) error {
		cur[e.Path] = e
		order = append(order, e.Path)
		return nil
	})
	switch {
	case errors.Is(err, verso.ErrNotFound):
		// Create p and the namespaces above it that are missing.
		missing := []verso.Path{p}
		for _, a := range p.Ancestors() {
			e, err := s.store.Get(ctx, a, head)
			if errors.Is(err, verso.ErrNotFound) {
				missing = append(missing, a)
				continue
			}
			if err != nil {
				return nil, err
			}
			if !e.IsNamespace() {
				return nil, errorf(http.StatusConflict, "%s is a key, not a namespace: it cannot hold %s", s.href(a, false), s.href(p, true))
			}
			break
		}
		for i := len(missing) - 1; i >= 0; i-- {
			if err := pl.add(s, r, verso.Op{Kind: verso.OpMkcol, Path: missing[i]}); err != nil {
				return nil, err
			}
		}
	case err != nil:
		return nil, err
	case !cur[p].IsNamespace():
		return nil, errorf(http.StatusConflict, "%s is a key, not a namespace: an import writes below a namespace", s.href(p, false))
	}
	inDoc := map[verso.Path]bool{p: true}
	if err := pl.object(s, r, p, "", doc, cur, inDoc); err != nil {
		return nil, err
	}
	if sync {
		var gone verso.Path // the last deleted namespace: its subtree goes with it
		for _, q := range order {
			if inDoc[q] || (gone != "" && gone.Contains(q)) || q.IsSchema() {
				continue // a sync keeps the schema of a namespace it keeps (schema.go)
			}
			if err := pl.add(s, r, verso.Op{Kind: verso.OpDelete, Path: q}); err != nil {
				return nil, err
			}
			if cur[q].IsNamespace() {
				gone = q
			}
		}
	}
	return pl, nil
}

// add appends op to the plan after checking that the request may write its
// path.
func (pl *importPlan) add(s *Server, r *http.Request, op verso.Op) error {
	check := s.authorize
	if op.Kind == verso.OpDelete {
		check = s.authorizeTree // a sync may delete a whole namespace
	}
	if err := check(r, op.Path, Write); err != nil {
		return err
	}
	pl.ops = append(pl.ops, op)
	return nil
}

// object plans the fields of obj into the namespace ns, which exists (in
// the tree or earlier in the plan). ptr is obj's JSON pointer.
func (pl *importPlan) object(s *Server, r *http.Request, ns verso.Path, ptr string, obj *docNode, cur map[verso.Path]*verso.Entry, inDoc map[verso.Path]bool) error {
	for _, f := range obj.fields {
		fptr := ptr + "/" + pointerEscape(f.name)
		p, err := childPath(ns, f.name)
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid key name at %s%s: %v", fptr, f.node.where(), err)
		}
		inDoc[p] = true
		old := cur[p]
		if f.node.kind == docObject {
			if old == nil || !old.IsNamespace() {
				if old != nil {
					if err := pl.add(s, r, verso.Op{Kind: verso.OpDelete, Path: p}); err != nil {
						return err
					}
				}
				if err := pl.add(s, r, verso.Op{Kind: verso.OpMkcol, Path: p}); err != nil {
					return err
				}
			}
			if err := pl.object(s, r, p, fptr, f.node, cur, inDoc); err != nil {
				return err
			}
			continue
		}
		if int64(len(f.node.value)) > s.max {
			return errorf(http.StatusRequestEntityTooLarge, "value at %s%s is %d bytes, over the limit of %d", fptr, f.node.where(), len(f.node.value), s.max)
		}
		if old != nil && !old.IsNamespace() && bytes.Equal(old.Value, f.node.value) && old.ContentType == f.node.ctype {
			continue
		}
		if old != nil && old.IsNamespace() {
			if err := pl.add(s, r, verso.Op{Kind: verso.OpDelete, Path: p}); err != nil {
				return err
			}
		}
		if err := pl.add(s, r, verso.Op{Kind: verso.OpPut, Path: p, Value: f.node.value, ContentType: f.node.ctype}); err != nil {
			return err
		}
	}
	return nil
}

// childPath is the path of the child name of ns, if name is a valid single
// segment.
func childPath(ns verso.Path, name string) (verso.Path, error) {
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("%q holds a '/'; nest an object instead", name)
	}
	if name == "" {
		return "", errors.New("empty name")
	}
	p, err := verso.ParsePath(string(ns.Join(name)))
	if err != nil {
		var pe *verso.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%q: %w", name, err)
	}
	if p != ns.Join(name) {
		return "", fmt.Errorf("%q is not a plain name", name)
	}
	return p, nil
}

// pointerEscape escapes a name for a JSON pointer (RFC 6901).
func pointerEscape(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// docKind says what a document node is.
type docKind int

const (
	docObject docKind = iota + 1
	docScalar
	docArray
)

// docNode is one value of an imported document.
type docNode struct {
	kind   docKind
	fields []docField // of an object, in document order
	value  []byte     // a scalar as text, or an array as JSON text
	ctype  string     // the content type its key gets
	line   int        // line in a YAML document; 0 for JSON
}

type docField struct {
	name string
	node *docNode
}

// where names the node's line for error messages, when it has one.
func (n *docNode) where() string {
	if n.line > 0 {
		return fmt.Sprintf(" (line %d)", n.line)
	}
	return ""
}

// invalidDoc is the error of a document that cannot be imported.
func invalidDoc(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}

// parseJSONDoc reads a JSON document, keeping object fields in order and
// refusing duplicate names.
func parseJSONDoc(b []byte) (*docNode, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseJSONValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidDoc("invalid JSON: more than one value (at byte %d)", dec.InputOffset())
	}
	return n, nil
}

func parseJSONValue(dec *json.Decoder, ptr string) (*docNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntax(dec, ptr, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			var items []any
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					return nil, jsonSyntax(dec, ptr, err)
				}
				items = append(items, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, jsonSyntax(dec, ptr, err)
			}
			return arrayNode(items, 0)
		}
		n := &docNode{kind: docObject}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, jsonSyntax(dec, ptr, err)
			}
			name := kt.(string)
			fptr := ptr + "/" + pointerEscape(name)
			if seen[name] {
				return nil, invalidDoc("invalid JSON: duplicate name at %s", fptr)
			}
			seen[name] = true
			child, err := parseJSONValue(dec, fptr)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, docField{name: name, node: child})
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonSyntax(dec, ptr, err)
		}
		return n, nil
	case string:
		return &docNode{kind: docScalar, value: []byte(t), ctype: textType}, nil
	case json.Number:
		return &docNode{kind: docScalar, value: []byte(t), ctype: textType}, nil
	case bool:
		return &docNode{kind: docScalar, value: []byte(strconv.FormatBool(t)), ctype: textType}, nil
	default: // null
		return &docNode{kind: docScalar, value: []byte{}, ctype: textType}, nil
	}
}

// jsonSyntax describes a JSON error with where it happened.
func jsonSyntax(dec *json.Decoder, ptr string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if ptr == "" {
		ptr = "the top"
	}
	return invalidDoc("invalid JSON at byte %d (in %s): %v", dec.InputOffset(), ptr, err)
}

// arrayNode is a key holding the JSON text of an array.
func arrayNode(items []any, line int) (*docNode, error) {
	if items == nil {
		items = []any{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(items); err != nil {
		return nil, err
	}
	return &docNode{kind: docArray, value: bytes.TrimSuffix(b.Bytes(), []byte("\n")), ctype: jsonType, line: line}, nil
}

// parseYAMLDoc reads one YAML document. Scalars keep the text they were
// written with (1.10 stays 1.10); aliases and merge keys (<<) are resolved;
// duplicate names are refused.
func parseYAMLDoc(b []byte) (*docNode, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return nil, invalidDoc("invalid YAML: the document is empty")
		}
		return nil, invalidDoc("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, invalidDoc("invalid YAML: more than one document (the second at line %d)", extra.Line)
	}
	budget := maxYAMLNodes
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return yamlValue(n, "", &budget)
}

func yamlValue(n *yaml.Node, ptr string, budget *int) (*docNode, error) {
	if *budget--; *budget < 0 {
		return nil, invalidDoc("invalid YAML: more than %d nodes once aliases are expanded", maxYAMLNodes)
	}
	at := ptr
	if at == "" {
		at = "the top"
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, ptr, budget)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return &docNode{kind: docScalar, value: []byte{}, ctype: textType, line: n.Line}, nil
		case "!!binary":
			v, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
			if err != nil {
				return nil, invalidDoc("invalid YAML at %s (line %d): !!binary value is not base64", at, n.Line)
			}
			return &docNode{kind: docScalar, value: v, ctype: binaryType, line: n.Line}, nil
		}
		return &docNode{kind: docScalar, value: []byte(n.Value), ctype: textType, line: n.Line}, nil
	case yaml.SequenceNode:
		var items []any
		if err := n.Decode(&items); err != nil {
			return nil, invalidDoc("invalid YAML at %s (line %d): %v", at, n.Line, err)
		}
		for i := range items {
			items[i] = jsonable(items[i])
		}
		d, err := arrayNode(items, n.Line)
		if err != nil {
			return nil, invalidDoc("invalid YAML at %s (line %d): the list cannot be written as JSON: %v", at, n.Line, err)
		}
		return d, nil
	case yaml.MappingNode:
		d := &docNode{kind: docObject, line: n.Line}
		seen := map[string]bool{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, invalidDoc("invalid YAML at %s (line %d): a name must be a scalar", at, k.Line)
			}
			if k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			fptr := ptr + "/" + pointerEscape(k.Value)
			if seen[k.Value] {
				return nil, invalidDoc("invalid YAML: duplicate name at %s (line %d)", fptr, k.Line)
			}
			seen[k.Value] = true
			child, err := yamlValue(v, fptr, budget)
			if err != nil {
				return nil, err
			}
			d.fields = append(d.fields, docField{name: k.Value, node: child})
		}
		// Merged mappings add the names not given explicitly; of several,
		// the first to give a name wins, as YAML's merge key says.
		for _, m := range merges {
			if m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, src := range srcs {
				md, err := yamlValue(src, ptr, budget)
				if err != nil {
					return nil, err
				}
				if md.kind != docObject {
					return nil, invalidDoc("invalid YAML at %s (line %d): << merges mappings only", at, m.Line)
				}
				for _, f := range md.fields {
					if !seen[f.name] {
						seen[f.name] = true
						d.fields = append(d.fields, f)
					}
				}
			}
		}
		return d, nil
	}
	return nil, invalidDoc("invalid YAML at %s (line %d): unexpected node", at, n.Line)
}

// jsonable turns what the YAML decoder returns into values encoding/json
// can write: mappings with names that are not strings get them as text.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
	}
	return v
}
