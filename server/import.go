package server

// Import: a JSON or YAML document sent to a namespace becomes keys and
// namespaces below it, in one revision. See "Export and import" in
// docs/HTTP.md. This file plans and commits the import; reading the
// documents is package internal/format's.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/format"
)

// importSizeFactor times the value limit is the largest document an import
// takes (8 MiB with the default 1 MiB limit).
const importSizeFactor = 8

// importFormat returns "json" or "yaml" for a request whose Content-Type is
// a JSON or YAML document, and "" otherwise.
func importFormat(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/json", strings.HasSuffix(mt, "+json"):
		return format.JSON
	case mt == "application/yaml", mt == "application/x-yaml", mt == "text/yaml", mt == "text/x-yaml", strings.HasSuffix(mt, "+yaml"):
		return format.YAML
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
	docFormat := importFormat(r)
	if docFormat == "" {
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
	var doc *format.Node
	if docFormat == format.JSON {
		doc, err = format.ParseJSON(body)
	} else {
		doc, err = format.ParseYAML(body)
	}
	var ie *format.InvalidError
	if errors.As(err, &ie) {
		return withStatus(http.StatusBadRequest, err)
	}
	if err != nil {
		return err
	}
	if doc.Kind != format.Object {
		return errorf(http.StatusBadRequest, "the document must be an object (a mapping) of keys and namespaces")
	}
	pl, err := s.planImport(r, p, doc, sync)
	if err != nil {
		return err
	}
	// Locks (apilocks.go): what the import creates, replaces and deletes.
	// A dry run answers what the commit would.
	if len(pl.ops) > 0 {
		if err := s.confirmOps(r, pl.ops, nil); err != nil {
			return err
		}
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
	c, err := s.commitTxn(r.Context(), &verso.Txn{Author: s.author(r), Message: msg, Base: pl.head, Ops: pl.ops})
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
func (s *Server) planImport(r *http.Request, p verso.Path, doc *format.Node, sync bool) (*importPlan, error) {
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
func (pl *importPlan) object(s *Server, r *http.Request, ns verso.Path, ptr string, obj *format.Node, cur map[verso.Path]*verso.Entry, inDoc map[verso.Path]bool) error {
	for _, f := range obj.Fields {
		fptr := ptr + "/" + format.PointerEscape(f.Name)
		p, err := childPath(ns, f.Name)
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid key name at %s%s: %v", fptr, f.Node.Where(), err)
		}
		inDoc[p] = true
		old := cur[p]
		if f.Node.Kind == format.Object {
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
			if err := pl.object(s, r, p, fptr, f.Node, cur, inDoc); err != nil {
				return err
			}
			continue
		}
		if int64(len(f.Node.Value)) > s.max {
			return errorf(http.StatusRequestEntityTooLarge, "value at %s%s is %d bytes, over the limit of %d", fptr, f.Node.Where(), len(f.Node.Value), s.max)
		}
		if old != nil && !old.IsNamespace() && bytes.Equal(old.Value, f.Node.Value) && old.ContentType == f.Node.ContentType {
			continue
		}
		if old != nil && old.IsNamespace() {
			if err := pl.add(s, r, verso.Op{Kind: verso.OpDelete, Path: p}); err != nil {
				return err
			}
		}
		if err := pl.add(s, r, verso.Op{Kind: verso.OpPut, Path: p, Value: f.Node.Value, ContentType: f.Node.ContentType}); err != nil {
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
