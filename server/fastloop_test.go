package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// The fast lane's connections through its event loops (internal/fastlane/loop_linux.go;
// elsewhere the same tests run on a goroutine per connection): each way a
// connection leaves its loop, and each way one ends.

// startLoopFront starts a Front with one loop on a store holding /big (a
// value larger than a socket takes at once) and /small, behind a
// connection limiter of max connections (0: none), and returns its
// address.
func startLoopFront(t *testing.T, max int, idle time.Duration) string {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20/16)
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpPut, Path: "/big", Value: big},
		{Kind: verso.OpPut, Path: "/small", Value: []byte("v")},
		{Kind: verso.OpMkcol, Path: "/ns"},
	}}); err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, nil)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idle}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = ln
	if max > 0 {
		lim := srv.Listener(ln, max)
		hs.ConnState = lim.ConnState
		l = lim
	}
	f := server.NewFront(srv, hs)
	f.Loops = 1
	go f.Serve(l)
	t.Cleanup(func() {
		f.Close()
		srv.Close()
		st.Close()
	})
	return ln.Addr().String()
}

// readAnswer reads one answer from br and returns its status and body.
func readAnswer(t *testing.T, br *bufio.Reader, method string) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp.StatusCode, string(b)
}

// TestFront_LoopLeaves checks that a connection goes on being served, in
// order, when it leaves its loop: for a request split across reads, a PUT,
// a request for net/http, and answers larger than the socket takes at
// once.
func TestFront_LoopLeaves(t *testing.T) {
	addr := startLoopFront(t, 0, time.Minute)
	big := strings.Repeat("0123456789abcdef", 1<<20/16)
	for _, tc := range []struct {
		name  string
		parts []string // written in turn, with a pause between
		want  []string // method and body of each answer, in order
	}{
		{"split head", []string{get("/config/small"), "GET /config/sm", "all HTTP/1.1\r\nHost: x\r\n\r\n", get("/config/small")},
			[]string{"GET v", "GET v", "GET v"}},
		{"put", []string{get("/config/small"), put("/config/ns/k", "w"), get("/config/ns/k")},
			[]string{"GET v", "PUT ", "GET w"}},
		{"pipelined put", []string{get("/config/small") + put("/config/ns/k2", "x") + get("/config/ns/k2")},
			[]string{"GET v", "PUT ", "GET x"}},
		{"net/http", []string{get("/config/small"), get("/config/small?rev=1"), get("/config/small")},
			[]string{"GET v", "GET v", "GET v"}},
		{"big answers", []string{strings.Repeat(get("/config/big"), 8) + get("/config/small")},
			[]string{"GET " + big, "GET " + big, "GET " + big, "GET " + big, "GET " + big, "GET " + big, "GET " + big, "GET " + big, "GET v"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, p := range tc.parts {
				if _, err := io.WriteString(c, p); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond) // each part in its own read
			}
			br := bufio.NewReader(c)
			for i, w := range tc.want {
				method, body, _ := strings.Cut(w, " ")
				code, got := readAnswer(t, br, method)
				if code/100 != 2 || got != body {
					t.Fatalf("answer %d: %d, %d bytes %.20q, want 2xx, %d bytes %.20q", i, code, len(got), got, len(body), body)
				}
			}
		})
	}
}

// dialSmall opens a connection to addr and reads /config/small on it.
func dialSmall(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, get("/config/small"))
	br := bufio.NewReader(c)
	if code, body := readAnswer(t, br, "GET"); code != 200 || body != "v" {
		t.Fatalf("GET /config/small = %d %q", code, body)
	}
	return c, br
}

// TestFront_LoopIdleTimeout checks that a loop closes a connection idle
// for longer than the idle timeout.
func TestFront_LoopIdleTimeout(t *testing.T) {
	addr := startLoopFront(t, 0, 500*time.Millisecond)
	c, br := dialSmall(t, addr)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read on an idle connection: %v, want EOF", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("idle connection closed after %v, want about 0.5 to 1.5 s", d)
	}
}

// TestFront_LoopEvicted checks that a connection limiter can close a
// loop's idle connection to make room for a new one, which is then
// served.
func TestFront_LoopEvicted(t *testing.T) {
	addr := startLoopFront(t, 1, time.Minute)
	first, br1 := dialSmall(t, addr)
	time.Sleep(300 * time.Millisecond) // past the limiter's grace
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(second, get("/config/small"))
	if code, body := readAnswer(t, bufio.NewReader(second), "GET"); code != 200 || body != "v" {
		t.Fatalf("second GET = %d %q", code, body)
	}
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br1.ReadByte(); err == nil {
		t.Fatalf("the first connection still open after the limiter made room")
	}
}

// TestFront_LoopStress has many clients at once read, write, pipeline,
// split their requests and hang up mid-request, behind a connection
// limiter that keeps closing some of them, and checks every answer that
// arrives; then the front must close with nothing left behind.
func TestFront_LoopStress(t *testing.T) {
	addr := startLoopFront(t, 12, time.Minute)
	deadline := time.Now().Add(2 * time.Second)
	if testing.Short() {
		deadline = time.Now().Add(300 * time.Millisecond)
	}
	errs := make(chan error, 24)
	for w := range 24 {
		go func() {
			var err error
			for i := 0; err == nil && time.Now().Before(deadline); i++ {
				err = stressOnce(addr, w, i)
			}
			errs <- err
		}()
	}
	for range 24 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// stressOnce makes one connection do the i'th of a few things; a
// connection the limiter closes is not an error, a wrong answer is.
func stressOnce(addr string, w, i int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil // the limiter's queue may be full
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	key := "/config/ns/w" + itoa(w)
	var send string
	var want []string // method and status of each answer
	switch i % 5 {
	case 0:
		send = strings.Repeat(get("/config/small"), 3)
		want = []string{"GET 200", "GET 200", "GET 200"}
	case 1:
		send = put(key, "x"+itoa(i)) + get(key)
		want = []string{"PUT 2", "GET 200"}
	case 2:
		send = get("/config/small") + head("/config/small") + get("/config/missing")
		want = []string{"GET 200", "HEAD 200", "GET 404"}
	case 3:
		io.WriteString(c, "GET /config/sm") // and hang up
		return nil
	case 4:
		send = get("/config/small") + "PROPFIND /config/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\n\r\n"
		want = []string{"GET 200", "PROPFIND 207"}
	}
	if _, err := io.WriteString(c, send); err != nil {
		return nil
	}
	br := bufio.NewReader(c)
	for n, wnt := range want {
		method, status, _ := strings.Cut(wnt, " ")
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if n == 0 && errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
				return nil // closed by the limiter to make room
			}
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(strconv.Itoa(resp.StatusCode), status) {
			return fmt.Errorf("%s %s: %d, want %s", method, send, resp.StatusCode, status)
		}
	}
	return nil
}
