package dav

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/verso-config/verso"
)

// SharedLocks keeps the locks in a store's verso.LockTable, which every
// server sharing the store sees: a lock granted through one server holds
// off writes through every other. Each lock is one record, keyed by its
// token, that the store may forget a second after the lock expires; every
// server counts expiry itself, from the record, with its own clock.
//
// Changes (Create, Refresh, Unlock, RemoveSubtree) are planned against the
// table as this server knows it and applied only if the table has not
// changed since; if it has, the server syncs and plans again, so two
// servers never both grant conflicting locks. A refusal (ErrLocked,
// ErrNoSuchLock) is answered only after planning against a synced table.
// Covering, Below and Confirm read the table as this server knows it:
// Sync first to see every change made before, through any server.
type SharedLocks struct {
	now   func() time.Time
	table verso.LockTable

	mu     sync.Mutex
	view   *verso.LockView // the view decoded last
	locks  table           // its locks, expired ones included
	expiry time.Time       // the earliest expiry among them (zero: none)
}

var _ Locks = (*SharedLocks)(nil)

// NewSharedLocks returns the locks kept in t, with the clock now (nil:
// time.Now).
func NewSharedLocks(t verso.LockTable, now func() time.Time) *SharedLocks {
	if now == nil {
		now = time.Now
	}
	return &SharedLocks{now: now, table: t}
}

// maxLockRetries bounds how often a change is planned again after another
// server's change came first.
const maxLockRetries = 100

// record is a lock as the table keeps it.
type record struct {
	Root     verso.Path `json:"root"`
	Infinite bool       `json:"infinite,omitempty"`
	Shared   bool       `json:"shared,omitempty"`
	Owner    string     `json:"owner,omitempty"`
	Meta     string     `json:"meta,omitempty"`
	Timeout  int64      `json:"timeout,omitempty"` // nanoseconds
	Expires  int64      `json:"expires,omitempty"` // Unix nanoseconds
}

func encodeLock(l Lock) verso.LockRecord {
	r := record{Root: l.Root, Infinite: l.Infinite, Shared: l.Shared, Owner: l.Owner, Meta: l.Meta, Timeout: int64(l.Timeout)}
	var ttl time.Duration
	if !l.Expires.IsZero() {
		r.Expires = l.Expires.UnixNano()
		ttl = l.Timeout
	}
	b, _ := json.Marshal(r) // strings and numbers: cannot fail
	return verso.LockRecord{Key: l.Token, Value: b, TTL: ttl}
}

func decodeLock(token string, b []byte) (Lock, bool) {
	var r record
	if json.Unmarshal(b, &r) != nil {
		return Lock{}, false
	}
	if p, err := verso.ParsePath(string(r.Root)); err != nil || p != r.Root {
		return Lock{}, false
	}
	l := Lock{Token: token, Root: r.Root, Infinite: r.Infinite, Shared: r.Shared, Owner: r.Owner, Meta: r.Meta, Timeout: time.Duration(r.Timeout)}
	if r.Expires != 0 {
		l.Expires = time.Unix(0, r.Expires)
	}
	return l, true
}

// live returns the locks of v that have not expired at now. The table
// returned is shared: do not modify it.
func (m *SharedLocks) live(v *verso.LockView, now time.Time) table {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v != m.view {
		m.view, m.locks, m.expiry = v, make(table, len(v.Records)), time.Time{}
		for tok, b := range v.Records {
			l, ok := decodeLock(tok, b)
			if !ok {
				continue // not a lock this server can read: none
			}
			m.locks[tok] = &l
			if !l.Expires.IsZero() && (m.expiry.IsZero() || l.Expires.Before(m.expiry)) {
				m.expiry = l.Expires
			}
		}
	}
	if m.expiry.IsZero() || now.Before(m.expiry) {
		return m.locks
	}
	t := make(table, len(m.locks))
	for tok, l := range m.locks {
		if l.Expires.IsZero() || now.Before(l.Expires) {
			t[tok] = l
		}
	}
	return t
}

// current returns the live locks as this server knows them.
func (m *SharedLocks) current() table {
	return m.live(m.table.Locks(), m.now())
}

