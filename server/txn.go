package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/txnjson"
)

// Limits of POST /api/v1/txn (documented in docs/HTTP.md). Each value is
// also held to Options.MaxValueSize.
const (
	// MaxTxnOps is the most operations one transaction may hold.
	MaxTxnOps = txnjson.MaxOps
	// MaxTxnBody is the largest request body of a transaction, in bytes.
	MaxTxnBody = txnjson.MaxBody
)

// handleTxn answers POST /api/v1/txn: the operations of the body applied
// as one new revision, or none of them.
func (s *Server) handleTxn(w http.ResponseWriter, r *http.Request) error {
	txn, err := s.readTxn(w, r)
	if err != nil {
		return err
	}
	// Locks (apilocks.go): every path the operations change, with the
	// tokens of the If header. A dry run answers what the commit would.
	err = s.confirmOps(r, txn.Ops, func(i int, err error) error {
		return &verso.OpError{Index: i, Kind: txn.Ops[i].Kind, Err: err}
	})
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
	c, err := s.commitTxn(ctx, txn)
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
		errors.Is(err, verso.ErrInvalidPath), errors.Is(err, verso.ErrTooLarge), errors.Is(err, verso.ErrConflict),
		statusOf(err) == http.StatusLocked: // a lock granted since the check (lockcommit.go)
		return err
	case errors.As(err, &oe):
		return withStatus(http.StatusConflict, err)
	}
	return err
}

// readTxn reads and checks the body of a transaction (package
// internal/txnjson), asking the access gate about each operation as it is
// read.
func (s *Server) readTxn(w http.ResponseWriter, r *http.Request) (*verso.Txn, error) {
	if r.ContentLength > MaxTxnBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, MaxTxnBody)
	}
	txn, err := txnjson.Decode(http.MaxBytesReader(w, r.Body, MaxTxnBody), txnjson.Options{
		MaxValue:   s.max,
		MaxMessage: maxMessageLen,
		Authorize:  func(i int, op verso.Op) error { return s.authorizeOp(r, i, op) },
	})
	if be, ok := err.(*txnjson.BodyError); ok {
		return nil, errorf(be.Status, "%s", be.Msg)
	}
	if err != nil {
		return nil, err
	}
	txn.Author = s.author(r)
	return txn, nil
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
