package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/plan"
	"github.com/verso-config/verso/internal/wal"
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
	// excl, when set, makes this a maintenance request that the
	// committer runs between groups once bbolt holds every published
	// revision (see exclusive).
	excl func() error
}

// Commit applies txn as one new revision and returns its record once the
// revision is on disk and visible to Get at verso.Head.
//
// Commit hands txn to the store's committer and always waits for its
// answer, whatever happens to ctx: if ctx is done when the committer
// reaches txn, txn is skipped and Commit returns ctx.Err(); once txn is
// part of a bbolt transaction it commits regardless of ctx.
func (s *Store) Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	if err := plan.Validate(txn); err != nil {
		return nil, err
	}
	req := &request{ctx: ctx, txn: txn}
	if err := s.submit(req); err != nil {
		return nil, err
	}
	return req.commit, nil
}

// commitLoop is the committer: the only goroutine that writes to the file.
// It runs until Close closes the queue, which happens only once no Commit call
// is left to send on it.
func (s *Store) commitLoop() {
	defer close(s.done)
	defer s.finishTx()
	batch := make([]*request, 0, s.maxBatch)
	// What the last group tells about the next: how many writers it
	// answered (most come straight back with their next commit), how many
	// others queued meanwhile, and how long it took.
	var answered, queued int
	var took time.Duration
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// Commit the open bbolt transaction when it reaches its age, and
		// checkpoint once commits pause.
		var timeout <-chan time.Time
		switch {
		case s.tx != nil:
			timer.Reset(max(s.txMaxAge-time.Since(s.txBegan), time.Until(s.txRetry), 0))
			timeout = timer.C
		case s.wal != nil && s.wal.Records() > 0 && s.failure() == nil:
			timer.Reset(s.walIdle)
			timeout = timer.C
		}
		var req *request
		var ok bool
		select {
		case req, ok = <-s.queue.C():
			timer.Stop()
		case <-s.flushReq:
			timer.Stop()
			s.flush()
			continue
		case <-timeout:
			if s.tx != nil {
				s.flush()
			} else {
				s.checkpointLogged()
			}
			continue
		}
		if !ok {
			return
		}
		if req.maintenance() {
			s.runStep(req)
			continue
		}
		batch = append(batch[:0], req)
		var step *request // a maintenance request met while filling the batch
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.queue.C():
				if !ok {
					break fill
				}
				if r.maintenance() {
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
		answered, queued, took = len(batch), s.queue.Len(), time.Since(start)
		clear(batch)
		if s.tx != nil && (time.Since(s.txBegan) >= s.txMaxAge || s.txBytes >= s.txMaxBytes) {
			s.flush()
		}
		if s.wal != nil && s.failure() == nil && (s.wal.Offset() > walCheckpointSize || time.Since(s.lastCheckpoint) > s.walMaxAge) {
			s.checkpointLogged()
		}
		if step != nil {
			s.runStep(step)
		}
	}
}

// How long, and for how many bytes of log records, the committer keeps
// one bbolt write transaction open across groups (see "Durability" in
// doc.go). bbolt's CPU per write falls the more writes one of its
// transactions holds; the longer it stays open, the more pages it keeps in
// memory and the longer a reader of the file may wait for it.
const (
	defaultTxMaxAge   = 20 * time.Millisecond
	defaultTxMaxBytes = 8 << 20
)

// flush commits the open bbolt transaction, if any, logging a failure
// (which commitTx turns into a stopped store when the transaction held
// acknowledged groups).
func (s *Store) flush() {
	if s.tx != nil && time.Now().Before(s.txRetry) {
		return // the disk was full a moment ago
	}
	if err := s.commitTx(); err != nil {
		s.log.Error("verso: bbolt commit failed", "path", s.path, "err", err)
	}
}

// beginTx returns the open bbolt write transaction, beginning one if none
// is open.
func (s *Store) beginTx() (*bbolt.Tx, error) {
	if s.tx != nil {
		return s.tx, nil
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, err
	}
	head, err := readHead(tx)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	s.tx, s.txBegan, s.txHead, s.txAcked, s.txBytes = tx, time.Now(), head, 0, 0
	if s.wal != nil {
		s.txLogOff = s.wal.Offset()
	}
	return tx, nil
}

