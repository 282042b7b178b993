package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// fakeClock is a settable clock for lock expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var ctx = context.Background()

// create calls m.Create with the lock's fields.
func create(m *LockManager, root verso.Path, infinite, shared bool, owner string, timeout time.Duration) (Lock, error) {
	return m.Create(ctx, Lock{Root: root, Infinite: infinite, Shared: shared, Owner: owner, Timeout: timeout})
}

// lockSpec describes a lock to create in a test.
type lockSpec struct {
	root     string
	infinite bool
	shared   bool
}

func (s lockSpec) String() string {
	scope, depth := "exclusive", "0"
	if s.shared {
		scope = "shared"
	}
	if s.infinite {
		depth = "infinity"
	}
	return fmt.Sprintf("%s %s depth %s", scope, s.root, depth)
}

func mustCreate(t *testing.T, m *LockManager, s lockSpec, timeout time.Duration) Lock {
	t.Helper()
	l, err := create(m, verso.MustPath(s.root), s.infinite, s.shared, "owner", timeout)
	if err != nil {
		t.Fatalf("create(%v): %v", s, err)
	}
	return l
}

func TestLockManager_CreateConflicts(t *testing.T) {
	excl := func(root string, infinite bool) lockSpec { return lockSpec{root, infinite, false} }
	shrd := func(root string, infinite bool) lockSpec { return lockSpec{root, infinite, true} }
	tests := []struct {
		existing lockSpec
		new      lockSpec
		conflict bool
	}{
		// Same resource: only shared with shared coexist.
		{excl("/a", false), excl("/a", false), true},
		{excl("/a", false), shrd("/a", false), true},
		{shrd("/a", false), excl("/a", false), true},
		{shrd("/a", false), shrd("/a", false), false},
		{shrd("/a", true), shrd("/a", false), false},
		{excl("/a", true), excl("/a", true), true},
		// An infinite lock above covers the new root.
		{excl("/a", true), excl("/a/b/c", false), true},
		{excl("/a", true), shrd("/a/b", false), true},
		{shrd("/a", true), excl("/a/b", false), true},
		{shrd("/a", true), shrd("/a/b", true), false},
		{excl("/", true), excl("/x", false), true},
		// A depth-0 lock above does not.
		{excl("/a", false), excl("/a/b", false), false},
		{excl("/a", false), excl("/a/b", true), false},
		{excl("/", false), excl("/a", true), false},
		// A new infinite lock covers the existing locks below it.
		{excl("/a/b", false), excl("/a", true), true},
		{shrd("/a/b/c", false), excl("/a", true), true},
		{excl("/a/b", false), shrd("/a", true), true},
		{shrd("/a/b", false), shrd("/a", true), false},
		{excl("/x", false), excl("/", true), true},
		// A new depth-0 lock does not.
		{excl("/a/b", false), excl("/a", false), false},
		{excl("/a/b", true), excl("/a", false), false},
		// Unrelated paths, including name prefixes that are not ancestors.
		{excl("/a", true), excl("/b", true), false},
		{excl("/a", true), excl("/ab", false), false},
		{excl("/ab", false), excl("/a", true), false},
		{excl("/a/b", true), excl("/a/c", true), false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v then %v", tt.existing, tt.new), func(t *testing.T) {
			m := NewLockManager(newFakeClock().now)
			mustCreate(t, m, tt.existing, time.Hour)
			_, err := create(m, verso.MustPath(tt.new.root), tt.new.infinite, tt.new.shared, "", time.Hour)
			if tt.conflict && !errors.Is(err, ErrLocked) {
				t.Errorf("create(%v) over %v: err = %v, want ErrLocked", tt.new, tt.existing, err)
			}
			if !tt.conflict && err != nil {
				t.Errorf("create(%v) over %v: %v", tt.new, tt.existing, err)
			}
		})
	}
}

// litmus double_sharedlock: two shared locks on one resource, then an
// exclusive one must fail.
func TestLockManager_DoubleSharedLock(t *testing.T) {
	m := NewLockManager(newFakeClock().now)
	a := mustCreate(t, m, lockSpec{"/lockme", false, true}, time.Hour)
	b := mustCreate(t, m, lockSpec{"/lockme", false, true}, time.Hour)
	if a.Token == b.Token {
		t.Fatalf("two locks share the token %s", a.Token)
	}
	if _, err := create(m, "/lockme", false, false, "", time.Hour); !errors.Is(err, ErrLocked) {
		t.Errorf("exclusive lock over two shared: err = %v, want ErrLocked", err)
	}
	if err := m.Unlock(ctx, "/lockme", b.Token); err != nil {
		t.Fatalf("unlock second shared lock: %v", err)
	}
	if _, err := create(m, "/lockme", false, false, "", time.Hour); !errors.Is(err, ErrLocked) {
		t.Errorf("exclusive lock over one shared: err = %v, want ErrLocked", err)
	}
	if err := m.Unlock(ctx, "/lockme", a.Token); err != nil {
		t.Fatalf("unlock first shared lock: %v", err)
	}
	if _, err := create(m, "/lockme", false, false, "", time.Hour); err != nil {
		t.Errorf("exclusive lock after unlocking both: %v", err)
	}
}

