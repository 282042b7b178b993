package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/plan"
	bbolt "go.etcd.io/bbolt"
)

// request is one Commit call waiting for the committer.
type request struct {
	ctx  context.Context
	txn  *verso.Txn
	done chan struct{} // closed when commit or err is set

	plan   *plan.Plan // set inside the bbolt transaction when the txn is valid
	commit *verso.Commit
	err    error

	// step, when set, makes this a maintenance request instead of a
	// commit: the committer runs step alone in its own bbolt write
	// transaction and sets err to what it returned (see prune.go).
	step func(tx *bbolt.Tx) error
}

// Commit applies txn as one new revision and returns its record once the
// revision is on disk and visible to Get at verso.Head.
//
// Commit hands txn to the store's committer and always waits for its
// answer, whatever happens to ctx: if ctx is done when the committer
// reaches txn, txn is skipped and Commit returns ctx.Err(); once txn is
// part of a bbolt transaction it commits regardless of ctx.
func (s *Store) Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	if s.isClosed.Load() {
		return nil, verso.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := plan.Validate(txn); err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, verso.ErrClosed
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	req := &request{ctx: ctx, txn: txn, done: make(chan struct{})}
	s.reqs <- req
	<-req.done
	return req.commit, req.err
}

// commitLoop is the committer: the only goroutine that writes to the file.
// It runs until Close closes s.reqs, which happens only once no Commit call
// is left to send on it.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*request, 0, s.maxBatch)
	// What the last group tells about the next: how many writers it
	// answered (most come straight back with their next commit), how many
	// others queued meanwhile, and how long it took.
	var answered, queued int
	var took time.Duration
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		var req *request
		var ok bool
		if s.wal != nil && s.wal.recs > 0 && s.failure() == nil {
			// Checkpoint once commits pause.
			idle.Reset(s.walIdle)
			select {
			case req, ok = <-s.reqs:
				idle.Stop()
			case <-idle.C:
				s.checkpointLogged()
				continue
			}
		} else {
			req, ok = <-s.reqs
		}
		if !ok {
			return
		}
		if req.step != nil {
			s.runStep(req)
			continue
		}
		batch = append(batch[:0], req)
		var step *request // a maintenance request met while filling the batch
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				if r.step != nil {
					step = r
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if step == nil && len(batch) < min(answered+queued, s.maxBatch) {
			// Without this wait, writers that keep the store busy split
			// into two groups that take turns (one writer, then all the
			// others), paying twice the fsyncs.
			step = s.awaitGroup(&batch, min(answered+queued, s.maxBatch), took/2)
		}
		start := time.Now()
		s.commitBatch(batch)
		answered, queued, took = len(batch), len(s.reqs), time.Since(start)
		clear(batch)
		if s.wal != nil && s.failure() == nil && (s.wal.off > walCheckpointSize || time.Since(s.lastCheckpoint) > s.walMaxAge) {
			s.checkpointLogged()
		}
		if step != nil {
			s.runStep(step)
		}
	}
}

// checkpointLogged checkpoints, logging a failure: the log stays as it
// was, and the next checkpoint tries again.
func (s *Store) checkpointLogged() {
	if err := s.checkpoint(); err != nil {
		s.log.Error("verso: checkpoint failed", "path", s.path, "err", err)
	}
}

// runStep runs a maintenance request in its own bbolt write transaction.
// Steps never change the tree or the head, so nothing is published.
func (s *Store) runStep(req *request) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	switch {
	case s.failure() != nil:
		req.err = s.failure()
	case req.ctx.Err() != nil:
		req.err = req.ctx.Err()
	default:
		req.err = s.db.Update(func(tx *bbolt.Tx) error {
			if s.wal != nil && s.nearMapEnd(tx, 0) {
				if err := s.leaveWAL(true); err != nil {
					return err
				}
			}
			return req.step(tx)
		})
		// The log does not hold steps: a checkpoint makes this one
		// durable before it is answered.
		if s.wal != nil && req.err == nil {
			req.err = s.checkpoint()
		}
	}
	close(req.done)
}

// do has the committer run step in a bbolt write transaction of its own,
// between group commits, and returns step's error (or the transaction's).
// Like Commit, it waits for the answer once the step is queued.
func (s *Store) do(ctx context.Context, step func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return verso.ErrClosed
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	req := &request{ctx: ctx, step: step, done: make(chan struct{})}
	s.reqs <- req
	<-req.done
	return req.err
}

