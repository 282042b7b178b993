package dav

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/verso-config/verso"
)

// WebDAV write locks (RFC 4918 sections 6 and 7). A server alone keeps
// them in its memory (LockManager): a restart forgets them, which clients
// see as an expired lock. Servers that share a store offering a
// verso.LockTable keep them there (SharedLocks, shared.go).

var (
	// ErrLocked: a lock that protects the resource was not submitted, or a
	// new lock conflicts with one that exists (423 Locked).
	ErrLocked = errors.New("locked")
	// ErrNoSuchLock: the token names no live lock, or not one whose scope
	// holds the resource of the request (409 Conflict).
	ErrNoSuchLock = errors.New("no such lock")
)

// Lock is one write lock. Root is the locked resource; an infinite lock also
// covers everything below it. Timeout is what the lock was granted or last
// refreshed with (0 means it never expires); Expires is then the moment it
// lapses (zero when Timeout is 0). Meta is kept with the lock for its
// creator (svn's user, comment and date), and shown to no WebDAV client.
type Lock struct {
	Token    string
	Root     verso.Path
	Infinite bool
	Shared   bool
	Owner    string
	Meta     string
	Timeout  time.Duration
	Expires  time.Time
}

// Covers reports whether p lies in the lock's scope.
func (l Lock) Covers(p verso.Path) bool {
	return l.Root == p || l.Infinite && l.Root.Contains(p)
}

// overlaps reports whether the scopes of two locks share a resource.
func (l Lock) overlaps(o Lock) bool {
	return l.Covers(o.Root) || o.Covers(l.Root)
}

// Locks is the lock table a server consults: LockManager on one server,
// SharedLocks on the servers of a cluster. Errors other than ErrLocked and
// ErrNoSuchLock are the shared table's failures (etcd unreachable).
type Locks interface {
	// Create grants the lock l describes (Root, Infinite, Shared, Owner,
	// Meta, Timeout) or fails with ErrLocked if it conflicts with a live
	// lock: an exclusive lock conflicts with every lock whose scope
	// overlaps its own (a lock on root, an infinite lock above root, or,
	// when the new lock is infinite, any lock below root); a shared lock
	// conflicts only with exclusive ones. A timeout of 0 or less never
	// expires. It returns the lock with its Token and Expires.
	Create(ctx context.Context, l Lock) (Lock, error)
	// Refresh restarts the timeout of the live lock named by token, with
	// the new timeout (0 or less: never expires). An unknown or expired
	// token is ErrNoSuchLock.
	Refresh(ctx context.Context, token string, timeout time.Duration) (Lock, error)
	// Unlock removes the lock named by token. As RFC 4918 section 9.11
	// allows UNLOCK on any resource in the lock's scope, p must lie in it;
	// otherwise, or if the token names no live lock, the answer is
	// ErrNoSuchLock.
	Unlock(ctx context.Context, p verso.Path, token string) error
	// Lookup returns the live lock named by token, as of the last Sync
	// (call Sync first to see locks taken through other servers).
	Lookup(ctx context.Context, token string) (Lock, bool)
	// Sync makes Covering, Below and Confirm hold every lock change made,
	// through any server, before Sync was called.
	Sync(ctx context.Context) error
	// Covering returns the live locks whose scope includes p, sorted by
	// token.
	Covering(p verso.Path) []Lock
	// Below returns the live locks rooted at p or below it, sorted by
	// token.
	Below(p verso.Path) []Lock
	// Confirm reports ErrLocked unless every lock that protects a write to
	// p is satisfied by one of the submitted tokens (see confirm).
	Confirm(p verso.Path, subtree, membership bool, tokens []string) error
	// RemoveSubtree drops every lock rooted at p or below it, after p was
	// deleted or moved away. Infinite locks above p stay.
	RemoveSubtree(ctx context.Context, p verso.Path) error
	// Version returns the version of the locks Confirm reads now. It
	// changes whenever a lock is granted (and may on other changes): a
	// write checked at a version that is still current needs no check
	// again.
	Version() int64
	// Hold keeps this process from granting a lock until release is
	// called: a write whose check is still current at Version commits
	// while it holds, before any lock granted after its check. Locks kept
	// in a store's lock table (SharedLocks) hold nothing: the store
	// compares the version at the commit instead (verso.Txn.LocksAt).
	Hold() (release func())
}

var _ Locks = (*LockManager)(nil)

// table is a set of locks by token; the functions below read one.
type table map[string]*Lock

// conflict returns ErrLocked if l conflicts with a lock of t.
func (t table) conflict(l Lock) error {
	for _, o := range t {
		if l.overlaps(*o) && (!l.Shared || !o.Shared) {
			return fmt.Errorf("%w: %s is locked by %s", ErrLocked, l.Root, o.Token)
		}
	}
	return nil
}

