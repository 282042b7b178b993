package server_test

// An svn commit whose requests reach different servers of a cluster: two
// verso servers on one etcd, behind a proxy that sends each request to
// the other server.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/etcd"
	"github.com/verso-config/verso/etcd/etcdtest"
	"github.com/verso-config/verso/server"
)

// roundRobin is an HTTP proxy that sends each request to the next of its
// servers, and counts the requests of each method each server answered.
type roundRobin struct {
	mu    sync.Mutex
	next  int
	to    []*url.URL
	count []map[string]int
}

// writes returns how many PUT, PROPPATCH and DELETE requests server i answered.
func (rr *roundRobin) writes(i int) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.count[i][http.MethodPut] + rr.count[i]["PROPPATCH"] + rr.count[i]["DELETE"]
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	i := rr.next
	rr.next = (rr.next + 1) % len(rr.to)
	rr.count[i][r.Method]++
	rr.mu.Unlock()
	p := httputil.NewSingleHostReverseProxy(rr.to[i])
	p.ServeHTTP(w, r)
}

// newClusterServers starts n verso servers on one etcd prefix (the test
// binary's etcd with VERSO_TEST_STORE=etcd, otherwise one of the test's
// own), with the access files, and a round-robin proxy in front of them.
func newClusterServers(t *testing.T, n int) ([]*testServer, *roundRobin, *httptest.Server) {
	t.Helper()
	return newWrappedClusterServers(t, n, nil)
}

// newWrappedClusterServers is newClusterServers with each server serving
// wrap(store) instead of the store itself (nil: the store).
func newWrappedClusterServers(t *testing.T, n int, wrap func(*etcd.Store) verso.Store) ([]*testServer, *roundRobin, *httptest.Server) {
	t.Helper()
	endpoints := etcdEndpoints
	if endpoints == nil {
		endpoints = etcdtest.Start(t)
	}
	prefix := fmt.Sprintf("/verso-server-test/cluster-%d/", etcdPrefixes.Add(1))
	users, rules := accessFiles(t)
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	rr := &roundRobin{}
	var servers []*testServer
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := etcd.Open(ctx, &etcd.Options{Endpoints: endpoints, Prefix: prefix, MaxTxnOps: etcdtest.MaxTxnOps, MaxTxnBytes: 4 << 20})
		cancel()
		if err != nil {
			t.Fatalf("open etcd store: %v", err)
		}
		var served verso.Store = st
		if wrap != nil {
			served = wrap(st)
		}
		hs := httptest.NewServer(server.New(served, &server.Options{Auth: a}))
		t.Cleanup(func() {
			hs.Close()
			st.Close()
		})
		u, _ := url.Parse(hs.URL)
		rr.to = append(rr.to, u)
		rr.count = append(rr.count, map[string]int{})
		servers = append(servers, &testServer{Server: hs, store: st})
	}
	proxy := httptest.NewServer(rr)
	t.Cleanup(proxy.Close)
	return servers, rr, proxy
}

// waitHead waits until every server's store has revision rev.
func waitHead(t *testing.T, servers []*testServer, rev verso.Revision) {
	t.Helper()
	for _, s := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.store.Wait(ctx, rev)
		cancel()
		if err != nil {
			t.Fatalf("wait for revision %d: %v", rev, err)
		}
	}
}