func TestLockManager_Create(t *testing.T) {
	clock := newFakeClock()
	m := NewLockManager(clock.now)
	l, err := create(m, "/app/db", true, false, "<href xmlns=\"DAV:\">anna</href>", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	uuid := regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid.MatchString(l.Token) {
		t.Errorf("token %q is not a urn:uuid with a version 4 UUID", l.Token)
	}
	want := Lock{
		Token: l.Token, Root: "/app/db", Infinite: true, Owner: "<href xmlns=\"DAV:\">anna</href>",
		Timeout: 90 * time.Second, Expires: clock.now().Add(90 * time.Second),
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("create mismatch (-want +got):\n%s", diff)
	}
	got, ok := m.Lookup(ctx, l.Token)
	if !ok {
		t.Fatalf("lookup(%q) found nothing", l.Token)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lookup mismatch (-want +got):\n%s", diff)
	}
	if _, ok := m.Lookup(ctx, "urn:uuid:00000000-0000-4000-8000-000000000000"); ok {
		t.Error("lookup of an unknown token found a lock")
	}

	seen := map[string]bool{l.Token: true}
	for i := 0; i < 50; i++ {
		l := mustCreate(t, m, lockSpec{fmt.Sprintf("/other/k%d", i), false, false}, 0)
		if seen[l.Token] {
			t.Fatalf("token %s handed out twice", l.Token)
		}
		seen[l.Token] = true
	}
}

func TestLockManager_Expiry(t *testing.T) {
	clock := newFakeClock()
	m := NewLockManager(clock.now)
	short := mustCreate(t, m, lockSpec{"/a", false, false}, 10*time.Second)
	long := mustCreate(t, m, lockSpec{"/b", true, false}, time.Minute)
	forever := mustCreate(t, m, lockSpec{"/c", false, true}, 0)
	if !forever.Expires.IsZero() || forever.Timeout != 0 {
		t.Errorf("infinite lock: Timeout %v, Expires %v; want 0 and zero", forever.Timeout, forever.Expires)
	}

	clock.advance(9 * time.Second)
	if _, ok := m.Lookup(ctx, short.Token); !ok {
		t.Fatal("lock gone before its timeout")
	}
	if err := m.Confirm("/a", false, false, nil); !errors.Is(err, ErrLocked) {
		t.Errorf("confirm(/a) before expiry: err = %v, want ErrLocked", err)
	}

	clock.advance(time.Second)
	if _, ok := m.Lookup(ctx, short.Token); ok {
		t.Error("lock still there at its expiry")
	}
	if err := m.Confirm("/a", false, false, nil); err != nil {
		t.Errorf("confirm(/a) after expiry: %v", err)
	}
	if _, err := create(m, "/a", false, false, "", time.Hour); err != nil {
		t.Errorf("create over an expired lock: %v", err)
	}
	if err := m.Unlock(ctx, "/a", short.Token); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("unlock of an expired lock: err = %v, want ErrNoSuchLock", err)
	}
	if _, err := m.Refresh(ctx, short.Token, time.Hour); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("refresh of an expired lock: err = %v, want ErrNoSuchLock", err)
	}

	// Refreshing restarts the timeout from now.
	clock.advance(40 * time.Second) // 50 s into long's minute
	r, err := m.Refresh(ctx, long.Token, time.Minute)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if want := clock.now().Add(time.Minute); !r.Expires.Equal(want) || r.Timeout != time.Minute {
		t.Errorf("refresh: Timeout %v Expires %v, want 1m0s and %v", r.Timeout, r.Expires, want)
	}
	clock.advance(30 * time.Second) // past the original expiry
	if got := m.Covering("/b/x"); len(got) != 1 || got[0].Token != long.Token {
		t.Errorf("covering(/b/x) after refresh = %v, want the refreshed lock", got)
	}
	clock.advance(30 * time.Second)
	if got := m.Covering("/b/x"); len(got) != 0 {
		t.Errorf("covering(/b/x) after the refreshed timeout = %v, want none", got)
	}

	// A lock granted without a timeout never expires.
	clock.advance(1000 * time.Hour)
	if _, ok := m.Lookup(ctx, forever.Token); !ok {
		t.Error("lock without timeout expired")
	}
}

