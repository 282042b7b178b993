// Package txnjson reads the body of a transaction of verso's JSON API
// (POST /api/v1/txn, documented in docs/HTTP.md) into a verso.Txn: its
// message, base and operations, each checked as it is read, so that an
// error names the operation it is in and a list past the limits is refused
// as soon as it gets there.
package txnjson

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

// Limits of a transaction (documented in docs/HTTP.md). Each value is also
// held to Options.MaxValue.
const (
	// MaxOps is the most operations one transaction may hold.
	MaxOps = 10000
	// MaxBody is the largest body of a transaction, in bytes.
	MaxBody = 64 << 20
)

// Options say what Decode accepts.
type Options struct {
	// MaxValue is the largest value a put may carry, in bytes.
	MaxValue int64
	// MaxMessage is the longest message, in bytes.
	MaxMessage int
	// Authorize, if set, is asked about each operation as soon as it is
	// read (i is its index); its error refuses the transaction.
	Authorize func(i int, op verso.Op) error
}

// BodyError refuses a body as a whole rather than one of its operations:
// it is not a transaction (Status 400 Bad Request) or is too large (413
// Request Entity Too Large). An operation that is wrong is a
// *verso.OpError instead, naming its index.
type BodyError struct {
	Status int
	Msg    string
}

func (e *BodyError) Error() string { return e.Msg }

func bodyError(status int, format string, args ...any) *BodyError {
	return &BodyError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// opJSON is one operation of a transaction as clients send it.
type opJSON struct {
	Op          string    `json:"op"`
	Path        *string   `json:"path"`
	From        *string   `json:"from"`
	Value       *string   `json:"value"`
	ValueBase64 *string   `json:"value_base64"`
	ContentType string    `json:"content_type"`
	Depth       string    `json:"depth"`
	Overwrite   *bool     `json:"overwrite"`
	If          *condJSON `json:"if"`
}

// condJSON is the "if" of an operation.
type condJSON struct {
	Revision verso.Revision `json:"revision"`
	ETag     string         `json:"etag"`
	Exists   bool           `json:"exists"`
	Absent   bool           `json:"absent"`
	// TreeRevision is verso.Cond.TreeRev: nothing at or below the path
	// changed after it.
	TreeRevision verso.Revision `json:"tree_revision"`
}

// Decode reads the transaction of body, which should be limited to
// MaxBody bytes (http.MaxBytesReader: its error is a 413). The transaction
// has no author; a missing message is made up from the number of
// operations.
func Decode(body io.Reader, o Options) (*verso.Txn, error) {
	dec := json.NewDecoder(body)
	txn := &verso.Txn{}
	badJSON := func(err error) *BodyError {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyError(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", MaxBody)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return bodyError(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	delim := func(want json.Delim, what string) error {
		tok, err := dec.Token()
		if err != nil {
			return badJSON(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return bodyError(http.StatusBadRequest, "invalid JSON body: %s must be %s, not %v", what, map[json.Delim]string{'{': "an object", '[': "a list"}[want], tok)
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
			if len(txn.Message) > o.MaxMessage || !utf8.ValidString(txn.Message) {
				return nil, bodyError(http.StatusBadRequest, "message must be valid UTF-8 of at most %d bytes", o.MaxMessage)
			}
		case "base":
			if err := dec.Decode(&txn.Base); err != nil {
				return nil, badJSON(fmt.Errorf("base: %w", err))
			}
			if txn.Base < 0 {
				return nil, bodyError(http.StatusBadRequest, "base must be a revision number, not %d", txn.Base)
			}
		case "ops":
			if seenOps {
				return nil, bodyError(http.StatusBadRequest, "invalid JSON body: ops given twice")
			}
			seenOps = true
			if err := delim('[', "ops"); err != nil {
				return nil, err
			}
			for i := 0; dec.More(); i++ {
				if i == MaxOps {
					return nil, bodyError(http.StatusRequestEntityTooLarge, "a transaction holds at most %d operations", MaxOps)
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					if e := badJSON(err); e.Status != http.StatusBadRequest {
						return nil, e
					}
					return nil, badOp(i, "", "", "invalid JSON: %v", err)
				}
				op, err := parseOp(i, raw, o.MaxValue)
				if err != nil {
					return nil, err
				}
				if j, dup := paths[op.Path]; dup {
					return nil, badOp(i, op.Kind, op.Path, "operation %d names the same path; a path may be the target of one operation only", j)
				}
				paths[op.Path] = i
				if o.Authorize != nil {
					if err := o.Authorize(i, op); err != nil {
						return nil, err
					}
				}
				txn.Ops = append(txn.Ops, op)
			}
			if _, err := dec.Token(); err != nil {
				return nil, badJSON(err)
			}
		default:
			return nil, bodyError(http.StatusBadRequest, "invalid JSON body: unknown field %q (want message, base and ops)", tok)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, badJSON(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, badJSON(err)
		}
		return nil, bodyError(http.StatusBadRequest, "invalid JSON body: more than one value")
	}
	if !seenOps || len(txn.Ops) == 0 {
		return nil, bodyError(http.StatusBadRequest, "a transaction needs a non-empty list of ops")
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
func parseOp(i int, raw json.RawMessage, maxValue int64) (verso.Op, error) {
	var j opJSON
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
		if int64(len(value)) > maxValue {
			return op, &verso.OpError{Index: i, Kind: kind, Err: &verso.PathError{Op: string(kind), Path: p,
				Err: fmt.Errorf("%w: value of %d bytes exceeds the limit of %d bytes", verso.ErrTooLarge, len(value), maxValue)}}
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
func parseCond(j *condJSON) (verso.Cond, error) {
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
