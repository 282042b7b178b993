package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// Txn is a transaction being built: operations that the server applies in
// order as one new revision, or not at all. Build one with the methods
// below (each returns t, so they chain), then send it with Client.Commit.
//
// Each operation may carry a verso.Cond on its path (the zero Cond is
// none): Absent for "must not exist", Exists, ModRev for "still at the
// revision I read" (the key's ETag), or TreeRev for "nothing at or below it
// changed after the revision I read" (a namespace's listing revision).
// Base, when set, fails the whole
// transaction with a conflict if any path it changes changed after Base.
type Txn struct {
	Message string
	Base    verso.Revision
	ops     []txnOp
}

// txnOp is one operation as POST /api/v1/txn reads it.
type txnOp struct {
	Op          verso.OpKind `json:"op"`
	Path        verso.Path   `json:"path"`
	From        verso.Path   `json:"from,omitempty"`
	Value       *string      `json:"value,omitempty"`
	ValueBase64 *string      `json:"value_base64,omitempty"`
	ContentType string       `json:"content_type,omitempty"`
	Depth       string       `json:"depth,omitempty"`
	Overwrite   bool         `json:"overwrite,omitempty"`
	If          *txnCond     `json:"if,omitempty"`
}

type txnCond struct {
	Revision     verso.Revision `json:"revision,omitempty"`
	TreeRevision verso.Revision `json:"tree_revision,omitempty"`
	Exists       bool           `json:"exists,omitempty"`
	Absent       bool           `json:"absent,omitempty"`
}

func (t *Txn) add(op txnOp, c verso.Cond) *Txn {
	if !c.IsZero() {
		op.If = &txnCond{Revision: c.ModRev, TreeRevision: c.TreeRev, Exists: c.Exists, Absent: c.Absent}
	}
	t.ops = append(t.ops, op)
	return t
}

// Put writes data to the key p; contentType may be empty to let the server
// detect it.
func (t *Txn) Put(p verso.Path, data []byte, contentType string, c verso.Cond) *Txn {
	op := txnOp{Op: verso.OpPut, Path: p, ContentType: contentType}
	if utf8.Valid(data) {
		s := string(data)
		op.Value = &s
	} else {
		s := base64.StdEncoding.EncodeToString(data)
		op.ValueBase64 = &s
	}
	return t.add(op, c)
}

// Delete removes p and everything below it.
func (t *Txn) Delete(p verso.Path, c verso.Cond) *Txn {
	return t.add(txnOp{Op: verso.OpDelete, Path: p}, c)
}

// Mkdir creates the namespace p.
func (t *Txn) Mkdir(p verso.Path, c verso.Cond) *Txn {
	return t.add(txnOp{Op: verso.OpMkcol, Path: p}, c)
}

// Copy copies from, with everything below it, to p; overwrite lets it
// replace what is at p. The condition is on p.
func (t *Txn) Copy(from, p verso.Path, overwrite bool, c verso.Cond) *Txn {
	return t.add(txnOp{Op: verso.OpCopy, From: from, Path: p, Overwrite: overwrite}, c)
}

// Move moves from, with everything below it, to p.
func (t *Txn) Move(from, p verso.Path, overwrite bool, c verso.Cond) *Txn {
	return t.add(txnOp{Op: verso.OpMove, From: from, Path: p, Overwrite: overwrite}, c)
}

// Check asserts c on p and changes nothing.
func (t *Txn) Check(p verso.Path, c verso.Cond) *Txn {
	return t.add(txnOp{Op: verso.OpCheck, Path: p}, c)
}

// Len returns the number of operations so far.
func (t *Txn) Len() int { return len(t.ops) }

// Commit sends t and returns the record of the revision it made. A failed
// condition is an *Error that errors.Is matches to verso.ErrPrecondition, a
// stale Base one that matches verso.ErrConflict; its Op and Path name the
// operation that failed, its Paths the paths of a conflict.
func (c *Client) Commit(ctx context.Context, t *Txn) (*verso.Commit, error) {
	req := struct {
		Message string         `json:"message,omitempty"`
		Base    verso.Revision `json:"base,omitempty"`
		Ops     []txnOp        `json:"ops"`
	}{t.Message, t.Base, t.ops}
	if req.Ops == nil {
		req.Ops = []txnOp{}
	}
	var cm verso.Commit
	if err := c.postJSON(ctx, "txn", req, &cm); err != nil {
		return nil, err
	}
	return &cm, nil
}

// details reads what an API error body says beyond its message.
func (e *Error) details(body []byte) {
	var d struct {
		Op    *int         `json:"op"`
		Path  verso.Path   `json:"path"`
		Paths []verso.Path `json:"paths"`
		// Violations are those of a write a schema refused (422).
		Violations []verso.Violation `json:"violations"`
	}
	if json.Unmarshal(body, &d) != nil {
		return
	}
	e.Op, e.Path, e.Paths, e.Violations = d.Op, d.Path, d.Paths, d.Violations
}

// CompareAndSwap writes data to p only if p is still at revision old (its
// ETag, as Get returned it in Value.Revision); old 0 means p must not
// exist. It returns the revision it made; if p changed in between, the
// error matches verso.ErrPrecondition and nothing was written.
func (c *Client) CompareAndSwap(ctx context.Context, p verso.Path, old verso.Revision, data []byte, opts *WriteOptions) (verso.Revision, error) {
	o := WriteOptions{}
	if opts != nil {
		o = *opts
	}
	o.IfMatch, o.IfNoneMatch = "", ""
	if old == 0 {
		o.IfNoneMatch = "*"
	} else {
		o.IfMatch = strconv.Quote(strconv.FormatInt(int64(old), 10))
	}
	rev, _, err := c.Put(ctx, p, data, &o)
	return rev, err
}

// Update reads the key p, calls fn with its value (nil and exists false
// when there is none), and writes what fn returns with CompareAndSwap,
// trying again from the read when someone else wrote p in between, up to
// attempts times (0: 10). It returns the revision it made.
func (c *Client) Update(ctx context.Context, p verso.Path, attempts int, fn func(old []byte, exists bool) ([]byte, error)) (verso.Revision, error) {
	if attempts <= 0 {
		attempts = 10
	}
	var err error
	for range attempts {
		var old []byte
		var rev verso.Revision
		v, gerr := c.Get(ctx, p, verso.Head)
		switch {
		case gerr == nil:
			old, rev = v.Data, v.Revision
		case !errors.Is(gerr, verso.ErrNotFound):
			return 0, gerr
		}
		data, ferr := fn(old, v != nil)
		if ferr != nil {
			return 0, ferr
		}
		var made verso.Revision
		made, err = c.CompareAndSwap(ctx, p, rev, data, nil)
		if err == nil {
			return made, nil
		}
		if !errors.Is(err, verso.ErrPrecondition) {
			return 0, err
		}
	}
	return 0, err
}