func TestLockManager_RefreshUnknown(t *testing.T) {
	m := NewLockManager(newFakeClock().now)
	if _, err := m.Refresh(ctx, "urn:uuid:nope", time.Hour); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("refresh(unknown) err = %v, want ErrNoSuchLock", err)
	}
}

func TestLockManager_Unlock(t *testing.T) {
	tests := []struct {
		name  string
		lock  lockSpec
		path  string
		token string // "" means the lock's own token
		want  error
	}{
		{"on the root", lockSpec{"/a", false, false}, "/a", "", nil},
		{"inside an infinite lock", lockSpec{"/a", true, false}, "/a/b/c", "", nil},
		{"below a depth-0 lock", lockSpec{"/a", false, false}, "/a/b", "", ErrNoSuchLock},
		{"above the lock", lockSpec{"/a/b", true, false}, "/a", "", ErrNoSuchLock},
		{"elsewhere", lockSpec{"/a", true, false}, "/ab", "", ErrNoSuchLock},
		{"bogus token", lockSpec{"/a", false, false}, "/a", "opaquelocktoken:foobar", ErrNoSuchLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewLockManager(newFakeClock().now)
			l := mustCreate(t, m, tt.lock, time.Hour)
			tok := tt.token
			if tok == "" {
				tok = l.Token
			}
			err := m.Unlock(ctx, verso.MustPath(tt.path), tok)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("unlock(%s, %s) = %v, want %v", tt.path, tok, err, tt.want)
			}
			_, still := m.Lookup(ctx, l.Token)
			if still != (tt.want != nil) {
				t.Errorf("after unlock(%s): lock present = %v, want %v", tt.path, still, tt.want != nil)
			}
		})
	}
}

func TestLockManager_Covering(t *testing.T) {
	m := NewLockManager(newFakeClock().now)
	rootInf := mustCreate(t, m, lockSpec{"/", true, true}, time.Hour)
	aZero := mustCreate(t, m, lockSpec{"/a", false, true}, time.Hour)
	abInf := mustCreate(t, m, lockSpec{"/a/b", true, true}, time.Hour)
	abTwo := mustCreate(t, m, lockSpec{"/a/b", false, true}, time.Hour)
	tests := []struct {
		path string
		want []Lock
	}{
		{"/", []Lock{rootInf}},
		{"/a", []Lock{rootInf, aZero}},
		{"/a/b", []Lock{rootInf, abInf, abTwo}},
		{"/a/b/c/d", []Lock{rootInf, abInf}},
		{"/a/x", []Lock{rootInf}},
		{"/ab", []Lock{rootInf}},
	}
	for _, tt := range tests {
		got := m.Covering(verso.MustPath(tt.path))
		want := append([]Lock(nil), tt.want...)
		sortLocks(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("covering(%s) mismatch (-want +got):\n%s", tt.path, diff)
		}
	}
}

func sortLocks(ls []Lock) {
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			if ls[j].Token < ls[i].Token {
				ls[i], ls[j] = ls[j], ls[i]
			}
		}
	}
}