// redoTx writes into a new bbolt write transaction the acked revisions
// of a transaction that was rolled back (began is when that one began):
// the groups the log holds from logOff on. It is how the store carries on
// after a lack of space made it drop a bbolt transaction holding
// acknowledged groups (a group the log refused, a commit bbolt could not
// write): they are durable in the log, and bbolt gets them again.
func (s *Store) redoTx(logOff int64, acked, bytes int, began time.Time) error {
	s.tx, s.txAcked, s.txBytes = nil, 0, 0
	if acked == 0 {
		return nil
	}
	b := make([]byte, s.wal.Offset()-logOff)
	if _, err := s.wal.ReadAt(b, logOff); err != nil {
		return fmt.Errorf("read the log back: %w", err)
	}
	recs, end := wal.ParseRecords(b, 0)
	if end != len(b) || len(recs) == 0 {
		return fmt.Errorf("read the log back: %d records end at %d of %d bytes: %w", len(recs), end, len(b), errCorrupt)
	}
	tx, err := s.beginTx()
	if err != nil {
		return err
	}
	s.txLogOff, s.txBegan = logOff, began
	last := recs[len(recs)-1].Last
	if recs[0].First != s.txHead+1 || int(last-s.txHead) != acked {
		return fmt.Errorf("read the log back: r%d-r%d after r%d, want %d revisions: %w", recs[0].First, last, s.txHead, acked, errCorrupt)
	}
	for _, r := range recs {
		if err := redo(tx, r.Writes); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketMeta).Put(keyHead, revKey(last)); err != nil {
		return err
	}
	s.txHead, s.txAcked, s.txBytes = last, acked, bytes
	return nil
}

// commitTx commits the open bbolt write transaction, if any (with the log,
// bbolt writes its pages and syncs nothing), and wakes the readers waiting
// for bbolt to catch up. If the commit fails after the transaction took
// acknowledged groups, the store stops: only the log holds them now.
func (s *Store) commitTx() error {
	defer s.signalFlushed()
	tx := s.tx
	if tx == nil {
		return nil
	}
	head, acked, bytes, logOff, began := s.txHead, s.txAcked, s.txBytes, s.txLogOff, s.txBegan
	s.tx, s.txAcked, s.txBytes = nil, 0, 0
	var err error
	if s.txHook != nil {
		err = s.txHook()
	}
	if err == nil {
		// A page the file no longer holds (cut short) faults, and bbolt
		// panics on damaged ones: either stops the store, not the
		// process.
		if err = guard(tx.Commit); errors.Is(err, errCorrupt) {
			s.fail(err)
			s.dropTx(tx, err)
		}
	} else {
		tx.Rollback()
	}
	if err != nil {
		if noSpace(err) {
			// bbolt rolled the transaction back and its file is as
			// it was: the groups it held are in the log, and go into
			// a new transaction, committed once space is freed.
			err = noSpaceError(fmt.Errorf("commit to the data file: %w", err))
			s.noSpace.Store(&err)
			s.txRetry = time.Now().Add(noSpaceRetry)
			if acked == 0 || s.wal == nil {
				return err
			}
			rerr := s.redoTx(logOff, acked, bytes, began)
			if rerr == nil {
				return err
			}
			if s.tx != nil {
				s.tx.Rollback()
				s.tx = nil
			}
			err = fmt.Errorf("%w; then: %w", err, rerr)
		}
		if acked > 0 {
			s.fail(fmt.Errorf("the log holds r%d-r%d, which bbolt failed to commit: %w", head-verso.Revision(acked)+1, head, err))
		}
		return fmt.Errorf("commit to the data file: %w", err)
	}
	s.noSpace.Store(nil)
	s.boltHead.Store(int64(head))
	return nil
}

// noSpaceRetry is how long the committer waits before it tries again to
// commit a bbolt transaction that failed for lack of space.
const noSpaceRetry = time.Second

// dropTx rolls back the write transaction tx after err. Between
// checkpoints the file records no freelist, and bbolt's rollback then
// rebuilds it by walking every page on a goroutine of its own, where
// damage would end the process: after damage (err wraps errCorrupt) it
// rolls back only if the pages' structure is whole, and otherwise leaves
// tx open for good (abandoned: the store has stopped, and Close leaves
// the file to the end of the process).
func (s *Store) dropTx(tx *bbolt.Tx, err error) {
	// Without the page checker (an unknown layout) there is no log, and
	// bbolt's freelist is synced every commit: nothing to rebuild.
	if errors.Is(err, errCorrupt) && s.dbf != nil && s.layout.known {
		fi, serr := s.dbf.Stat()
		if serr != nil || len(checkPages(s.dbf, fi.Size())) > 0 {
			s.abandoned = true
			return
		}
	}
	if err := guard(tx.Rollback); errors.Is(err, errCorrupt) {
		s.abandoned = true
	}
}

