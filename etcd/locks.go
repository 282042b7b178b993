package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var _ verso.LockTable = (*Store)(nil)

// The lock table (verso.LockTable) lives under the prefix's reserved
// directory "~l/", outside the tree and its history, and the watch that
// follows the tree stops before it:
//
//   - ~l/v: an empty key every change rewrites: its etcd mod revision is
//     the table's version, and each change is one etcd transaction that
//     applies only if it is still the version the change was planned
//     against.
//   - ~l/r/<key>: each record, bound to an etcd lease of its TTL (none for
//     a record without one), so that etcd deletes it when it lapses.
//
// Each Store keeps a copy of the table in memory, loaded when it opens and
// then followed by a watch of its own on ~l/.
const dirLocks = "~l/"

func (k keys) locks() string                { return k.prefix + dirLocks }
func (k keys) locksEnd() string             { return k.prefix + dirLocks[:len(dirLocks)-1] + "0" } // '0' follows '/'
func (k keys) lockVersion() string          { return k.prefix + dirLocks + "v" }
func (k keys) lockRecord(key string) string { return k.prefix + dirLocks + "r/" + key }

// lockState is one state of the table in memory.
type lockState struct {
	etcdRev int64 // the etcd revision it reflects
	view    *verso.LockView
	leases  map[string]clientv3.LeaseID // each record's lease (0: none)
}

// loadLocks reads the whole table.
func (s *Store) loadLocks(ctx context.Context) (*lockState, error) {
	resp, err := s.cli.Get(ctx, s.k.locks(), clientv3.WithRange(s.k.locksEnd()))
	if err != nil {
		return nil, fmt.Errorf("load locks: %w", err)
	}
	st := &lockState{etcdRev: resp.Header.Revision, view: &verso.LockView{Records: map[string][]byte{}}, leases: map[string]clientv3.LeaseID{}}
	recPrefix := s.k.lockRecord("")
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		switch {
		case key == s.k.lockVersion():
			st.view.Version = kv.ModRevision
		case strings.HasPrefix(key, recPrefix):
			st.view.Records[key[len(recPrefix):]] = kv.Value
			st.leases[key[len(recPrefix):]] = clientv3.LeaseID(kv.Lease)
		}
	}
	return st, nil
}

// publishLocks makes st the table in memory unless a newer one is there
// already, and wakes those waiting for a change.
func (s *Store) publishLocks(st *lockState) {
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if cur := s.lockSt.Load(); cur != nil && st.etcdRev <= cur.etcdRev {
		return
	}
	s.lockSt.Store(st)
}

// reloadLocks replaces the table in memory with a fresh read of etcd:
// after a compaction made the watch lose events, or when the watch seems
// stuck.
func (s *Store) reloadLocks(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	st, err := s.loadLocks(ctx)
	if err != nil {
		return err
	}
	s.publishLocks(st)
	return nil
}

// waitLocks blocks until ok holds for the table in memory and returns it.
// If the watch has not brought it within the store's request timeout, it
// reads the whole table again (the watch seems stuck) and checks that.
func (s *Store) waitLocks(ctx context.Context, ok func(*lockState) bool) (*lockState, error) {
	wctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	st, err := s.lockSt.wait(wctx, nil, s.closeCh, ok)
	if err == nil || errors.Is(err, verso.ErrClosed) {
		return st, err
	}
	err = fmt.Errorf("wait for the lock table: %w", err)
	if ctx.Err() != nil {
		return nil, err
	}
	if lerr := s.reloadLocks(ctx); lerr != nil {
		return nil, lerr
	}
	if st := s.lockSt.Load(); ok(st) {
		return st, nil
	}
	return nil, err
}

// lockLoop follows the table's changes, from the etcd revision after the
// one in memory; when etcd has compacted the revisions it needs, it reads
// the table again.
func (s *Store) lockLoop() {
	s.keepWatching(follower{
		done: s.lockDone,
		rev:  func() int64 { return s.lockSt.Load().etcdRev },
		watch: func(ctx context.Context, start int64) (bool, error) {
			return s.followLocks(s.cli.Watch(ctx, s.k.locks(), clientv3.WithRange(s.k.locksEnd()), clientv3.WithRev(start)))
		},
		reload:       func(int64) error { return s.reloadLocks(s.ctx) },
		reloadFailed: "verso: reload the lock table",
		ended:        "verso: etcd watch of the lock table ended; restarting",
	})
}

