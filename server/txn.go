package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// Limits of POST /api/v1/txn (documented in docs/HTTP.md). Each value is
// also held to Options.MaxValueSize.
const (
	// MaxTxnOps is the most operations one transaction may hold.
	MaxTxnOps = 10000
	// MaxTxnBody is the largest request body of a transaction, in bytes.
	MaxTxnBody = 64 << 20
)

// txnOpJSON is one operation of a transaction as clients send it.
type txnOpJSON struct {
	Op          string       `json:"op"`
	Path        *string      `json:"path"`
	From        *string      `json:"from"`
	Value       *string      `json:"value"`
	ValueBase64 *string      `json:"value_base64"`
	ContentType string       `json:"content_type"`
	Depth       string       `json:"depth"`
	Overwrite   *bool        `json:"overwrite"`
	If          *txnCondJSON `json:"if"`
}

// txnCondJSON is the "if" of an operation.
type txnCondJSON struct {
	Revision verso.Revision `json:"revision"`
	ETag     string         `json:"etag"`
	Exists   bool           `json:"exists"`
	Absent   bool           `json:"absent"`
	// TreeRevision is verso.Cond.TreeRev: nothing at or below the path
	// changed after it.
	TreeRevision verso.Revision `json:"tree_revision"`
}

// handleTxn answers POST /api/v1/txn: the operations of the body applied
// as one new revision, or none of them.
func (s *Server) handleTxn(w http.ResponseWriter, r *http.Request) error {
	txn, err := s.readTxn(w, r)
	if err != nil {
		return err
	}
	if dry, err := wantsDryRun(r); err != nil || dry {
		if err != nil {
			return err
		}
		return s.dryRun(w, r, txn) // dryrun.go
	}
	ctx := r.Context()
	if txn.Base > 0 {
		head, err := s.store.Head(ctx)
		if err != nil {
			return err
		}
		if txn.Base > head {
			return errorf(http.StatusBadRequest, "base revision %d is beyond the head (%d)", txn.Base, head)
		}
	}
	c, err := s.store.Commit(ctx, txn)
	if err != nil {
		return txnStatus(err)
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(c.Rev), 10))
	return writeJSON(w, http.StatusOK, c)
}

// txnStatus gives a failed commit of a transaction its status: a failed
// condition is 412, a malformed operation 400, one that does not fit the
// tree as it is (a missing path, an existing one, a stale base) 409.
func txnStatus(err error) error {
	var oe *verso.OpError
	switch {
	case errors.Is(err, verso.ErrPrecondition), errors.Is(err, verso.ErrInvalidOp),
		errors.Is(err, verso.ErrInvalidPath), errors.Is(err, verso.ErrTooLarge), errors.Is(err, verso.ErrConflict):
		return err
	case errors.As(err, &oe):
		return withStatus(http.StatusConflict, err)
	}
	return err
}