// abortTx rolls back the open bbolt write transaction after err, which
// stops the store if the transaction held acknowledged groups.
func (s *Store) abortTx(err error) {
	defer s.signalFlushed()
	if s.tx == nil {
		return
	}
	if s.txAcked > 0 {
		first := verso.Revision(s.boltHead.Load()) + 1
		s.fail(fmt.Errorf("the log holds r%d-r%d, which bbolt failed to write: %w", first, first+verso.Revision(s.txAcked)-1, err))
	}
	s.dropTx(s.tx, err)
	s.tx, s.txAcked, s.txBytes = nil, 0, 0
}

// finishTx ends the open bbolt write transaction when the committer stops:
// Close commits it; a simulated crash (shut(false)) drops it.
func (s *Store) finishTx() {
	if s.final {
		s.txRetry = time.Time{}
		s.flush()
		return
	}
	if s.tx != nil {
		s.tx.Rollback()
		s.tx = nil
	}
	s.signalFlushed()
}

// signalFlushed wakes the readers waiting in awaitBolt, which look at
// boltHead again.
func (s *Store) signalFlushed() {
	s.mu.Lock()
	close(s.flushed)
	s.flushed = make(chan struct{})
	s.mu.Unlock()
}

// checkpointLogged checkpoints, logging a failure: the log stays as it
// was, and the next checkpoint tries again.
func (s *Store) checkpointLogged() {
	if err := s.checkpoint(); err != nil {
		s.log.Error("verso: checkpoint failed", "path", s.path, "err", err)
	}
}

// maintenance says whether r is a maintenance request rather than a
// commit.
func (r *request) maintenance() bool { return r.step != nil || r.excl != nil }

// runStep runs a maintenance request: after the open bbolt transaction is
// committed, a step in its own bbolt write transaction, or an exclusive
// function. Neither changes the tree or the head, so nothing is published.
func (s *Store) runStep(req *request) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	switch {
	case req.excl != nil:
		s.txRetry = time.Time{} // fn needs bbolt to hold every revision: try now
		s.flush()
		if p := s.noSpace.Load(); p != nil && s.tx != nil {
			req.err = *p
			break
		}
		req.err = req.excl()
	case s.failure() != nil:
		req.err = s.failure()
	case req.ctx.Err() != nil:
		req.err = req.ctx.Err()
	default:
		if req.err = s.commitTx(); req.err != nil {
			break
		}
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
	return s.submit(&request{ctx: ctx, step: step})
}

// exclusive has the committer run fn between group commits, once bbolt
// holds every published revision: no commit runs meanwhile, and fn sees the
// head cache and the file at the same revision.
func (s *Store) exclusive(fn func() error) error {
	return s.submit(&request{ctx: context.Background(), excl: fn})
}

func (s *Store) submit(req *request) error {
	if err := req.ctx.Err(); err != nil {
		return err
	}
	req.done = make(chan struct{})
	if !s.queue.Send(req) {
		return verso.ErrClosed
	}
	<-req.done
	return req.err
}

// awaitGroup adds to batch the transactions that arrive within wait, until
// it holds want of them; it returns a maintenance request that arrived
// meanwhile, which ends the wait. A reader's request for bbolt to catch up
// is served meanwhile.
func (s *Store) awaitGroup(batch *[]*request, want int, wait time.Duration) (step *request) {
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(min(wait, maxGroupWait))
	defer t.Stop()
	for len(*batch) < want {
		select {
		case r, ok := <-s.queue.C():
			if !ok {
				return nil
			}
			if r.maintenance() {
				return r
			}
			*batch = append(*batch, r)
		case <-s.flushReq:
			s.flush()
		case <-t.C:
			return nil
		}
	}
	return nil
}

// maxGroupWait caps how long the committer waits for a group to fill.
const maxGroupWait = 2 * time.Millisecond

// maxLogBuf caps the log record buffer the committer keeps from one group
// to the next (Store.logBuf): a group of large values does not keep its
// buffer.
const maxLogBuf = 1 << 20