func TestLockManager_Confirm(t *testing.T) {
	type call struct {
		path       string
		subtree    bool
		membership bool
		tokens     []int // indexes into the test's locks; -1 is a bogus token
		locked     bool
	}
	tests := []struct {
		name  string
		locks []lockSpec
		calls []call
	}{
		{
			"no locks",
			nil,
			[]call{{"/a", true, true, nil, false}},
		},
		{
			"exclusive depth 0 (litmus notowner_modify, owner_modify)",
			[]lockSpec{{"/lockme", false, false}},
			[]call{
				{"/lockme", false, false, nil, true},
				{"/lockme", false, false, []int{-1}, true},
				{"/lockme", false, false, []int{0}, false},
				{"/lockme", false, false, []int{-1, 0}, false},
				{"/lockme", true, true, []int{0}, false},
				{"/notlocked", false, true, nil, false},
				{"/lockme/below", false, false, nil, false}, // depth 0 does not reach down...
				{"/lockme/below", false, true, nil, true},   // ...but guards the member list
			},
		},
		{
			"two shared locks: either token suffices",
			[]lockSpec{{"/lockme", false, true}, {"/lockme", false, true}},
			[]call{
				{"/lockme", false, false, nil, true},
				{"/lockme", false, false, []int{0}, false},
				{"/lockme", false, false, []int{1}, false},
				{"/lockme", false, false, []int{-1}, true},
			},
		},
		{
			"infinite lock on a namespace (litmus lock_collection)",
			[]lockSpec{{"/lockcoll", true, false}},
			[]call{
				{"/lockcoll/lockme.txt", false, true, nil, true},
				{"/lockcoll/lockme.txt", false, true, []int{0}, false},
				{"/lockcoll/new/deep", false, true, nil, true},
				{"/lockcoll", true, true, nil, true},
				{"/lockcoll", true, true, []int{0}, false},
				{"/other", false, true, nil, false},
			},
		},
		{
			"subtree: locks below the target",
			[]lockSpec{{"/ns/a", false, false}, {"/ns/b/c", true, true}},
			[]call{
				{"/ns", false, false, nil, false}, // a write to /ns alone
				{"/ns", true, false, nil, true},
				{"/ns", true, false, []int{0}, true},
				{"/ns", true, false, []int{1}, true},
				{"/ns", true, false, []int{0, 1}, false},
				{"/ns/b", true, true, []int{1}, false},
				{"/", true, false, []int{0, 1}, false},
				{"/nsx", true, false, nil, false},
			},
		},
		{
			"membership: a depth-0 lock on the parent",
			[]lockSpec{{"/coll", false, false}},
			[]call{
				{"/coll/new", false, false, nil, false}, // changing an existing key
				{"/coll/new", false, true, nil, true},   // creating or removing it
				{"/coll/new", false, true, []int{0}, false},
				{"/coll/new/deeper", false, true, nil, false},
				{"/coll", false, false, nil, true},
			},
		},
		{
			"membership of the root",
			[]lockSpec{{"/", false, false}},
			[]call{
				{"/a", false, true, nil, true},
				{"/a", false, false, nil, false},
				{"/", false, true, []int{0}, false},
			},
		},
		{
			"shared locks at different levels",
			[]lockSpec{{"/a", true, true}, {"/a/b", false, true}},
			[]call{
				{"/a/b", false, false, []int{0}, false},
				{"/a/b", false, false, []int{1}, false},
				{"/a/b/c", false, true, []int{0}, false}, // /a/b's membership: /a's lock covers it too
				{"/a/b/c", false, true, []int{1}, true},  // /a/b/c itself needs /a's lock
				{"/a", true, false, []int{1}, true},
				{"/a", true, false, []int{0}, false}, // /a's lock also covers /a/b
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewLockManager(newFakeClock().now)
			var locks []Lock
			for _, s := range tt.locks {
				locks = append(locks, mustCreate(t, m, s, time.Hour))
			}
			for _, c := range tt.calls {
				var toks []string
				for _, i := range c.tokens {
					if i < 0 {
						toks = append(toks, "opaquelocktoken:foobar")
					} else {
						toks = append(toks, locks[i].Token)
					}
				}
				err := m.Confirm(verso.MustPath(c.path), c.subtree, c.membership, toks)
				if c.locked && !errors.Is(err, ErrLocked) {
					t.Errorf("confirm(%s, subtree %v, membership %v, locks %v) = %v, want ErrLocked",
						c.path, c.subtree, c.membership, c.tokens, err)
				}
				if !c.locked && err != nil {
					t.Errorf("confirm(%s, subtree %v, membership %v, locks %v) = %v, want nil",
						c.path, c.subtree, c.membership, c.tokens, err)
				}
			}
		})
	}
}

func TestLockManager_RemoveSubtree(t *testing.T) {
	m := NewLockManager(newFakeClock().now)
	above := mustCreate(t, m, lockSpec{"/a", true, true}, time.Hour)
	at := mustCreate(t, m, lockSpec{"/a/b", false, true}, time.Hour)
	below := mustCreate(t, m, lockSpec{"/a/b/c", true, true}, time.Hour)
	sibling := mustCreate(t, m, lockSpec{"/a/bc", false, true}, time.Hour)
	m.RemoveSubtree(ctx, "/a/b")
	for _, tc := range []struct {
		l    Lock
		want bool
	}{{above, true}, {at, false}, {below, false}, {sibling, true}} {
		if _, ok := m.Lookup(ctx, tc.l.Token); ok != tc.want {
			t.Errorf("after removeSubtree(/a/b): lock on %s present = %v, want %v", tc.l.Root, ok, tc.want)
		}
	}
}

