package svn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// merge answers MERGE: the transaction named in the body's DAV:source
// becomes one verso revision.
func (h *Handler) merge(w http.ResponseWriter, r *http.Request, mres resource) error {
	base := verso.Root // lock paths are relative to the URL of the MERGE
	if mres.kind == kindNode {
		base = mres.path
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		return err
	}
	doc, err := parseDocument(bytes.NewReader(body))
	if err != nil {
		return bodyError(err)
	}
	if doc.Name.Space != nsDAV || doc.Name.Local != "merge" {
		return badRequest("MERGE body is <%s>, not DAV:merge", doc.Name.Local)
	}
	var src string
	for _, c := range doc.Children {
		if c.Name.Space == nsDAV && c.Name.Local == "source" {
			src = strings.TrimSpace(c.Text)
		}
	}
	res, err := h.resourceAt(src, "MERGE's source")
	if err != nil {
		return err
	}
	if res.kind != kindWrite || res.stub != "txn" {
		return &Error{Status: http.StatusBadRequest, Code: errUnsupported,
			Msg: fmt.Sprintf("MERGE source %q is not a transaction (verso speaks protocol version 2)", src)}
	}
	var c *verso.Commit
	err = h.withTxn(r, res.txn, func(t *txn) error {
		if len(t.ops) == 0 {
			return &Error{Status: http.StatusConflict, Code: errGeneral, Msg: "the commit changes nothing"}
		}
		// the merge record makes sure this server has every change of the
		// transaction, and holds off changes through other servers
		if err := h.record(r.Context(), t, &txnRec{Kind: recMerge}); err != nil {
			return err
		}
		unmerge := func() {
			if uerr := h.record(context.WithoutCancel(r.Context()), t, &txnRec{Kind: recUnmerge}); uerr != nil {
				h.o.Logger.Warn("verso: svn commit failed and stays refused", "txn", t.name, "err", uerr)
			}
		}
		// locks granted since the changes were checked, as Subversion
		// checks them when it commits, with the tokens the MERGE lists
		_, tokens := mergeLocks(body)
		if err := h.mergeConfirmLocks(r.Context(), t, tokens); err != nil {
			unmerge()
			return err
		}
		txn := &verso.Txn{Author: t.user, Message: t.log, Ops: t.ops}
		if h.o.Locks != nil {
			c, err = h.o.Locks.Commit(r.Context(), txn)
		} else {
			c, err = h.store.Commit(r.Context(), txn)
		}
		if err != nil {
			unmerge()
			if errors.Is(err, ErrLocked) {
				return h.lockError(err)
			}
			return h.commitError(r, err)
		}
		if h.txns.j != nil {
			if err := h.txns.j.DropJournal(context.WithoutCancel(r.Context()), t.journal); err != nil {
				h.o.Logger.Warn("verso: drop the journal of a committed svn transaction; it expires", "txn", t.name, "err", err)
			}
		}
		h.txns.drop(t)
		return nil
	})
	if err != nil {
		return err
	}
	h.releaseLocks(r, base, body)
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	w.Header().Set("X-Verso-Revision", strconv.FormatInt(int64(c.Rev), 10))
	w.WriteHeader(http.StatusOK)
	b := newXW()
	b.raw(xmlHeader + `<D:merge-response xmlns:D="DAV:">` + "\n<D:updated-set>\n<D:response>\n<D:href>")
	b.text(h.o.Mount + "/!svn/vcc/default")
	b.raw("</D:href>\n<D:propstat><D:prop>\n<D:resourcetype><D:baseline/></D:resourcetype>\n")
	b.elem("D:version-name", strconv.FormatInt(int64(c.Rev), 10))
	b.raw("\n")
	b.elem("D:creationdate", svnfs.Time(c.Time))
	b.raw("\n")
	if c.Author != "" {
		b.elem("D:creator-displayname", c.Author)
		b.raw("\n")
	}
	b.raw("</D:prop>\n<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n</D:response>\n</D:updated-set>\n</D:merge-response>\n")
	w.Write(b.bytes())
	return nil
}

// commitError maps a refused commit to svn's errors: a condition that no
// longer holds is "out of date"; a namespace's schema refusing it is what
// a pre-commit hook's refusal is to Subversion, listing the violations one
// a line.
func (h *Handler) commitError(r *http.Request, err error) error {
	var pe *verso.PathError
	path := ""
	if errors.As(err, &pe) {
		path = string(pe.Path)
	}
	var se *verso.SchemaError
	switch {
	case errors.As(err, &se):
		return &Error{Status: http.StatusUnprocessableEntity, Code: errCommitRule, Msg: h.schemaMessage(r, se)}
	case errors.Is(err, verso.ErrInvalidSchema):
		return &Error{Status: http.StatusUnprocessableEntity, Code: errCommitRule, Msg: err.Error()}
	case errors.Is(err, verso.ErrPrecondition), errors.Is(err, verso.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: errFSConflict,
			Msg: fmt.Sprintf("'%s' is out of date; try updating", path)}
	case errors.Is(err, verso.ErrExists):
		return &Error{Status: http.StatusConflict, Code: errFSExists,
			Msg: fmt.Sprintf("'%s' already exists", path)}
	case errors.Is(err, verso.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: errBadRequest, Msg: err.Error()}
	case errors.Is(err, verso.ErrLocksChanged):
		return &Error{Status: http.StatusServiceUnavailable, Code: errBadRequest, Msg: "the locks kept changing while the commit was checked against them; commit again"}
	case errors.Is(err, verso.ErrNotFound), errors.Is(err, verso.ErrNoParent):
		return &Error{Status: http.StatusConflict, Code: errFSConflict,
			Msg: fmt.Sprintf("'%s' path not found; try updating", path)}
	case errors.Is(err, verso.ErrNotNamespace), errors.Is(err, verso.ErrIsNamespace),
		errors.Is(err, verso.ErrInvalidOp), errors.Is(err, verso.ErrSamePath), errors.Is(err, verso.ErrRoot),
		errors.Is(err, verso.ErrInvalidPath):
		return &Error{Status: http.StatusConflict, Code: errGeneral, Msg: err.Error()}
	}
	return err
}

// schemaMessage lists the violations of se, one a line, but those at
// paths the user of r may not read (a message can quote the value), of
// which one line says there were some.
func (h *Handler) schemaMessage(r *http.Request, se *verso.SchemaError) string {
	var b strings.Builder
	b.WriteString(verso.ErrSchema.Error() + ":")
	hidden := false
	for _, v := range se.Violations {
		if a := h.o.Access; a != nil && (!a.CanRead(r, v.Path) || !a.CanRead(r, v.Namespace)) {
			hidden = true
			continue
		}
		b.WriteString("\n  " + v.String())
	}
	if hidden {
		b.WriteString("\n  values the user may not read do not validate either")
	}
	return b.String()
}
