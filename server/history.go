package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"
	"github.com/verso-config/verso"
)

// diffJSON is the answer of GET /api/v1/diff.
type diffJSON struct {
	Path    verso.Path       `json:"path"`
	From    verso.Revision   `json:"from"`
	To      verso.Revision   `json:"to"`
	Changes []diffChangeJSON `json:"changes"`
}

type diffChangeJSON struct {
	Path verso.Path `json:"path"`
	Kind verso.Kind `json:"kind"`
	// Status is added, deleted or modified (from "from" to "to").
	Status string `json:"status"`
	// Diff is a unified diff when both sides are text.
	Diff string `json:"diff,omitempty"`
	// Binary is true when a side is not text; Old and New then summarise.
	Binary bool         `json:"binary,omitempty"`
	Old    *sideSummary `json:"old,omitempty"`
	New    *sideSummary `json:"new,omitempty"`
	// Props is true when the dead properties differ.
	Props bool `json:"props_changed,omitempty"`
}

type sideSummary struct {
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

// handleDiff answers GET /api/v1/diff?path=P&from=A&to=B (to defaults to
// the head): every key at or below P that differs, as JSON, or as one
// unified diff in plain text for Accept: text/plain (or format=text).
func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := queryPath(q.Get("path"))
	if err != nil {
		return err
	}
	head, err := s.store.Head(r.Context())
	if err != nil {
		return err
	}
	from, err := revParam(q.Get("from"), head, true)
	if err != nil {
		return err
	}
	to, err := revParam(q.Get("to"), head, false)
	if err != nil {
		return err
	}
	diffs, err := verso.Diff(r.Context(), s.store, p, from, to)
	if err != nil {
		return err
	}
	out := diffJSON{Path: p, From: from, To: to, Changes: []diffChangeJSON{}}
	for _, d := range diffs {
		if !s.readable(r, d.Path) { // unreadable paths are left out (access.go)
			continue
		}
		out.Changes = append(out.Changes, describeDiff(d, from, to))
	}
	if q.Get("format") == "text" || strings.HasPrefix(r.Header.Get("Accept"), "text/plain") {
		var b strings.Builder
		for _, c := range out.Changes {
			writeDiffText(&b, c, from, to)
		}
		w.Header().Set("Content-Type", "text/x-diff; charset=utf-8")
		w.Write([]byte(b.String()))
		return nil
	}
	return writeJSON(w, http.StatusOK, out)
}

// revParam reads a revision parameter: required or defaulting to the head,
// and within 0..head.
func revParam(v string, head verso.Revision, required bool) (verso.Revision, error) {
	if v == "" {
		if required {
			return 0, errorf(http.StatusBadRequest, "from is required (a revision number)")
		}
		return head, nil
	}
	rev, err := verso.ParseRevision(v)
	if err != nil {
		return 0, withStatus(http.StatusBadRequest, err)
	}
	if rev == verso.Head {
		return head, nil
	}
	if rev > head {
		return 0, errorf(http.StatusNotFound, "revision %d is beyond the head (%d)", rev, head)
	}
	return rev, nil
}

// describeDiff turns one Difference into its JSON form.
func describeDiff(d verso.Difference, from, to verso.Revision) diffChangeJSON {
	c := diffChangeJSON{Path: d.Path}
	var oldV, newV []byte
	switch {
	case d.Old == nil:
		c.Status, c.Kind, newV = "added", d.New.Kind, d.New.Value
	case d.New == nil:
		c.Status, c.Kind, oldV = "deleted", d.Old.Kind, d.Old.Value
	default:
		c.Status, c.Kind, oldV, newV = "modified", d.New.Kind, d.Old.Value, d.New.Value
		c.Props = !maps.Equal(d.Old.Props, d.New.Props)
	}
	if c.Kind == verso.KindNamespace {
		return c
	}
	if isText(oldV) && isText(newV) {
		if !bytes.Equal(oldV, newV) {
			c.Diff = udiff.Unified(fmt.Sprintf("%s@%d", d.Path, from), fmt.Sprintf("%s@%d", d.Path, to), string(oldV), string(newV))
		}
		return c
	}
	c.Binary = true
	if d.Old != nil {
		c.Old = summarize(oldV)
	}
	if d.New != nil {
		c.New = summarize(newV)
	}
	return c
}

// isText reports whether a value can be shown as a line diff.
func isText(v []byte) bool { return utf8.Valid(v) && bytes.IndexByte(v, 0) < 0 }

func summarize(v []byte) *sideSummary {
	sum := sha256.Sum256(v)
	return &sideSummary{Size: len(v), SHA256: hex.EncodeToString(sum[:])}
}