// readTxn reads and checks the body of a transaction. It reads the list of
// operations one by one, so an error names the operation it is in and a
// list past the limits is refused as soon as it gets there.
func (s *Server) readTxn(w http.ResponseWriter, r *http.Request) (*verso.Txn, error) {
	if r.ContentLength > MaxTxnBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, MaxTxnBody)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxTxnBody))
	txn := &verso.Txn{Author: s.author(r)}
	badJSON := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", MaxTxnBody)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return errorf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	delim := func(want json.Delim, what string) error {
		tok, err := dec.Token()
		if err != nil {
			return badJSON(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return errorf(http.StatusBadRequest, "invalid JSON body: %s must be %s, not %v", what, map[json.Delim]string{'{': "an object", '[': "a list"}[want], tok)
		}
		return nil
	}
	if err := delim('{', "the body"); err != nil {
		return nil, err
	}
	seenOps := false
	paths := make(map[verso.Path]int)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badJSON(err)
		}
		switch key, _ := tok.(string); key {
		case "message":
			if err := dec.Decode(&txn.Message); err != nil {
				return nil, badJSON(fmt.Errorf("message: %w", err))
			}
			if len(txn.Message) > maxMessageLen || !utf8.ValidString(txn.Message) {
				return nil, errorf(http.StatusBadRequest, "message must be valid UTF-8 of at most %d bytes", maxMessageLen)
			}
		case "base":
			if err := dec.Decode(&txn.Base); err != nil {
				return nil, badJSON(fmt.Errorf("base: %w", err))
			}
			if txn.Base < 0 {
				return nil, errorf(http.StatusBadRequest, "base must be a revision number, not %d", txn.Base)
			}
		case "ops":
			if seenOps {
				return nil, errorf(http.StatusBadRequest, "invalid JSON body: ops given twice")
			}
			seenOps = true
			if err := delim('[', "ops"); err != nil {
				return nil, err
			}
			for i := 0; dec.More(); i++ {
				if i == MaxTxnOps {
					return nil, errorf(http.StatusRequestEntityTooLarge, "a transaction holds at most %d operations", MaxTxnOps)
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					if e := badJSON(err); statusOf(e) != http.StatusBadRequest {
						return nil, e
					}
					return nil, badOp(i, "", "", "invalid JSON: %v", err)
				}
				op, err := s.parseOp(i, raw)
				if err != nil {
					return nil, err
				}
				if j, dup := paths[op.Path]; dup {
					return nil, badOp(i, op.Kind, op.Path, "operation %d names the same path; a path may be the target of one operation only", j)
				}
				paths[op.Path] = i
				if err := s.authorizeOp(r, i, op); err != nil {
					return nil, err
				}
				txn.Ops = append(txn.Ops, op)
			}
			if _, err := dec.Token(); err != nil {
				return nil, badJSON(err)
			}
		default:
			return nil, errorf(http.StatusBadRequest, "invalid JSON body: unknown field %q (want message, base and ops)", tok)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, badJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, badJSON(err)
		}
		return nil, errorf(http.StatusBadRequest, "invalid JSON body: more than one value")
	}
	if !seenOps || len(txn.Ops) == 0 {
		return nil, errorf(http.StatusBadRequest, "a transaction needs a non-empty list of ops")
	}
	if txn.Message == "" {
		txn.Message = fmt.Sprintf("TXN %d operations", len(txn.Ops))
		if len(txn.Ops) == 1 {
			txn.Message = "TXN 1 operation"
		}
	}
	return txn, nil
}

// badOp is a malformed operation: 400, naming its index and path.
func badOp(i int, kind verso.OpKind, p verso.Path, format string, args ...any) error {
	return &verso.OpError{Index: i, Kind: kind, Err: &verso.PathError{
		Op: string(kind), Path: p, Err: fmt.Errorf("%w: "+format, append([]any{verso.ErrInvalidOp}, args...)...),
	}}
}

// parseOp turns operation i of a request into a verso.Op.
func (s *Server) parseOp(i int, raw json.RawMessage) (verso.Op, error) {
	var j txnOpJSON
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return verso.Op{}, badOp(i, "", "", "%v", err)
	}
	kind := verso.OpKind(j.Op)
	switch kind {
	case verso.OpPut, verso.OpDelete, verso.OpMkcol, verso.OpCopy, verso.OpMove, verso.OpCheck:
	case "":
		return verso.Op{}, badOp(i, kind, "", `missing "op" (put, delete, mkcol, copy, move or check)`)
	default:
		return verso.Op{}, badOp(i, kind, "", "unknown op %q (want put, delete, mkcol, copy, move or check)", j.Op)
	}
	if j.Path == nil {
		return verso.Op{}, badOp(i, kind, "", `missing "path"`)
	}
	parse := func(s string) (verso.Path, error) {
		p, err := verso.ParsePath(s)
		if err != nil {
			return "", &verso.OpError{Index: i, Kind: kind, Err: err}
		}
		return p, nil
	}
	p, err := parse(*j.Path)
	if err != nil {
		return verso.Op{}, err
	}
	op := verso.Op{Kind: kind, Path: p}
	copyMove := kind == verso.OpCopy || kind == verso.OpMove
	switch {
	case !copyMove && (j.From != nil || j.Depth != "" || j.Overwrite != nil):
		return op, badOp(i, kind, p, `"from", "depth" and "overwrite" belong to copy and move only`)
	case kind != verso.OpPut && (j.Value != nil || j.ValueBase64 != nil || j.ContentType != ""):
		return op, badOp(i, kind, p, `"value", "value_base64" and "content_type" belong to put only`)
	}
	switch kind {
	case verso.OpPut:
		var value []byte
		switch {
		case j.Value != nil && j.ValueBase64 != nil:
			return op, badOp(i, kind, p, `give "value" or "value_base64", not both`)
		case j.Value != nil:
			value = []byte(*j.Value)
		case j.ValueBase64 != nil:
			if value, err = base64.StdEncoding.DecodeString(*j.ValueBase64); err != nil {
				return op, badOp(i, kind, p, "value_base64: %v", err)
			}
		default:
			return op, badOp(i, kind, p, `missing "value" or "value_base64"`)
		}
		if int64(len(value)) > s.max {
			return op, &verso.OpError{Index: i, Kind: kind, Err: &verso.PathError{Op: string(kind), Path: p,
				Err: fmt.Errorf("%w: value of %d bytes exceeds the limit of %d bytes", verso.ErrTooLarge, len(value), s.max)}}
		}
		op.Value = value
		op.ContentType = j.ContentType
		if op.ContentType == "" {
			op.ContentType = http.DetectContentType(value)
		}
	case verso.OpCopy, verso.OpMove:
		if j.From == nil {
			return op, badOp(i, kind, p, `missing "from"`)
		}
		if op.From, err = parse(*j.From); err != nil {
			return op, err
		}
		switch {
		case j.Depth == "" || strings.EqualFold(j.Depth, "infinity"):
			op.Depth = verso.Infinite
		case j.Depth == "0" && kind == verso.OpCopy:
			op.Depth = 0
		default:
			return op, badOp(i, kind, p, "depth %q: want \"infinity\"%s", j.Depth, map[bool]string{true: ` or "0"`}[kind == verso.OpCopy])
		}
		op.Overwrite = j.Overwrite != nil && *j.Overwrite
	case verso.OpCheck:
		if j.If == nil {
			return op, badOp(i, kind, p, `a check needs an "if"`)
		}
	}
	if j.If != nil {
		c, err := parseCond(j.If)
		if err != nil {
			return op, badOp(i, kind, p, "if: %v", err)
		}
		op.If = c
	}
	return op, nil
}