// awaitGroup adds to batch the transactions that arrive within wait, until
// it holds want of them; it returns a maintenance request that arrived
// meanwhile, which ends the wait.
func (s *Store) awaitGroup(batch *[]*request, want int, wait time.Duration) (step *request) {
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(min(wait, maxGroupWait))
	defer t.Stop()
	for len(*batch) < want {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return nil
			}
			if r.step != nil {
				return r
			}
			*batch = append(*batch, r)
		case <-t.C:
			return nil
		}
	}
	return nil
}

// maxGroupWait caps how long the committer waits for a group to fill.
const maxGroupWait = 2 * time.Millisecond

// commitBatch commits the transactions of batch, each as its own revision,
// in one bbolt write transaction, then publishes them and answers every
// caller.
func (s *Store) commitBatch(batch []*request) {
	if s.batchHook != nil {
		s.batchHook(len(batch))
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()

	if err := s.failure(); err != nil {
		err = fmt.Errorf("commit: %w", err)
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		return
	}

	// db.Update, not db.Batch: Batch may run a function twice, which
	// would plan the same transaction at two revisions. Update runs fn
	// once; if it fails, the head written inside it is rolled back with
	// everything else, so no revision is consumed.
	var start, head verso.Revision
	logged := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if head, err = readHead(tx); err != nil {
			return err
		}
		start = head
		w := newWriter(tx, s.wal != nil)
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.err = err
				continue
			}
			p, err := planTxn(tx, head, r.txn, s.now())
			if err != nil {
				if errors.Is(err, errCorrupt) {
					return err
				}
				r.err = err
				continue
			}
			if err := writePlan(w, p); err != nil {
				return err
			}
			r.plan, head = p, p.Rev
		}
		if head == start {
			// Commit, not roll back: with the freelist unwritten, a
			// rollback has bbolt rebuild it by reading the whole file.
			return nil
		}
		if err := tx.Bucket(bucketMeta).Put(keyHead, revKey(head)); err != nil {
			return err
		}
		if s.wal == nil {
			return nil // bbolt syncs the commit
		}
		if s.nearMapEnd(tx, len(w.log)) {
			return s.leaveWAL(true) // and bbolt syncs the commit
		}
		// The group is durable once the log is synced: bbolt's commit
		// that follows only writes to the file.
		if err := s.wal.append(start+1, head, w.log); err != nil {
			s.fail(err)
			return err
		}
		logged = true
		return nil
	})
	if err != nil {
		if logged {
			// The log holds revisions the file does not: numbering on
			// would reuse them.
			s.fail(fmt.Errorf("the log holds r%d-r%d, which bbolt failed to commit: %w", start+1, head, err))
		}
		s.log.Error("verso: group commit failed", "path", s.path, "txns", len(batch), "err", err)
		err = fmt.Errorf("commit: %w", err)
		for _, r := range batch {
			r.plan, r.err = nil, err
			close(r.done)
		}
		return
	}

	published := false
	for _, r := range batch {
		if r.plan == nil {
			continue
		}
		s.publish(r.plan)
		published = true
	}
	if published {
		s.head.Store(int64(head))
		s.mu.Lock()
		close(s.headCh)
		s.headCh = make(chan struct{})
		s.mu.Unlock()
	}
	for _, r := range batch {
		if r.plan != nil {
			r.commit, r.plan = r.plan.Commit, nil
		}
		close(r.done)
	}
}

// now returns the commit time: the clock's reading in UTC without a
// monotonic part, the form it has after a round trip through the file.
func (s *Store) now() time.Time { return s.clock().Round(0).UTC() }

// publish applies a durable plan to the head cache. It stores new entries
// and never modifies published ones.
func (s *Store) publish(p *plan.Plan) {
	for i, ch := range p.Commit.Changes {
		if e := p.Changed[i]; e != nil {
			s.cache.Store(ch.Path, e)
		} else if ch.Path != verso.Root {
			s.cache.Delete(ch.Path)
		}
	}
	for _, e := range p.TreeRevs {
		s.cache.Store(e.Path, e)
	}
	s.cache.Store(verso.Root, p.Root)
}