// commitBatch commits the transactions of batch, each as its own revision:
// it plans and writes them into the open bbolt write transaction, appends
// the group's record to the log and syncs it, then publishes them and
// answers every caller. The bbolt transaction stays open for the next
// groups (commitLoop commits it now and then); without the log, it is
// committed (and synced by bbolt) before the group is published.
func (s *Store) commitBatch(batch []*request) {
	if s.batchHook != nil {
		s.batchHook(len(batch))
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.schemas.NewGroup()

	failAll := func(err error) {
		err = fmt.Errorf("commit: %w", err)
		for _, r := range batch {
			r.plan, r.err = nil, err
			close(r.done)
		}
	}
	if err := s.failure(); err != nil {
		failAll(err)
		return
	}
	if s.wal != nil && s.wal.Broken {
		// A sync of the log failed for lack of space (see append):
		// a new log first.
		if err := s.checkpoint(); err != nil {
			if noSpace(err) {
				err = noSpaceError(err)
			}
			failAll(err)
			return
		}
	}
	tx, err := s.beginTx()
	if err != nil {
		s.log.Error("verso: group commit failed", "path", s.path, "txns", len(batch), "err", err)
		failAll(err)
		return
	}

	// Each transaction is planned (validated, nothing written) before it
	// is written, so one that fails leaves the bbolt transaction, and
	// the groups before it there, untouched. The head that numbers each
	// plan is read and written in the same bbolt transaction: a
	// revision is never allocated twice (so never db.Batch, which may
	// run a function again).
	start, head := s.txHead, s.txHead
	w := newWriter(tx, s.wal != nil)
	w.log = s.logBuf[:0]
	// guard: a damaged page met while planning or writing is an error
	// (it stops the store below), not the end of the process.
	err = guard(func() error {
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.err = err
				continue
			}
			p, err := planCached(tx, &s.schemas, head, r.txn, s.now())
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
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keyHead, revKey(head))
	})
	if err != nil {
		// The bbolt transaction holds part of this group, which
		// cannot be taken out alone: all of it goes (and the store
		// stops if it held acknowledged groups, or met damage).
		s.abortTx(err)
		if errors.Is(err, errCorrupt) {
			s.fail(err)
		}
		s.log.Error("verso: group commit failed", "path", s.path, "txns", len(batch), "err", err)
		failAll(err)
		return
	}
	if head == start {
		// Every transaction failed: nothing to log or publish.
		for _, r := range batch {
			close(r.done)
		}
		return
	}
	s.txHead = head

	leave := false
	if s.wal == nil {
		// bbolt syncs the commit.
		if err := s.commitTx(); err != nil {
			s.log.Error("verso: group commit failed", "path", s.path, "txns", len(batch), "err", err)
			failAll(err)
			return
		}
	} else {
		// The group is durable once the log is synced. Past half of
		// what bbolt maps, the store leaves the log after this group.
		leave = s.nearMapEnd(tx, s.txBytes+len(w.log))
		if err := s.wal.Append(start+1, head, w.log); err != nil && noSpace(err) {
			// The group is refused and nothing else changes: its
			// writes leave the bbolt transaction with the groups
			// before them, which come back from the log.
			s.tx.Rollback()
			if rerr := s.redoTx(s.txLogOff, s.txAcked, s.txBytes, s.txBegan); rerr != nil {
				err = fmt.Errorf("%w; then: %w", err, rerr)
				s.fail(err)
				if s.tx != nil {
					s.tx.Rollback()
					s.tx = nil
				}
				s.signalFlushed()
			} else {
				err = noSpaceError(err)
			}
			s.log.Warn("verso: group commit refused", "path", s.path, "txns", len(batch), "err", err)
			failAll(err)
			return
		} else if err != nil {
			s.fail(err)
			s.abortTx(err)
			s.log.Error("verso: group commit failed", "path", s.path, "txns", len(batch), "err", err)
			failAll(err)
			return
		}
		s.txAcked += int(head - start)
		s.txBytes += len(w.log)
		if cap(w.log) <= maxLogBuf {
			s.logBuf = w.log[:0]
		}
	}

	for _, r := range batch {
		if r.plan != nil {
			s.publish(r.plan)
			s.recent.add(r.plan.Commit)
		}
	}
	s.head.Store(int64(head))
	s.mu.Lock()
	close(s.headCh)
	s.headCh = make(chan struct{})
	s.mu.Unlock()
	for _, r := range batch {
		if r.plan != nil {
			r.commit, r.plan = r.plan.Commit, nil
		}
		close(r.done)
	}
	if leave {
		// leaveWAL commits the bbolt transaction first.
		if err := s.leaveWAL(false); err != nil {
			s.log.Error("verso: leave the log", "path", s.path, "err", err)
		}
	}
}

// now returns the commit time: the clock's reading in UTC without a
// monotonic part, the form it has after a round trip through the file.
func (s *Store) now() time.Time { return s.clock().Round(0).UTC() }

// publish applies a durable plan to the head cache. It stores new entries
// and never modifies published ones.
func (s *Store) publish(p *plan.Plan) {
	p.Durable()
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