// update plans a change against the table and applies it, planning again
// against a synced table when another change came first. A plan's refusal
// is returned only once the table it was planned against was synced.
func (m *SharedLocks) update(ctx context.Context, plan func(t table, now time.Time) (puts []verso.LockRecord, deletes []string, err error)) error {
	v, synced := m.table.Locks(), false
	for range maxLockRetries {
		puts, deletes, err := plan(m.live(v, m.now()), m.now())
		switch {
		case err != nil && synced:
			return err
		case err != nil:
		case len(puts) == 0 && len(deletes) == 0:
			return nil
		default:
			_, err = m.table.UpdateLocks(ctx, v.Version, puts, deletes)
			if err == nil {
				return nil
			}
			if !errors.Is(err, verso.ErrConflict) {
				return err
			}
		}
		if v, err = m.table.SyncLocks(ctx); err != nil {
			return err
		}
		synced = true
	}
	return fmt.Errorf("change the lock table: %w: other servers kept changing it (%d tries)", verso.ErrConflict, maxLockRetries)
}

// Create grants a new lock (Locks.Create).
func (m *SharedLocks) Create(ctx context.Context, l Lock) (Lock, error) {
	tok, err := newLockToken()
	if err != nil {
		return Lock{}, err
	}
	l.Token = tok
	err = m.update(ctx, func(t table, now time.Time) ([]verso.LockRecord, []string, error) {
		if err := t.conflict(l); err != nil {
			return nil, nil, err
		}
		setTimeout(&l, now, l.Timeout)
		return []verso.LockRecord{encodeLock(l)}, nil, nil
	})
	if err != nil {
		return Lock{}, err
	}
	return l, nil
}

// Refresh restarts a lock's timeout (Locks.Refresh).
func (m *SharedLocks) Refresh(ctx context.Context, token string, timeout time.Duration) (Lock, error) {
	var l Lock
	err := m.update(ctx, func(t table, now time.Time) ([]verso.LockRecord, []string, error) {
		o, ok := t[token]
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
		}
		l = *o
		setTimeout(&l, now, timeout)
		rec := encodeLock(l)
		rec.Replace = true
		return []verso.LockRecord{rec}, nil, nil
	})
	if err != nil {
		return Lock{}, err
	}
	return l, nil
}

// Unlock removes a lock (Locks.Unlock).
func (m *SharedLocks) Unlock(ctx context.Context, p verso.Path, token string) error {
	return m.update(ctx, func(t table, _ time.Time) ([]verso.LockRecord, []string, error) {
		l, ok := t[token]
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
		}
		if !l.Covers(p) {
			return nil, nil, fmt.Errorf("%w: %s does not cover %s", ErrNoSuchLock, token, p)
		}
		return nil, []string{token}, nil
	})
}

// RemoveSubtree drops the locks rooted at p or below (Locks.RemoveSubtree).
func (m *SharedLocks) RemoveSubtree(ctx context.Context, p verso.Path) error {
	return m.update(ctx, func(t table, _ time.Time) ([]verso.LockRecord, []string, error) {
		var deletes []string
		for tok, l := range t {
			if p.Contains(l.Root) {
				deletes = append(deletes, tok)
			}
		}
		return nil, deletes, nil
	})
}

// Lookup returns the live lock named by token in this server's copy of
// the table: a caller that must see locks taken through other servers
// calls Sync first, once, however many tokens it looks up (a refresh may
// name thousands in one If header).
func (m *SharedLocks) Lookup(_ context.Context, token string) (Lock, bool) {
	if l, ok := m.current()[token]; ok {
		return *l, true
	}
	return Lock{}, false
}

// Sync waits until this server knows every change made to the table
// before the call, through any server (Locks.Sync).
func (m *SharedLocks) Sync(ctx context.Context) error {
	_, err := m.table.SyncLocks(ctx)
	return err
}

// Covering returns the live locks whose scope includes p, sorted by token.
func (m *SharedLocks) Covering(p verso.Path) []Lock {
	return m.current().covering(p)
}

// Below returns the live locks rooted at p or below it, sorted by token.
func (m *SharedLocks) Below(p verso.Path) []Lock {
	return m.current().below(p)
}

// Version is the version of the table as this server knows it
// (Locks.Version).
func (m *SharedLocks) Version() int64 { return m.table.Locks().Version }

// Hold holds nothing: the store compares the table's version at the
// commit (Locks.Hold).
func (m *SharedLocks) Hold() (release func()) { return func() {} }

// Confirm checks the locks on a write (Locks.Confirm) against the table as
// this server knows it.
func (m *SharedLocks) Confirm(p verso.Path, subtree, membership bool, tokens []string) error {
	return m.current().confirm(p, subtree, membership, tokens)
}