// TestSVN_CommitAcrossServers checks that an svn commit whose requests
// alternate between two servers of a cluster is one revision with all of
// its changes: adds of files and directories, edits, deletes, properties
// and copies, from a working copy and URL to URL.
func TestSVN_CommitAcrossServers(t *testing.T) {
	svn := newSVN(t).as("alice")
	servers, rr, proxy := newClusterServers(t, 2)
	st := servers[0].store
	ctx := context.Background()
	var ops []verso.Op
	for _, ns := range []string{"/pub", "/team", "/team/sub"} {
		ops = append(ops, verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(ns)})
	}
	for _, k := range []string{"/pub/k", "/pub/gone", "/team/k", "/team/sub/k"} {
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(k), Value: []byte("v1 " + k + "\n")})
	}
	c, err := st.Commit(ctx, &verso.Txn{Author: "seed", Message: "seed", Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	waitHead(t, servers, c.Rev)

	url := proxy.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", url, wc)
	writeFile(t, filepath.Join(wc, "pub/k"), []byte("edited\n"))
	writeFile(t, filepath.Join(wc, "pub/new"), []byte("new\n"))
	writeFile(t, filepath.Join(wc, "newdir/sub/leaf"), []byte("leaf\n"))
	svn.must(t, wc, "add", "pub/new", "newdir")
	svn.must(t, wc, "propset", "owner", "alice", "pub/k")
	svn.must(t, wc, "propset", "svn:ignore", "*.tmp", "newdir")
	svn.must(t, wc, "rm", "pub/gone")
	svn.must(t, wc, "cp", "team", "team2")
	svn.must(t, wc, "mv", "team2/k", "team2/moved")
	before := []int{rr.writes(0), rr.writes(1)}
	out := svn.must(t, wc, "commit", "-m", "across servers")
	wantContains(t, "svn commit", out, "Committed revision "+revStr(c.Rev+1)+".")
	for i := range before {
		if rr.writes(i) == before[i] {
			t.Errorf("server %d answered none of the commit's PUT, PROPPATCH and DELETE requests: the test proves nothing", i)
		}
	}
	waitHead(t, servers, c.Rev+1)
	if h, _ := st.Head(ctx); h != c.Rev+1 {
		t.Fatalf("head after one svn commit = %d, want %d", h, c.Rev+1)
	}
	rc, err := st.Revision(ctx, c.Rev+1)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Author != "alice" || rc.Message != "across servers" {
		t.Errorf("the commit's author and message = %q, %q", rc.Author, rc.Message)
	}
	for p, want := range map[verso.Path]string{"/pub/k": "edited\n", "/pub/new": "new\n", "/newdir/sub/leaf": "leaf\n",
		"/team2/moved": "v1 /team/k\n", "/team2/sub/k": "v1 /team/sub/k\n"} {
		if e := entryOf(t, servers[1], p); string(e.Value) != want {
			t.Errorf("%s = %q, want %q", p, e.Value, want)
		}
	}
	for _, p := range []verso.Path{"/pub/gone", "/team2/k"} {
		if _, err := st.Get(ctx, p, verso.Head); err == nil {
			t.Errorf("%s is still there after the commit", p)
		}
	}
	if e := entryOf(t, servers[1], "/pub/k"); e.Props["{http://subversion.tigris.org/xmlns/custom/}owner"] != "alice" {
		t.Errorf("/pub/k props = %v", e.Props)
	}
	if e := entryOf(t, servers[1], "/newdir"); !strings.HasPrefix(e.Props["{http://subversion.tigris.org/xmlns/svn/}ignore"], "*.tmp") {
		t.Errorf("/newdir props = %v", e.Props)
	}
	out = svn.must(t, wc, "log", "-v", "-r", revStr(c.Rev+1), url)
	wantContains(t, "svn log -v of the commit", out, "alice", "across servers", "A /newdir/sub/leaf\n", "M /pub/k\n",
		"D /pub/gone\n", "A /team2 (from /team:"+revStr(c.Rev)+")", "A /team2/moved (from /team/k:"+revStr(c.Rev)+")")

	// URL to URL, and one more edit from the working copy
	svn.must(t, dir, "cp", "-m", "url copy", url+"/pub", url+"/pub-copy")
	waitHead(t, servers, c.Rev+2)
	if e := entryOf(t, servers[0], "/pub-copy/new"); string(e.Value) != "new\n" {
		t.Errorf("/pub-copy/new = %q", e.Value)
	}
	svn.must(t, wc, "update")
	writeFile(t, filepath.Join(wc, "pub/k"), []byte("edited\nagain\n"))
	svn.must(t, wc, "propdel", "owner", "pub/k")
	svn.must(t, wc, "commit", "-m", "again")
	waitHead(t, servers, c.Rev+3)
	if e := entryOf(t, servers[1], "/pub/k"); string(e.Value) != "edited\nagain\n" || len(e.Props) != 0 {
		t.Errorf("/pub/k after the third commit = %q %v", e.Value, e.Props)
	}
}

// TestSVN_TxnConcurrentAcrossServers sends the changes of one open svn
// transaction to two servers at once: each server's record of a change is
// appended only after all those before it, so every change is in the
// commit, once. A transaction committed, or aborted, through one server
// is gone on the other.
func TestSVN_TxnConcurrentAcrossServers(t *testing.T) {
	servers, _, _ := newClusterServers(t, 2)
	open := func() string {
		t.Helper()
		code, body, h := servers[0].send(t, "alice", "POST", "/config/!svn/me", strings.NewReader("( create-txn )"), "Content-Type", "application/vnd.svn-skel")
		if code != http.StatusCreated || h.Get("SVN-Txn-Name") == "" {
			t.Fatalf("POST !svn/me = %d %s", code, body)
		}
		return h.Get("SVN-Txn-Name")
	}
	name := open()
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, _ := servers[i%2].send(t, "alice", "MKCOL", fmt.Sprintf("/config/!svn/txr/%s/d%02d", name, i), nil)
			if code != http.StatusCreated {
				t.Errorf("MKCOL d%02d through server %d = %d %s", i, i%2, code, body)
			}
		}()
	}
	wg.Wait()
	merge := func(s *testServer, name string) (int, string) {
		code, body, _ := s.send(t, "alice", "MERGE", "/config", strings.NewReader(
			`<?xml version="1.0" encoding="utf-8"?><D:merge xmlns:D="DAV:"><D:source><D:href>/config/!svn/txn/`+name+`</D:href></D:source><D:no-auto-merge/><D:no-checkout/><D:prop><D:checked-in/></D:prop></D:merge>`))
		return code, body
	}
	if code, body := merge(servers[1], name); code != http.StatusOK {
		t.Fatalf("MERGE through server 1 = %d %s", code, body)
	}
	ctx := context.Background()
	head, _ := servers[1].store.Head(ctx)
	c, err := servers[1].store.Revision(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Changes) != n {
		t.Errorf("the commit made %d changes, want %d: %v", len(c.Changes), n, c.Changes)
	}
	for i := range n {
		entryOf(t, servers[1], verso.MustPath(fmt.Sprintf("/d%02d", i)))
	}
	if code, body, _ := servers[0].send(t, "alice", "MKCOL", "/config/!svn/txr/"+name+"/late", nil); code != http.StatusNotFound {
		t.Errorf("MKCOL in a committed transaction through the other server = %d %s, want 404", code, body)
	}
	if code, body := merge(servers[0], name); code != http.StatusNotFound {
		t.Errorf("a second MERGE through the other server = %d %s, want 404", code, body)
	}

	name = open()
	if code, body, _ := servers[1].send(t, "alice", "MKCOL", "/config/!svn/txr/"+name+"/x", nil); code != http.StatusCreated {
		t.Fatalf("MKCOL = %d %s", code, body)
	}
	if code, body, _ := servers[1].send(t, "alice", "DELETE", "/config/!svn/txn/"+name, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE of the transaction = %d %s", code, body)
	}
	if code, body := merge(servers[0], name); code != http.StatusNotFound {
		t.Errorf("MERGE of an aborted transaction through the other server = %d %s, want 404", code, body)
	}
	if code, body, _ := servers[0].send(t, "bob", "MKCOL", "/config/!svn/txr/"+open()+"/team/y", nil); code != http.StatusNotFound {
		t.Errorf("MKCOL by another user in alice's transaction = %d %s, want 404", code, body)
	}
}
