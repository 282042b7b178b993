package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/internal/fastlane"
	"github.com/verso-config/verso/server"
)

// startLoops starts a Front with n loops (-1: none) on a bolt store
// holding ops, and returns it, its address and the store; all is closed
// when the test ends.
func startLoops(t *testing.T, n int, ops []verso.Op) (*server.Front, string, *bolt.Store) {
	t.Helper()
	return startLoopsWith(t, n, fastlane.Tricks{}, ops)
}

// startLoopsWith is startLoops with some of the loops' tricks off.
func startLoopsWith(t *testing.T, n int, tricks fastlane.Tricks, ops []verso.Op) (*server.Front, string, *bolt.Store) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, nil)
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := server.NewFront(srv, &http.Server{Handler: srv})
	f.Loops = n
	f.Tricks = tricks
	go f.Serve(ln)
	t.Cleanup(func() { f.Close() })
	return f, ln.Addr().String(), st
}

// TestFront_LoopServes checks that on Linux the fast lane's reads are
// answered by its loop, and that a connection leaves the loop when it
// sends a PUT.
func TestFront_LoopServes(t *testing.T) {
	f, addr, _ := startLoops(t, 2, []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("v")}})

	inLoops := func() int {
		n := 0
		for _, k := range f.LoopConns() {
			n += k
		}
		return n
	}
	c, err := net.Dial("tcp", addr)
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
	nloops := len(f.LoopConns())
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

// TestFront_LoopBatches has many connections' requests arrive while their
// loop is held, so that the loop finds them ready together and answers
// them in one round: every connection must get its own answers, in order,
// whatever else was ready with it (pipelined reads, HEAD, a PUT and a 404,
// which both leave the loop).
func TestFront_LoopBatches(t *testing.T) {
	for _, tricks := range []fastlane.Tricks{{}, {NoLockThread: true}} {
		t.Run(fmt.Sprintf("%+v", tricks), func(t *testing.T) { testLoopBatches(t, tricks) })
	}
}

func testLoopBatches(t *testing.T, tricks fastlane.Tricks) {
	const conns = 40
	key := func(i int) string { return fmt.Sprintf("/k%02d", i%conns) }
	value := func(i int) string { return strings.Repeat(fmt.Sprint(i%conns), 1+i%conns) }
	var ops []verso.Op
	for i := range conns {
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.Path(key(i)), Value: []byte(value(i))})
	}
	f, addr, _ := startLoopsWith(t, 1, tricks, ops)

	cs := make([]net.Conn, conns)
	brs := make([]*bufio.Reader, conns)
	for i := range conns {
		var err error
		if cs[i], err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		defer cs[i].Close()
		cs[i].SetDeadline(time.Now().Add(20 * time.Second))
		brs[i] = bufio.NewReader(cs[i])
		fmt.Fprintf(cs[i], "GET /config%s HTTP/1.1\r\nHost: x\r\n\r\n", key(i)) // into the loop
		expectAnswer(t, brs[i], "GET", 200, value(i))
	}
	for round := range 3 {
		resume := f.PauseLoop(0) // the loop waits at its first connection, while the rest arrive
		for i, c := range cs {
			switch i % 5 {
			case 0:
				fmt.Fprintf(c, "GET /config%s HTTP/1.1\r\nHost: x\r\n\r\nGET /config%s HTTP/1.1\r\nHost: x\r\n\r\n", key(i), key(i+1))
			case 1, 3:
				fmt.Fprintf(c, "GET /config%s HTTP/1.1\r\nHost: x\r\n\r\n", key(i))
			case 2:
				fmt.Fprintf(c, "HEAD /config%s HTTP/1.1\r\nHost: x\r\n\r\n", key(i))
			case 4:
				if round == 0 {
					fmt.Fprintf(c, "PUT /config%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", key(i), len(value(i)), value(i))
				} else {
					fmt.Fprintf(c, "GET /config/nowhere%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
		resume()
		for i := range cs {
			switch i % 5 {
			case 0:
				expectAnswer(t, brs[i], "GET", 200, value(i))
				expectAnswer(t, brs[i], "GET", 200, value(i+1))
			case 1, 3:
				expectAnswer(t, brs[i], "GET", 200, value(i))
			case 2:
				expectAnswer(t, brs[i], "HEAD", 200, "")
			case 4:
				if round == 0 {
					expectAnswer(t, brs[i], "PUT", 204, "")
				} else {
					expectAnswer(t, brs[i], "GET", 404, "")
				}
			}
		}
	}
}

// TestFront_PutKeepsItsPath checks that the key a PUT commits is its own
// string: the fast lane makes the keys of reads without copying them from
// the bytes read (pathOf), and the next request on the connection reuses
// those bytes, while the store keeps the commit's paths (for watchers).
func TestFront_PutKeepsItsPath(t *testing.T) {
	for _, loops := range []int{1, -1} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			_, addr, st := startLoops(t, loops, []verso.Op{{Kind: verso.OpPut, Path: "/bbbb2", Value: []byte("b")}})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /config/bbbb2 HTTP/1.1\r\nHost: x\r\n\r\n")
			expectAnswer(t, br, "GET", 200, "b")
			io.WriteString(c, "PUT /config/aaaa1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na")
			expectAnswer(t, br, "PUT", 201, "")
			for range 3 {
				io.WriteString(c, "GET /config/bbbb2 HTTP/1.1\r\nHost: x\r\n\r\n")
				expectAnswer(t, br, "GET", 200, "b")
			}
			commit, err := st.Revision(context.Background(), 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(commit.Changes) != 1 || commit.Changes[0].Path != "/aaaa1" {
				t.Fatalf("revision 2 changed %+v, want /aaaa1", commit.Changes)
			}
			if e, err := st.Get(context.Background(), "/aaaa1", verso.Head); err != nil || string(e.Value) != "a" {
				t.Fatalf("Get /aaaa1: %v", err)
			}
		})
	}
}

// expectAnswer reads one answer and checks its status and, when want is
// not "", its body.
func expectAnswer(t *testing.T, br *bufio.Reader, method string, code int, want string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", method, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: reading the body: %v", method, err)
	}
	if resp.StatusCode != code || (want != "" && string(b) != want) {
		t.Fatalf("%s = %d %.40q, want %d %.40q", method, resp.StatusCode, b, code, want)
	}
}
