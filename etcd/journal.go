package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/verso-config/verso"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var _ verso.Journals = (*Store)(nil)

// Journals (verso.Journals) live under the prefix's reserved directory
// "~j/", which sorts after every key of the tree, so the watch that
// follows the tree (which stops at "~") never carries them. A journal is
// an etcd lease and the keys ~j/<lease>/<n> attached to it: key 0 is an
// empty marker made with the lease, record n the key n (20-digit
// zero-padded decimal). The lease's expiry is the journal's; an append
// renews it (at most once a minute per server), and revoking it drops the
// journal.
const (
	dirJournal = "~j/"
	// journalRenew is how often at most one server renews a journal's
	// lease, so that appends in quick succession cost one round trip.
	journalRenew = time.Minute
)

// journalRenewals remembers when this server last renewed each lease.
type journalRenewals struct {
	mu   sync.Mutex
	last map[clientv3.LeaseID]time.Time
}

var renewals = journalRenewals{last: map[clientv3.LeaseID]time.Time{}}

// due reports whether lease should be renewed now, and notes it renewed.
func (jr *journalRenewals) due(lease clientv3.LeaseID, now time.Time) bool {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	if now.Sub(jr.last[lease]) < journalRenew {
		return false
	}
	if len(jr.last) > 4096 {
		for l, t := range jr.last {
			if now.Sub(t) > journalRenew {
				delete(jr.last, l)
			}
		}
	}
	jr.last[lease] = now
	return true
}

func (k keys) journal(id string, n int) string {
	return k.prefix + dirJournal + id + "/" + fmt.Sprintf("%020d", n)
}

// journalLease returns the lease a journal id names.
func journalLease(id string) (clientv3.LeaseID, error) {
	n, err := strconv.ParseInt(id, 16, 64)
	if err != nil || n <= 0 {
		return 0, &verso.PathError{Op: "journal", Path: verso.Path(id), Err: verso.ErrNotFound}
	}
	return clientv3.LeaseID(n), nil
}

// OpenJournal makes a journal that lives ttl after its last append.
func (s *Store) OpenJournal(ctx context.Context, ttl time.Duration) (string, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	secs := int64((ttl + time.Second - 1) / time.Second)
	lease, err := s.cli.Grant(ctx, max(secs, 1))
	if err != nil {
		return "", fmt.Errorf("open journal: %w", err)
	}
	id := strconv.FormatInt(int64(lease.ID), 16)
	if _, err := s.cli.Put(ctx, s.k.journal(id, 0), "", clientv3.WithLease(lease.ID)); err != nil {
		s.cli.Revoke(context.WithoutCancel(ctx), lease.ID)
		return "", fmt.Errorf("open journal: %w", err)
	}
	renewals.due(lease.ID, time.Now())
	return id, nil
}

// AppendJournal adds rec as record n of journal id, if it is not there yet.
func (s *Store) AppendJournal(ctx context.Context, id string, n int, rec []byte) error {
	if err := s.queue.Ready(ctx); err != nil {
		return err
	}
	lease, err := journalLease(id)
	if err != nil {
		return err
	}
	if n < 1 {
		return &verso.PathError{Op: "journal", Path: verso.Path(id), Err: verso.ErrInvalidOp}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	mark, key := s.k.journal(id, 0), s.k.journal(id, n)
	resp, err := s.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(mark), ">", 0),
		clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
	).Then(
		clientv3.OpPut(key, string(rec), clientv3.WithLease(lease)),
	).Else(
		clientv3.OpGet(mark, clientv3.WithCountOnly()),
	).Commit()
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return &verso.PathError{Op: "journal", Path: verso.Path(id), Err: verso.ErrNotFound}
	case errors.Is(err, rpctypes.ErrRequestTooLarge) || status.Code(err) == codes.ResourceExhausted:
		return fmt.Errorf("append to journal %s: %w: a record of %d bytes is more than etcd takes in one request (its --max-request-bytes): %v", id, verso.ErrTooLarge, len(rec), err)
	case err != nil:
		return fmt.Errorf("append to journal %s: %w", id, err)
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return &verso.PathError{Op: "journal", Path: verso.Path(id), Err: verso.ErrNotFound}
		}
		return &verso.PathError{Op: "journal", Path: verso.Path(id), Err: verso.ErrExists}
	}
	if renewals.due(lease, time.Now()) {
		if _, err := s.cli.KeepAliveOnce(ctx, lease); err != nil {
			return fmt.Errorf("renew journal %s: %w", id, err)
		}
	}
	return nil
}

// ReadJournal returns the records of journal id from record from on.
func (s *Store) ReadJournal(ctx context.Context, id string, from int) ([][]byte, error) {
	if err := s.queue.Ready(ctx); err != nil {
		return nil, err
	}
	if _, err := journalLease(id); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.k.journal(id, 0), clientv3.WithCountOnly()),
		clientv3.OpGet(s.k.journal(id, max(from, 1)), clientv3.WithRange(s.k.prefix+dirJournal+id+"0")), // '0' follows '/'
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", id, err)
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return nil, &verso.PathError{Op: "journal", Path: verso.Path(id), Err: verso.ErrNotFound}
	}
	kvs := resp.Responses[1].GetResponseRange().Kvs
	out := make([][]byte, len(kvs))
	for i, kv := range kvs {
		if want := s.k.journal(id, max(from, 1)+i); string(kv.Key) != want {
			return nil, fmt.Errorf("read journal %s: record %q where %q was expected", id, kv.Key, want)
		}
		out[i] = kv.Value
	}
	return out, nil
}

// DropJournal deletes journal id and its records.
func (s *Store) DropJournal(ctx context.Context, id string) error {
	if err := s.queue.Ready(ctx); err != nil {
		return err
	}
	lease, err := journalLease(id)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("drop journal %s: %w", id, err)
	}
	return nil
}