// writeDiffText renders one change the way svn diff does.
func writeDiffText(b *strings.Builder, c diffChangeJSON, from, to verso.Revision) {
	switch {
	case c.Kind == verso.KindNamespace:
		fmt.Fprintf(b, "Namespace %s %s\n", c.Path, c.Status)
	case c.Binary:
		fmt.Fprintf(b, "Binary value %s %s", c.Path, c.Status)
		if c.Old != nil {
			fmt.Fprintf(b, "; r%d: %d bytes, sha256 %s", from, c.Old.Size, c.Old.SHA256)
		}
		if c.New != nil {
			fmt.Fprintf(b, "; r%d: %d bytes, sha256 %s", to, c.New.Size, c.New.SHA256)
		}
		b.WriteString("\n")
	case c.Diff != "":
		fmt.Fprintf(b, "Index: %s\n===================================================================\n%s", c.Path, c.Diff)
	}
	if c.Props {
		fmt.Fprintf(b, "Property changes on: %s\n", c.Path)
	}
}

// revertRequest is the body of POST /api/v1/revert: either Path and To
// (restore Path to its state at revision To) or Undo (reverse-apply one
// revision).
type revertRequest struct {
	Path    string          `json:"path"`
	To      *verso.Revision `json:"to"`
	Undo    verso.Revision  `json:"undo"`
	Message string          `json:"message"`
	// Base, when given, is the revision the client previewed the revert
	// at: it commits only if nothing it changes changed after Base.
	Base *verso.Revision `json:"base"`
}

// revertJSON is the answer of a revert.
type revertJSON struct {
	// Revision is the new revision, absent when nothing differed.
	Revision *verso.Revision `json:"revision,omitempty"`
	Changed  bool            `json:"changed"`
	Commit   *verso.Commit   `json:"commit,omitempty"`
}

// handleRevert answers POST /api/v1/revert. History is never rewritten: a
// revert is one new revision, authored by the caller.
func (s *Server) handleRevert(w http.ResponseWriter, r *http.Request) error {
	var req revertRequest
	if err := readJSON(w, r, 64<<10, &req); err != nil {
		return err
	}
	ctx := r.Context()
	head, err := s.store.Head(ctx)
	if err != nil {
		return err
	}
	if b := req.Base; b != nil && (*b < 0 || *b > head) {
		if *b < 0 {
			return errorf(http.StatusBadRequest, "base must be a revision from 0 to the head (%d)", head)
		}
		return errorf(http.StatusNotFound, "base %d is beyond the head (%d)", *b, head)
	}
	var ops []verso.Op
	var p verso.Path
	var msg string
	switch {
	case req.Undo != 0 && (req.To != nil || req.Path != ""):
		return errorf(http.StatusBadRequest, "give either undo, or path and to, not both")
	case req.Undo != 0:
		if req.Undo < 1 || req.Undo > head {
			return errorf(http.StatusNotFound, "no revision %d to undo (head is %d)", req.Undo, head)
		}
		msg = verso.RevertMessage("", 0, req.Undo)
		// Before UndoOps, whose conflicts name paths (access.go).
		c, err := s.store.Revision(ctx, req.Undo)
		if err != nil {
			return err
		}
		if err := s.authorizeCommit(r, c); err != nil {
			return err
		}
		if ops, err = verso.UndoOps(ctx, s.store, req.Undo); err != nil {
			return err
		}
	case req.To != nil:
		if p, err = queryPath(req.Path); err != nil {
			return err
		}
		if *req.To < 0 || *req.To > head {
			return errorf(http.StatusNotFound, "no revision %d (head is %d)", *req.To, head)
		}
		msg = verso.RevertMessage(p, *req.To, 0)
		if ops, err = verso.RestoreOps(ctx, s.store, p, *req.To); err != nil {
			return err
		}
	default:
		return errorf(http.StatusBadRequest, `give {"path": P, "to": N} to restore P as of revision N, or {"undo": N} to reverse revision N`)
	}
	if err := s.authorizeOps(r, ops); err != nil { // read and write every path (access.go)
		return err
	}
	if len(ops) == 0 {
		return writeJSON(w, http.StatusOK, revertJSON{})
	}
	if req.Message != "" {
		msg = req.Message
	}
	// Base guards the plan: if anything it touches changed since it was
	// computed (or since the client's preview), the revert fails with 409
	// instead of clobbering it.
	base := head
	if req.Base != nil {
		base = *req.Base
	}
	if err := s.confirmOps(r, ops, nil); err != nil { // locks (apilocks.go)
		return err
	}
	c, err := s.commitTxn(ctx, &verso.Txn{Author: s.author(r), Message: msg, Base: base, Ops: ops})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, revertJSON{Revision: &c.Rev, Changed: true, Commit: c})
}