// followLocks applies the events of wch, one etcd revision at a time.
func (s *Store) followLocks(wch clientv3.WatchChan) (progressed bool, err error) {
	recPrefix := s.k.lockRecord("")
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return progressed, errCompacted
		}
		if err := resp.Err(); err != nil {
			return progressed, err
		}
		if len(resp.Events) == 0 {
			continue
		}
		cur := s.lockSt.Load()
		next := &lockState{etcdRev: cur.etcdRev, view: &verso.LockView{Version: cur.view.Version, Records: make(map[string][]byte, len(cur.view.Records))},
			leases: make(map[string]clientv3.LeaseID, len(cur.leases))}
		for k, v := range cur.view.Records {
			next.view.Records[k] = v
		}
		for k, v := range cur.leases {
			next.leases[k] = v
		}
		for _, ev := range resp.Events {
			if ev.Kv.ModRevision <= cur.etcdRev {
				continue
			}
			next.etcdRev = max(next.etcdRev, ev.Kv.ModRevision)
			key := string(ev.Kv.Key)
			switch {
			case key == s.k.lockVersion():
				if ev.Type == clientv3.EventTypePut {
					next.view.Version = ev.Kv.ModRevision
				}
			case strings.HasPrefix(key, recPrefix):
				rk := key[len(recPrefix):]
				if ev.Type == clientv3.EventTypeDelete {
					delete(next.view.Records, rk)
					delete(next.leases, rk)
					continue
				}
				next.view.Records[rk] = ev.Kv.Value
				next.leases[rk] = clientv3.LeaseID(ev.Kv.Lease)
			}
		}
		if h := s.lockHold.Load(); h != nil {
			select {
			case <-*h:
			case <-s.ctx.Done():
				return progressed, nil
			}
		}
		s.publishLocks(next)
		progressed = true
	}
	return progressed, nil
}

// Locks returns the table in memory (verso.LockTable).
func (s *Store) Locks() *verso.LockView {
	return s.lockSt.Load().view
}

// SyncLocks reads the table's version with a quorum read and waits until
// the table in memory has it (verso.LockTable).
func (s *Store) SyncLocks(ctx context.Context) (*verso.LockView, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.k.lockVersion())
	if err != nil {
		return nil, fmt.Errorf("read the lock table's version: %w", err)
	}
	var v int64
	if len(resp.Kvs) > 0 {
		v = resp.Kvs[0].ModRevision
	}
	st, err := s.waitLocks(ctx, func(st *lockState) bool { return st.view.Version >= v })
	if err != nil {
		return nil, err
	}
	return st.view, nil
}

// UpdateLocks applies puts and deletes in one etcd transaction if the
// table's version is still version (verso.LockTable). Each put with a TTL
// gets a lease of its own, granted first; the leases of the records it
// replaces or deletes are revoked after.
func (s *Store) UpdateLocks(ctx context.Context, version int64, puts []verso.LockRecord, deletes []string) (*verso.LockView, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	wait := ctx
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var granted []clientv3.LeaseID
	revoke := func(ids []clientv3.LeaseID) {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer rcancel()
		for _, id := range ids {
			if id != 0 {
				s.cli.Revoke(rctx, id)
			}
		}
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k.lockVersion()), "=", version)}
	ops := []clientv3.Op{clientv3.OpPut(s.k.lockVersion(), "")}
	for _, p := range puts {
		if p.Key == "" {
			revoke(granted)
			return nil, fmt.Errorf("update locks: %w: a record without a key", verso.ErrInvalidOp)
		}
		var opts []clientv3.OpOption
		if p.TTL > 0 {
			secs := int64((p.TTL+time.Second-1)/time.Second) + 1
			lease, err := s.cli.Grant(ctx, secs)
			if err != nil {
				revoke(granted)
				return nil, fmt.Errorf("update locks: grant a lease: %w", err)
			}
			granted = append(granted, lease.ID)
			opts = append(opts, clientv3.WithLease(lease.ID))
		}
		if p.Replace {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.k.lockRecord(p.Key)), ">", 0))
		}
		ops = append(ops, clientv3.OpPut(s.k.lockRecord(p.Key), string(p.Value), opts...))
	}
	for _, d := range deletes {
		ops = append(ops, clientv3.OpDelete(s.k.lockRecord(d)))
	}
	old := s.lockSt.Load().leases
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	switch {
	case errors.Is(err, rpctypes.ErrRequestTooLarge) || status.Code(err) == codes.ResourceExhausted:
		revoke(granted)
		return nil, fmt.Errorf("update locks: %w: a lock is more than etcd takes in one request (its --max-request-bytes): %v", verso.ErrTooLarge, err)
	case err != nil:
		// The transaction may have applied although the answer was lost
		// (a timeout): a refreshed lock would then be bound to these
		// leases, and revoking them would end it. They lapse by
		// themselves a second after their TTL if unused.
		return nil, fmt.Errorf("update locks: %w", err)
	}
	if !resp.Succeeded {
		revoke(granted)
		return nil, fmt.Errorf("update locks: %w: the lock table changed", verso.ErrConflict)
	}
	var stale []clientv3.LeaseID
	for _, p := range puts {
		stale = append(stale, old[p.Key])
	}
	for _, d := range deletes {
		stale = append(stale, old[d])
	}
	revoke(stale)
	st, err := s.waitLocks(wait, func(st *lockState) bool { return st.etcdRev >= resp.Header.Revision })
	if err != nil {
		return nil, err
	}
	return st.view, nil
}