// parseCond turns an operation's "if" into a verso.Cond.
func parseCond(j *txnCondJSON) (verso.Cond, error) {
	c := verso.Cond{Exists: j.Exists, Absent: j.Absent, ModRev: j.Revision, TreeRev: j.TreeRevision}
	if j.Revision < 0 {
		return c, fmt.Errorf("revision %d is not a revision number", j.Revision)
	}
	if j.TreeRevision < 0 {
		return c, fmt.Errorf("tree_revision %d is not a revision number", j.TreeRevision)
	}
	if j.ETag != "" {
		tag := strings.TrimPrefix(j.ETag, "W/")
		n, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64)
		if err != nil || n < 1 {
			return c, fmt.Errorf("etag %q is not one of verso's (a quoted revision, like \"\\\"7\\\"\")", j.ETag)
		}
		if c.ModRev > 0 && c.ModRev != verso.Revision(n) {
			return c, fmt.Errorf("revision %d and etag %s disagree", c.ModRev, j.ETag)
		}
		c.ModRev = verso.Revision(n)
	}
	if c.Absent && (c.Exists || c.ModRev > 0 || c.TreeRev > 0) {
		return c, errors.New("absent excludes exists, revision, etag and tree_revision")
	}
	if c.IsZero() {
		return c, errors.New("give one of revision, etag, tree_revision, exists or absent")
	}
	return c, nil
}

// authorizeOp asks the access gate about every path of an operation: write
// for what it changes, read for what it only looks at (a check, a copy's
// source).
func (s *Server) authorizeOp(r *http.Request, i int, op verso.Op) error {
	var err error
	switch op.Kind {
	case verso.OpCheck:
		err = s.authorize(r, op.Path, Read)
	case verso.OpCopy, verso.OpMove:
		// The same rights as a WebDAV COPY or MOVE: read the source (and
		// everything below it that is copied), write the destination and
		// everything below it (an overwrite replaces it), and for a move
		// write the source tree.
		err = s.authorizeCopyMove(r, op.From, op.Path, op.Kind == verso.OpMove, op.Depth)
	case verso.OpDelete:
		err = s.authorizeTree(r, op.Path, Write)
	default:
		err = s.authorize(r, op.Path, Write)
	}
	if err == nil && op.If.TreeRev > 0 {
		// tree_revision compares everything below the path: its answer
		// would tell whether something the user may not read changed.
		err = s.authorizeTree(r, op.Path, Read)
	}
	if err != nil {
		return &verso.OpError{Index: i, Kind: op.Kind, Err: err}
	}
	return nil
}
