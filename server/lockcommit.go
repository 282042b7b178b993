package server

import (
	"context"
	"errors"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/dav"
)

// A write checks the locks on what it changes, then commits: two steps,
// between which another request may be granted a lock. Left alone, the
// write would land after the lock that should have held it off, and the
// lock's holder, having read the state it locked, would overwrite it
// unawares. So each check is kept with the version of the locks it read
// (checkLocks), and the commit (commitChecked) makes sure that version is
// still current, checking again if it is not:
//   - On one server the locks live in its memory; the commit holds off
//     new grants while it compares the version and commits (dav.Locks.Hold).
//   - On a cluster they live in the store's lock table, which any server
//     may change: the store compares the version in the same etcd
//     transaction as the commit (verso.Txn.LocksAt), and a commit that
//     lost to a change of the table is checked again and sent again.

// maxLockRechecks bounds how often a commit is checked again after the
// lock table changed under it.
const maxLockRechecks = 20

// lockChecks are the lock checks one write request made, each kept to be
// made again.
type lockChecks struct {
	version int64          // of the locks the first check read
	again   []func() error // each check
}

// checkLocks makes check, a check of the locks on what the write of the
// request (whose context is ctx) changes, and keeps it for the commit:
// every check of a write must be made through it.
func (s *Server) checkLocks(ctx context.Context, check func() error) error {
	return lockChecksOf(ctx).check(s, check)
}

// lockChecksOf returns the lock checks of the request whose context is
// ctx (nil for none).
func lockChecksOf(ctx context.Context) *lockChecks {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return &ri.locks
	}
	return nil
}

// check makes check and keeps it in lc (which may be nil: then it is only
// made).
func (lc *lockChecks) check(s *Server, check func() error) error {
	v := s.locks.Version()
	if err := check(); err != nil {
		return err
	}
	if lc != nil {
		if len(lc.again) == 0 {
			lc.version = v
		}
		lc.again = append(lc.again, check)
	}
	return nil
}

// forget drops the checks kept in lc (which may be nil), for a request
// whose earlier checks a new one supersedes.
func (lc *lockChecks) forget() {
	if lc != nil {
		*lc = lockChecks{}
	}
}

// commitTxn commits txn for the request whose context is ctx, after the
// lock checks it made (checkLocks).
func (s *Server) commitTxn(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	return s.commitChecked(ctx, txn, lockChecksOf(ctx))
}

// commitChecked commits txn if the lock checks of lc still hold: as they
// were made, if no lock was granted since, or made again.
func (s *Server) commitChecked(ctx context.Context, txn *verso.Txn, lc *lockChecks) (*verso.Commit, error) {
	if lc == nil || len(lc.again) == 0 {
		return s.store.Commit(ctx, txn)
	}
	if s.locksChecked != nil {
		s.locksChecked()
	}
	_, shared := s.locks.(*dav.SharedLocks)
	for try := 0; ; try++ {
		release := s.locks.Hold()
		if v := s.locks.Version(); v != lc.version {
			lc.version = v
			for _, check := range lc.again {
				if err := check(); err != nil {
					release()
					return nil, err
				}
			}
		}
		if shared {
			v := lc.version
			txn.LocksAt = &v
		}
		c, err := s.store.Commit(ctx, txn)
		release()
		if !errors.Is(err, verso.ErrLocksChanged) || try+1 >= maxLockRechecks {
			return c, err
		}
		if err := s.locks.Sync(ctx); err != nil {
			return nil, err
		}
	}
}