func (t table) covering(p verso.Path) []Lock {
	var ls []Lock
	for _, l := range t {
		if l.Covers(p) {
			ls = append(ls, *l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Token < ls[j].Token })
	return ls
}

func (t table) below(p verso.Path) []Lock {
	var ls []Lock
	for _, l := range t {
		if p.Contains(l.Root) {
			ls = append(ls, *l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Token < ls[j].Token })
	return ls
}

// confirm reports ErrLocked unless every lock that protects a write to p
// is satisfied by one of the submitted tokens. The write touches these
// resources, and each needs one submitted token among the locks covering
// it (there is either one exclusive lock or any number of shared ones; any
// one of the shared suffices):
//   - p itself;
//   - with subtree (DELETE or MOVE of a namespace), the root of every lock
//     below p;
//   - with membership (p is being created or removed), p's parent, whose
//     member list changes: a depth-0 lock on a namespace protects it.
func (t table) confirm(p verso.Path, subtree, membership bool, tokens []string) error {
	if len(t) == 0 {
		return nil
	}
	submitted := make(map[string]bool, len(tokens))
	for _, tok := range tokens {
		submitted[tok] = true
	}
	check := func(r verso.Path) error {
		ls := t.covering(r)
		if len(ls) == 0 {
			return nil
		}
		for _, l := range ls {
			if submitted[l.Token] {
				return nil
			}
		}
		return fmt.Errorf("%w: %s is locked by %s", ErrLocked, r, ls[0].Token)
	}
	if err := check(p); err != nil {
		return err
	}
	if subtree {
		var roots []verso.Path
		for _, l := range t {
			if l.Root != p && p.Contains(l.Root) {
				roots = append(roots, l.Root)
			}
		}
		sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
		for _, r := range roots {
			if err := check(r); err != nil {
				return err
			}
		}
	}
	if membership && !p.IsRoot() {
		if err := check(p.Parent()); err != nil {
			return err
		}
	}
	return nil
}

// setTimeout gives l the timeout from now (0 or less: none).
func setTimeout(l *Lock, now time.Time, timeout time.Duration) {
	if timeout <= 0 {
		l.Timeout, l.Expires = 0, time.Time{}
		return
	}
	l.Timeout, l.Expires = timeout, now.Add(timeout)
}

// LockManager holds the live locks of one server in its memory. It is
// safe for concurrent use. Locks past their expiry are dropped lazily, the
// next time the manager is used after the earliest expiry; its clock is
// injected so tests never sleep. Its context arguments are unused.
type LockManager struct {
	now func() time.Time

	// grant is held shared by the commits of checked writes (Hold) and
	// alone by Create, so that a lock is granted between commits, never
	// between a write's commit and the check it made.
	grant sync.RWMutex

	mu      sync.Mutex
	byToken table
	// sweepAt is the earliest expiry of any lock (zero when none expires).
	sweepAt time.Time
	granted int64 // locks granted so far: the Version
}

func NewLockManager(now func() time.Time) *LockManager {
	if now == nil {
		now = time.Now
	}
	return &LockManager{now: now, byToken: make(table)}
}

// expire drops locks that have expired by now. The caller holds m.mu.
func (m *LockManager) expire(now time.Time) {
	if m.sweepAt.IsZero() || now.Before(m.sweepAt) {
		return
	}
	m.sweepAt = time.Time{}
	for tok, l := range m.byToken {
		if l.Expires.IsZero() {
			continue
		}
		if !now.Before(l.Expires) {
			delete(m.byToken, tok)
			continue
		}
		m.noteExpiry(l.Expires)
	}
}

// noteExpiry makes sure the next sweep happens no later than t.
func (m *LockManager) noteExpiry(t time.Time) {
	if !t.IsZero() && (m.sweepAt.IsZero() || t.Before(m.sweepAt)) {
		m.sweepAt = t
	}
}

// Create grants a new lock (Locks.Create).
func (m *LockManager) Create(_ context.Context, l Lock) (Lock, error) {
	m.grant.Lock()
	defer m.grant.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	l.Token, l.Expires = "", time.Time{}
	if err := m.byToken.conflict(l); err != nil {
		return Lock{}, err
	}
	tok, err := newLockToken()
	if err != nil {
		return Lock{}, err
	}
	l.Token = tok
	setTimeout(&l, now, l.Timeout)
	m.noteExpiry(l.Expires)
	m.byToken[tok] = &l
	m.granted++
	return l, nil
}

// Version counts the locks granted (Locks.Version).
func (m *LockManager) Version() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.granted
}

// Hold holds off Create until release (Locks.Hold).
func (m *LockManager) Hold() (release func()) {
	m.grant.RLock()
	return m.grant.RUnlock
}

// Refresh restarts a lock's timeout (Locks.Refresh).
func (m *LockManager) Refresh(_ context.Context, token string, timeout time.Duration) (Lock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	l, ok := m.byToken[token]
	if !ok {
		return Lock{}, fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	setTimeout(l, now, timeout)
	m.noteExpiry(l.Expires)
	return *l, nil
}

// Unlock removes a lock (Locks.Unlock).
func (m *LockManager) Unlock(_ context.Context, p verso.Path, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	l, ok := m.byToken[token]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchLock, token)
	}
	if !l.Covers(p) {
		return fmt.Errorf("%w: %s does not cover %s", ErrNoSuchLock, token, p)
	}
	delete(m.byToken, token)
	return nil
}

