package server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// TestFront_LoopServes checks that on Linux the fast lane's reads are
// answered by its loop, and that a connection leaves the loop when it
// sends a PUT.
func TestFront_LoopServes(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	srv := New(st, nil)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := NewFront(srv, &http.Server{Handler: srv})
	f.Loops = 2
	go f.Serve(ln)
	defer f.Close()

	inLoops := func() int {
		n := 0
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, l := range f.loops {
			l.mu.Lock()
			n += len(l.conns)
			l.mu.Unlock()
		}
		return n
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(req, method string, want int) {
		t.Helper()
		io.WriteString(c, req)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d", method, resp.StatusCode, want)
		}
	}
	ask("GET /config/k HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200)
	f.mu.Lock()
	nloops := len(f.loops)
	f.mu.Unlock()
	if nloops != 2 || inLoops() != 1 || f.Served() != 1 {
		t.Fatalf("%d loops serving %d connections, %d answers; want 2 loops serving 1, 1 answer", nloops, inLoops(), f.Served())
	}
	ask("PUT /config/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nw", "PUT", 204)
	if n := inLoops(); n != 0 {
		t.Fatalf("%d connections in loops after a PUT, want 0", n)
	}
	ask("GET /config/k HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200)
	if got := f.Served(); got != 3 {
		t.Errorf("Served = %d, want 3 (the fast lane's GET, PUT and GET)", got)
	}
}
