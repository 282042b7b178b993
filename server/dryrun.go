package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/plan"
)

// Dry runs: a transaction or an import with ?dry_run=true is planned, by
// the same rules as a commit (internal/plan, schemas included), against
// the store at its head as this server knows it, and nothing is written.

// dryRunJSON is the answer of a dry run.
type dryRunJSON struct {
	DryRun bool `json:"dry_run"`
	// Head is the revision the transaction was planned against.
	Head verso.Revision `json:"head"`
	// Valid says whether every namespace with a schema would validate
	// after it; Violations say why not.
	Valid      bool              `json:"valid"`
	Violations []verso.Violation `json:"violations,omitempty"`
	// Changes are what the commit would change, as its record would
	// list them.
	Changes []verso.Change `json:"changes"`
}

// wantsDryRun reads ?dry_run=.
func wantsDryRun(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, errorf(http.StatusBadRequest, "dry_run must be true or false, not %q", v)
	}
}

// dryRun plans txn at the head and answers what it would change and
// whether it validates. A transaction that fails for another reason (a
// condition, a missing parent) answers that error, as its commit would.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request, txn *verso.Txn) error {
	ctx := r.Context()
	head, err := s.store.Head(ctx)
	if err != nil {
		return err
	}
	if len(txn.Ops) == 0 { // an import of what is there already
		return writeJSON(w, http.StatusOK, dryRunJSON{DryRun: true, Head: head, Valid: true, Changes: []verso.Change{}})
	}
	if err := plan.Validate(txn); err != nil {
		return err
	}
	st := &snapshotState{ctx: ctx, store: s.store, rev: head, seen: make(map[verso.Path]*verso.Entry)}
	p, se, err := plan.DryRun(st, head, txn, time.Now().UTC())
	if err != nil {
		return txnStatus(err)
	}
	out := dryRunJSON{DryRun: true, Head: head, Valid: se == nil, Changes: p.Commit.Changes}
	if se != nil {
		out.Violations = s.visible(r, se.Violations) // schema.go
	}
	if out.Changes == nil {
		out.Changes = []verso.Change{}
	}
	w.Header().Set(HeaderRevision, strconv.FormatInt(int64(head), 10))
	return writeJSON(w, http.StatusOK, out)
}

// snapshotState is the store at one revision as the planner reads it.
type snapshotState struct {
	ctx   context.Context
	store verso.Store
	rev   verso.Revision
	seen  map[verso.Path]*verso.Entry // entries a listing read
}

func (s *snapshotState) Get(p verso.Path) (*verso.Entry, error) {
	if e, ok := s.seen[p]; ok {
		return e, nil
	}
	e, err := s.store.Get(s.ctx, p, s.rev)
	if errors.Is(err, verso.ErrNotFound) {
		return nil, nil
	}
	return e, err
}

func (s *snapshotState) Children(ns verso.Path) ([]verso.Path, error) {
	var out []verso.Path
	err := s.store.Walk(s.ctx, ns, s.rev, 1, func(e *verso.Entry) error {
		if e.Path != ns {
			out = append(out, e.Path)
			s.seen[e.Path] = e
		}
		return nil
	})
	if errors.Is(err, verso.ErrNotFound) {
		return nil, nil
	}
	return out, err
}

// DeletedAfter asks each path's log for a change after base: the paths
// are absent at rev, so their newest change is their deletion.
func (s *snapshotState) DeletedAfter(paths []verso.Path, base verso.Revision) ([]verso.Path, error) {
	var out []verso.Path
	for _, p := range paths {
		cs, err := s.store.Log(s.ctx, verso.LogQuery{Path: p, Before: s.rev, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(cs) > 0 && cs[0].Rev > base {
			out = append(out, p)
		}
	}
	return out, nil
}