func TestLockManager_Concurrent(t *testing.T) {
	m := NewLockManager(time.Now)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				p := verso.MustPath(fmt.Sprintf("/g%d/k%d", g, i))
				l, err := create(m, p, false, false, "", time.Minute)
				if err != nil {
					t.Errorf("create(%s): %v", p, err)
					return
				}
				if err := m.Confirm(p, false, true, []string{l.Token}); err != nil {
					t.Errorf("confirm(%s): %v", p, err)
				}
				m.Covering(p)
				if _, err := m.Refresh(ctx, l.Token, time.Hour); err != nil {
					t.Errorf("refresh: %v", err)
				}
				if err := m.Unlock(ctx, p, l.Token); err != nil {
					t.Errorf("unlock(%s): %v", p, err)
				}
			}
		}()
	}
	wg.Wait()
}

// activeLock is the parsed form of a DAV:activelock.
type activeLock struct {
	LockType struct {
		Write *struct{} `xml:"DAV: write"`
	} `xml:"DAV: locktype"`
	LockScope struct {
		Exclusive *struct{} `xml:"DAV: exclusive"`
		Shared    *struct{} `xml:"DAV: shared"`
	} `xml:"DAV: lockscope"`
	Depth string `xml:"DAV: depth"`
	Owner *struct {
		Inner string `xml:",innerxml"`
	} `xml:"DAV: owner"`
	Timeout   string `xml:"DAV: timeout"`
	LockToken string `xml:"DAV: locktoken>href"`
	LockRoot  string `xml:"DAV: lockroot>href"`
}

func TestActiveLockXML(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		l         Lock
		href      string
		now       time.Time
		wantScope string
		wantDepth string
		wantOwner string // "-" means no owner element
		wantTime  string
	}{
		{
			"exclusive depth 0 with owner",
			Lock{Token: "urn:uuid:1", Root: "/lockme", Owner: "litmus test suite", Timeout: time.Hour, Expires: now.Add(time.Hour)},
			"/config/lockme", now, "exclusive", "0", "litmus test suite", "Second-3600",
		},
		{
			"shared infinity with XML owner, half a second in",
			Lock{Token: "urn:uuid:2", Root: "/lockcoll", Infinite: true, Shared: true, Owner: `<href xmlns="DAV:">mailto:a@b</href>`, Timeout: time.Hour, Expires: now.Add(time.Hour)},
			"/config/lockcoll/", now.Add(500 * time.Millisecond), "shared", "infinity", `<href xmlns="DAV:">mailto:a@b</href>`, "Second-3600",
		},
		{
			"no owner, no timeout, escaped href",
			Lock{Token: "urn:uuid:3", Root: "/a&b"},
			"/config/a&b", now, "exclusive", "0", "-", "Infinite",
		},
		{
			"past expiry shows zero",
			Lock{Token: "urn:uuid:4", Root: "/x", Timeout: time.Second, Expires: now},
			"/config/x", now.Add(time.Second), "exclusive", "0", "-", "Second-0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := ActiveLockXML(tt.l, tt.href, tt.now)
			doc := `<D:prop xmlns:D="DAV:"><D:lockdiscovery>` + out + `</D:lockdiscovery></D:prop>`
			var got struct {
				Active []activeLock `xml:"DAV: lockdiscovery>activelock"`
			}
			if err := xml.Unmarshal([]byte(doc), &got); err != nil {
				t.Fatalf("activelock is not well-formed: %v\n%s", err, out)
			}
			if len(got.Active) != 1 {
				t.Fatalf("got %d activelock elements, want 1:\n%s", len(got.Active), out)
			}
			a := got.Active[0]
			if a.LockType.Write == nil {
				t.Errorf("locktype is not write:\n%s", out)
			}
			scope := "none"
			switch {
			case a.LockScope.Exclusive != nil && a.LockScope.Shared == nil:
				scope = "exclusive"
			case a.LockScope.Shared != nil && a.LockScope.Exclusive == nil:
				scope = "shared"
			}
			if scope != tt.wantScope {
				t.Errorf("lockscope = %s, want %s", scope, tt.wantScope)
			}
			if a.Depth != tt.wantDepth {
				t.Errorf("depth = %q, want %q", a.Depth, tt.wantDepth)
			}
			owner := "-"
			if a.Owner != nil {
				owner = a.Owner.Inner
			}
			if owner != tt.wantOwner {
				t.Errorf("owner = %q, want %q", owner, tt.wantOwner)
			}
			if a.Timeout != tt.wantTime {
				t.Errorf("timeout = %q, want %q", a.Timeout, tt.wantTime)
			}
			if a.LockToken != tt.l.Token {
				t.Errorf("locktoken = %q, want %q", a.LockToken, tt.l.Token)
			}
			if a.LockRoot != tt.href {
				t.Errorf("lockroot = %q, want %q", a.LockRoot, tt.href)
			}
		})
	}
}
