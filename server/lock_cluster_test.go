package server_test

// WebDAV and svn locks shared by the servers of a cluster: two verso
// servers on one etcd, a lock taken through one holding off writes through
// the other.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/etcd"
)

// seedCluster commits /team and /team/k through the first server's store
// and waits until every server has it.
func seedCluster(t *testing.T, servers []*testServer, keys ...string) {
	t.Helper()
	ops := []verso.Op{{Kind: verso.OpMkcol, Path: "/team"}}
	for _, k := range keys {
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(k), Value: []byte("v1\n")})
	}
	c, err := servers[0].store.Commit(context.Background(), &verso.Txn{Author: "seed", Message: "seed", Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	waitHead(t, servers, c.Rev)
}

const lockDiscovery = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`

// TestLocks_AcrossServers takes, honours, refreshes and releases a WebDAV
// lock through different servers of a cluster.
func TestLocks_AcrossServers(t *testing.T) {
	servers, _, _ := newClusterServers(t, 2)
	a, b := servers[0], servers[1]
	seedCluster(t, servers, "/team/k")

	code, body, h := a.as(t, "alice", "LOCK", "/config/team/k", lockBody, "Timeout", "Second-600")
	tok := h.Get("Lock-Token")
	if code != 200 || tok == "" {
		t.Fatalf("LOCK through A = %d %q\n%s", code, tok, body)
	}
	if code, body, _ := b.as(t, "alice", "PUT", "/config/team/k", "through B\n"); code != 423 {
		t.Errorf("PUT through B without the token of A's lock = %d, want 423\n%s", code, body)
	}
	if code, body, _ := b.as(t, "alice", "DELETE", "/config/team", ""); code != 423 {
		t.Errorf("DELETE of the namespace above A's lock through B = %d, want 423\n%s", code, body)
	}
	if code, _, _ := b.as(t, "alice", "LOCK", "/config/team/k", lockBody); code != 423 {
		t.Errorf("a second exclusive LOCK through B = %d, want 423", code)
	}
	code, body, _ = b.as(t, "alice", "PROPFIND", "/config/team/k", lockDiscovery, "Depth", "0")
	if code != 207 || !strings.Contains(body, strings.Trim(tok, "<>")) {
		t.Errorf("PROPFIND lockdiscovery through B = %d, want A's lock %s\n%s", code, tok, body)
	}
	if code, body, _ := b.as(t, "alice", "PUT", "/config/team/k", "through B with the token\n", "If", "("+tok+")"); code != 204 {
		t.Errorf("PUT through B with the token = %d, want 204\n%s", code, body)
	}
	code, body, _ = b.as(t, "alice", "LOCK", "/config/team/k", "", "If", "("+tok+")", "Timeout", "Second-900")
	if code != 200 || !strings.Contains(body, "Second-9") {
		t.Errorf("refresh of A's lock through B = %d, want 200 with the new timeout\n%s", code, body)
	}
	if code, body, _ := b.as(t, "alice", "UNLOCK", "/config/team/k", "", "Lock-Token", tok); code != 204 {
		t.Errorf("UNLOCK through B = %d, want 204\n%s", code, body)
	}
	if code, body, _ := a.as(t, "alice", "PUT", "/config/team/k", "through A, unlocked\n"); code != 204 {
		t.Errorf("PUT through A after UNLOCK through B = %d, want 204\n%s", code, body)
	}
	if code, _, _ := a.as(t, "alice", "UNLOCK", "/config/team/k", "", "Lock-Token", tok); code != 409 {
		t.Errorf("second UNLOCK through A = %d, want 409", code)
	}

	// A lock on a key that does not exist creates it, and holds off the
	// namespace's membership (a depth-0 lock on the namespace).
	code, _, h = a.as(t, "alice", "LOCK", "/config/team", lockBody, "Depth", "0")
	if code != 200 {
		t.Fatalf("depth-0 LOCK of /team through A = %d", code)
	}
	if code, _, _ := b.as(t, "alice", "PUT", "/config/team/new", "x\n"); code != 423 {
		t.Errorf("PUT of a new key in a namespace locked through A, through B = %d, want 423", code)
	}
	if code, _, _ := b.as(t, "alice", "UNLOCK", "/config/team", "", "Lock-Token", h.Get("Lock-Token")); code != 204 {
		t.Errorf("UNLOCK of /team through B = %d, want 204", code)
	}

	// A lock deleted with its key through one server is gone on the other.
	code, _, h = a.as(t, "alice", "LOCK", "/config/team/k", lockBody)
	if code != 200 {
		t.Fatalf("LOCK through A = %d", code)
	}
	if code, _, _ := a.as(t, "alice", "DELETE", "/config/team/k", "", "If", "("+h.Get("Lock-Token")+")"); code != 204 {
		t.Fatalf("DELETE with the token through A = %d", code)
	}
	if code, body, _ := b.as(t, "alice", "PUT", "/config/team/k", "new\n"); code != 201 {
		t.Errorf("PUT through B after the locked key was deleted through A = %d, want 201\n%s", code, body)
	}
}

// TestLocks_ExpiryAcrossServers lets a lock taken through one server with a
// short timeout lapse, and writes through the other.
func TestLocks_ExpiryAcrossServers(t *testing.T) {
	servers, _, _ := newClusterServers(t, 2)
	a, b := servers[0], servers[1]
	seedCluster(t, servers, "/team/k")
	code, _, _ := a.as(t, "alice", "LOCK", "/config/team/k", lockBody, "Timeout", "Second-1")
	if code != 200 {
		t.Fatalf("LOCK through A = %d", code)
	}
	if code, _, _ := b.as(t, "alice", "PUT", "/config/team/k", "x\n"); code != 423 {
		t.Fatalf("PUT through B right after the LOCK = %d, want 423", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body, _ := b.as(t, "alice", "PUT", "/config/team/k", "x\n")
		if code == 204 {
			break
		}
		if code != 423 || time.Now().After(deadline) {
			t.Fatalf("PUT through B after the lock's timeout = %d, want 204\n%s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, _ := b.as(t, "alice", "LOCK", "/config/team/k", lockBody); code != 200 {
		t.Errorf("LOCK through B after A's lock lapsed = %d, want 200", code)
	}
}

// TestLocks_ConcurrentAcrossServers sends two LOCKs of one key at once, one
// to each server: exactly one is granted.
func TestLocks_ConcurrentAcrossServers(t *testing.T) {
	servers, _, _ := newClusterServers(t, 2)
	seedCluster(t, servers)
	for i := range 10 {
		path := "/config/team/k" + strings.Repeat("x", i)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for j, s := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[j], _, _ = s.as(t, "alice", "LOCK", path, lockBody)
			}()
		}
		wg.Wait()
		granted := 0
		for _, c := range codes {
			switch c {
			case 200, 201:
				granted++
			case 423:
			default:
				t.Fatalf("LOCK %s = %v, want one granted and one 423", path, codes)
			}
		}
		if granted != 1 {
			t.Fatalf("LOCK %s through both servers at once = %v: %d granted, want exactly one", path, codes, granted)
		}
	}
}

// TestSVN_LockAcrossServers takes an svn lock through one server and
// commits from another working copy through the other.
func TestSVN_LockAcrossServers(t *testing.T) {
	svn := newSVN(t)
	servers, _, _ := newClusterServers(t, 2)
	a, b := servers[0], servers[1]
	seedCluster(t, servers, "/team/k")
	dir := t.TempDir()
	alice, bob := svn.as("alice"), svn.as("bob")
	wa, wb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	alice.must(t, dir, "checkout", a.URL+"/config/team", wa)
	bob.must(t, dir, "checkout", b.URL+"/config/team", wb)

	out := alice.must(t, wa, "lock", "-m", "editing", "k")
	wantContains(t, "svn lock through A", out, "'k' locked by user 'alice'")
	writeFile(t, filepath.Join(wb, "k"), []byte("bob's\n"))
	out = bob.fails(t, wb, "commit", "-m", "bob")
	wantContains(t, "bob's commit through B of a key alice locked through A", out, "locked")
	out = bob.must(t, wb, "status", "-u")
	wantContains(t, "bob's svn status -u through B", out, "O ")
	out = bob.must(t, dir, "info", b.URL+"/config/team/k")
	wantContains(t, "svn info through B", out, "Lock Owner: alice", "Lock Comment (1 line):\nediting")
	if code, _, _ := b.as(t, "alice", "PUT", "/config/team/k", "by curl\n"); code != 423 {
		t.Errorf("PUT through B without the token of svn's lock through A = %d, want 423", code)
	}
	// alice's working copy talks to A; she breaks nothing and unlocks
	// through B by URL.
	alice.must(t, dir, "unlock", b.URL+"/config/team/k")
	bob.must(t, wb, "commit", "-m", "bob")
	if e := entryOf(t, b, "/team/k"); string(e.Value) != "bob's\n" {
		t.Errorf("/team/k after bob's commit = %q", e.Value)
	}
}

// TestSVN_MergeChecksLocksAcrossServers checks, at MERGE, a lock taken
// through another server after the change was sent.
func TestSVN_MergeChecksLocksAcrossServers(t *testing.T) {
	servers, _, _ := newClusterServers(t, 2)
	a, b := servers[0], servers[1]
	seedCluster(t, servers, "/team/k")
	head := a.head(t)
	txn := a.beginSvnTxn(t, "alice", "( create-txn )")
	if code, body, _ := a.as(t, "alice", "PUT", "/config/!svn/txr/"+txn+"/team/k", svndiffV2, "X-SVN-Version-Name", revStr(head)); code != 204 {
		t.Fatalf("PUT into the transaction through A = %d %s", code, body)
	}
	code, body, h := b.as(t, "bob", "LOCK", "/config/team/k", lockBody)
	tok := strings.Trim(h.Get("Lock-Token"), "<>")
	if code != 200 || tok == "" {
		t.Fatalf("bob's LOCK through B = %d\n%s", code, body)
	}
	merge := func(list string) (int, string) {
		code, body, _ := a.as(t, "alice", "MERGE", "/config/", `<?xml version="1.0" encoding="utf-8"?><D:merge xmlns:D="DAV:"><D:source><D:href>/config/!svn/txn/`+txn+`</D:href></D:source><D:no-auto-merge/><D:no-checkout/>`+list+`</D:merge>`)
		return code, body
	}
	if code, body := merge(""); code != 423 || !strings.Contains(body, `errcode="160035"`) {
		t.Errorf("MERGE through A after bob's LOCK through B = %d\n%s\nwant 423, svn's locked error", code, body)
	}
	if got := a.head(t); got != head {
		t.Fatalf("head = %d, want %d: the refused MERGE wrote", got, head)
	}
	if code, body := merge(`<S:lock-token-list xmlns:S="svn:"><S:lock><S:lock-path>team/k</S:lock-path><S:lock-token>` + tok + `</S:lock-token></S:lock></S:lock-token-list>`); code != 200 {
		t.Fatalf("MERGE through A with the lock's token = %d\n%s", code, body)
	}
	if e := entryOf(t, a, "/team/k"); string(e.Value) != "v2\n" {
		t.Errorf("/team/k after the MERGE = %q", e.Value)
	}
}

// countingStore is an etcd store that counts its lock table's syncs (each
// a quorum read of etcd).
type countingStore struct {
	*etcd.Store
	syncs atomic.Int64
}

func (c *countingStore) SyncLocks(ctx context.Context) (*verso.LockView, error) {
	c.syncs.Add(1)
	return c.Store.SyncLocks(ctx)
}

// TestLocks_RefreshSyncsOnce: a refresh LOCK syncs the shared lock table
// once for its whole If header, however many tokens it names; the tokens
// a server has not seen must not each cost a quorum read of etcd.
func TestLocks_RefreshSyncsOnce(t *testing.T) {
	var cs *countingStore
	servers, _, _ := newWrappedClusterServers(t, 1, func(st *etcd.Store) verso.Store {
		cs = &countingStore{Store: st}
		return cs
	})
	ts := servers[0]
	seedCluster(t, servers, "/team/k")

	code, body, h := ts.as(t, "alice", "LOCK", "/config/team/k", lockBody, "Timeout", "Second-600")
	tok := h.Get("Lock-Token")
	if code != 200 || tok == "" {
		t.Fatalf("LOCK = %d %q\n%s", code, tok, body)
	}
	var ih strings.Builder
	for i := range 500 {
		fmt.Fprintf(&ih, "(<opaquelocktoken:not-ours-%d>) ", i)
	}
	ih.WriteString("(" + tok + ")")
	before := cs.syncs.Load()
	code, body, _ = ts.as(t, "alice", "LOCK", "/config/team/k", "", "If", ih.String(), "Timeout", "Second-900")
	if code != 200 {
		t.Fatalf("refresh with 501 tokens = %d, want 200\n%s", code, body)
	}
	if n := cs.syncs.Load() - before; n > 2 {
		t.Errorf("a refresh naming 501 tokens synced the lock table %d times, want at most 2", n)
	}
}

// lockingStore grants, once armed, a lock through another server when a
// commit arrives: after the write checked the locks, before it commits.
type lockingStore struct {
	*etcd.Store
	lock func() // armed: run once by the next commit
	mu   sync.Mutex
}

func (ls *lockingStore) Commit(ctx context.Context, txn *verso.Txn) (*verso.Commit, error) {
	ls.mu.Lock()
	lock := ls.lock
	ls.lock = nil
	ls.mu.Unlock()
	if lock != nil {
		lock()
	}
	return ls.Store.Commit(ctx, txn)
}

// TestLocks_GrantedBetweenCheckAndCommitAcrossServers: a lock granted
// through B after a write through A checked the locks, and before its
// commit, holds the write off: the commit compares the lock table's
// version in the same etcd transaction, and the write, checked again, is
// refused.
func TestLocks_GrantedBetweenCheckAndCommitAcrossServers(t *testing.T) {
	var ls *lockingStore
	servers, _, _ := newWrappedClusterServers(t, 2, func(st *etcd.Store) verso.Store {
		if ls != nil {
			return st
		}
		ls = &lockingStore{Store: st}
		return ls
	})
	a, b := servers[0], servers[1]
	seedCluster(t, servers, "/team/k")

	for _, c := range []struct {
		name, method, path, body string
		header                   []string
	}{
		{"PUT", "PUT", "/config/team/k", "v2\n", nil},
		{"DELETE", "DELETE", "/config/team/k", "", nil},
		{"transaction", "POST", "/api/v1/txn", `{"ops":[{"op":"put","path":"/team/k","value":"v2\n"}]}`, []string{"Content-Type", "application/json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tok string
			ls.mu.Lock()
			ls.lock = func() {
				code, body, h := b.as(t, "alice", "LOCK", "/config/team/k", lockBody, "Timeout", "Second-60")
				if code != 200 {
					t.Errorf("LOCK through B = %d\n%s", code, body)
				}
				tok = h.Get("Lock-Token")
			}
			ls.mu.Unlock()
			if code, body, _ := a.as(t, "alice", c.method, c.path, c.body, c.header...); code != 423 {
				t.Errorf("%s through A, checked before B's LOCK and committed after it = %d, want 423\n%s", c.name, code, body)
			}
			if code, body, _ := b.as(t, "alice", "GET", "/config/team/k", ""); code != 200 || body != "v1\n" {
				t.Errorf("GET after the refused write = %d %q, want v1", code, body)
			}
			if code, body, _ := a.as(t, "alice", "UNLOCK", "/config/team/k", "", "Lock-Token", tok); code != 204 {
				t.Errorf("UNLOCK = %d\n%s", code, body)
			}
		})
	}
	if code, body, _ := a.as(t, "alice", "PUT", "/config/team/k", "v3\n"); code != 204 {
		t.Errorf("PUT through A with no lock = %d, want 204\n%s", code, body)
	}
}