// Sync does nothing: one server's memory is always current.
func (m *LockManager) Sync(context.Context) error { return nil }

// Covering returns the live locks whose scope includes p, sorted by token.
func (m *LockManager) Covering(p verso.Path) []Lock {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	return m.byToken.covering(p)
}

// Confirm checks the locks on a write (Locks.Confirm).
func (m *LockManager) Confirm(p verso.Path, subtree, membership bool, tokens []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	return m.byToken.confirm(p, subtree, membership, tokens)
}

// Below returns the live locks rooted at p or below it, sorted by token.
func (m *LockManager) Below(p verso.Path) []Lock {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	return m.byToken.below(p)
}

// RemoveSubtree drops the locks rooted at p or below (Locks.RemoveSubtree).
func (m *LockManager) RemoveSubtree(_ context.Context, p verso.Path) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for tok, l := range m.byToken {
		if p.Contains(l.Root) {
			delete(m.byToken, tok)
		}
	}
	return nil
}

// Lookup returns the live lock named by token.
func (m *LockManager) Lookup(_ context.Context, token string) (Lock, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	l, ok := m.byToken[token]
	if !ok {
		return Lock{}, false
	}
	return *l, true
}

// newLockToken returns "urn:uuid:" and a random (version 4) UUID.
func newLockToken() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("make lock token: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// ActiveLockXML renders l as a DAV:activelock element (prefix D, to be
// placed inside a document that binds it to DAV:). rootHref is the lock
// root's URL, already escaped for a URL; the timeout shows the seconds left
// at now, rounded up.
func ActiveLockXML(l Lock, rootHref string, now time.Time) string {
	var b strings.Builder
	b.WriteString("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>")
	if l.Shared {
		b.WriteString("<D:shared/>")
	} else {
		b.WriteString("<D:exclusive/>")
	}
	b.WriteString("</D:lockscope><D:depth>")
	if l.Infinite {
		b.WriteString("infinity")
	} else {
		b.WriteString("0")
	}
	b.WriteString("</D:depth>")
	if l.Owner != "" {
		b.WriteString("<D:owner>" + l.Owner + "</D:owner>")
	}
	b.WriteString("<D:timeout>")
	if l.Timeout <= 0 || l.Expires.IsZero() {
		b.WriteString("Infinite")
	} else {
		left := l.Expires.Sub(now)
		secs := int64(left / time.Second)
		if left%time.Second > 0 {
			secs++
		}
		b.WriteString("Second-" + strconv.FormatInt(max(secs, 0), 10))
	}
	b.WriteString("</D:timeout><D:locktoken><D:href>")
	escapeText(&b, l.Token)
	b.WriteString("</D:href></D:locktoken><D:lockroot><D:href>")
	escapeText(&b, rootHref)
	b.WriteString("</D:href></D:lockroot></D:activelock>")
	return b.String()
}

// Scope is what one write changes, as locks see it (Confirm's arguments):
// Path; with Subtree, everything below it too; with Membership, the
// members of Path's parent (a path added or removed).
type Scope struct {
	Path                verso.Path
	Subtree, Membership bool
}

// OpScopes returns what op changes (isNew: it makes its path), by the
// rules of the WebDAV method that makes the same change: a put or a
// property change (PUT, PROPPATCH) its path, and a new path's parent's
// membership; a new namespace (MKCOL) that membership; a delete, copy or
// move (DELETE, COPY, MOVE) the subtree at its path and that membership,
// and a move its source's too, first. A check changes nothing. Every
// surface that commits operations (svn commits, the JSON API) goes by it.
func OpScopes(op verso.Op, isNew bool) []Scope {
	switch op.Kind {
	case verso.OpPut, verso.OpProps:
		return []Scope{{Path: op.Path, Membership: isNew}}
	case verso.OpMkcol:
		return []Scope{{Path: op.Path, Membership: true}}
	case verso.OpCheck:
		return nil
	case verso.OpMove:
		return []Scope{{Path: op.From, Subtree: true, Membership: true}, {Path: op.Path, Subtree: true, Membership: true}}
	default: // delete, copy, and whatever else may change a tree
		return []Scope{{Path: op.Path, Subtree: true, Membership: true}}
	}
}
