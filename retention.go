package verso

import (
	"context"
	"fmt"
	"time"
)

// Retention is a history policy: how much of the past a store keeps. The
// zero value keeps everything. Current values are never pruned, whatever
// the policy says.
type Retention struct {
	// KeepVersions keeps, for each path, its newest KeepVersions states
	// (the current one counts, and so does a deletion); older states are
	// dropped, and a read at a revision that one of them served returns
	// ErrGone. Commit records are kept: the log stays complete. 0 keeps
	// every state.
	KeepVersions int

	// KeepFor keeps what is needed to read the tree as it was at any moment
	// in the last KeepFor: every revision committed after now-KeepFor, and
	// the one that was the head at now-KeepFor. Older revisions are
	// dropped with their commit records, and history then starts at that
	// revision (see HistoryStarter). 0 keeps every revision.
	KeepFor time.Duration
}

// IsZero reports whether r keeps everything.
func (r Retention) IsZero() bool { return r.KeepVersions == 0 && r.KeepFor == 0 }

// Validate returns an error if r holds a negative count or duration.
func (r Retention) Validate() error {
	if r.KeepVersions < 0 {
		return fmt.Errorf("verso: retention: KeepVersions %d is negative", r.KeepVersions)
	}
	if r.KeepFor < 0 {
		return fmt.Errorf("verso: retention: KeepFor %v is negative", r.KeepFor)
	}
	return nil
}

// Pruner is implemented by stores that can drop old history. Callers find
// it by type assertion on a Store.
type Pruner interface {
	// Prune drops the history that policy does not keep, measuring KeepFor
	// back from now (passed in, so that callers and tests choose the
	// clock). It never drops what a read at Head needs, and it may run
	// while the store serves reads and commits: each read sees the history
	// either before or after any part of the pruning, and a read that
	// reaches dropped history returns ErrGone.
	//
	// Prune returns what it dropped. It returns an error (and nothing
	// changes) for a policy that Validate refuses, ErrClosed after Close,
	// and the context's error if ctx ends; history dropped before then
	// stays dropped, and the next Prune finishes the work.
	Prune(ctx context.Context, policy Retention, now time.Time) (PruneStats, error)
}

// PruneStats says what one Prune dropped.
type PruneStats struct {
	// Versions counts the states of paths dropped (values, namespaces'
	// properties, deletions).
	Versions int
	// Commits counts the commit records dropped.
	Commits int
	// Start is where history starts after pruning (see HistoryStarter).
	Start Revision
}

// HistoryStarter is implemented by stores that can say where their history
// starts, such as stores that implement Pruner.
type HistoryStarter interface {
	// HistoryStart returns the oldest revision that can still be read and
	// whose commit record is kept: 0 when no revision was ever dropped. A
	// read, Revision or Log at a revision below it returns ErrGone, and
	// Log returns no commit below it. Reads at or above it may still
	// return ErrGone for a path whose older states were dropped by
	// Retention.KeepVersions.
	HistoryStart(ctx context.Context) (Revision, error)
}
