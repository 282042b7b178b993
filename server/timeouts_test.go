package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// The timeouts every lane applies alike (docs/OPERATIONS.md): the header
// timeout from a connection's accept (or a request's first byte) to the
// end of the head, whether the client sends nothing or trickles it; and
// the body's deadline and minimum rate.

// startTimed starts a server served as ln says, with the given header
// timeout and options, behind a Listener of maxConns (0: none), and
// returns its address.
func startTimed(t *testing.T, ln lane, header time.Duration, opts *server.Options, maxConns int) string {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, opts)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: header, IdleTimeout: time.Minute}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = tl
	if maxConns > 0 {
		lim := srv.Listener(tl, maxConns)
		hs.ConnState, hs.ConnContext = lim.ConnState, lim.ConnContext
		l = lim
	}
	var f *server.Front
	if ln != netHTTP {
		f = server.NewFront(srv, hs)
		if ln == goroutines {
			f.Loops = -1
		}
		go f.Serve(l)
	} else {
		go hs.Serve(l)
	}
	t.Cleanup(func() {
		if f != nil {
			f.Close()
		} else {
			hs.Close()
		}
		srv.Close()
		st.Close()
	})
	return tl.Addr().String()
}

// closedAfter sends first on a new connection to addr, then, if trickle,
// one more byte of a header every 100ms, and returns how long after the
// connection was opened the server closed it (at most limit).
func closedAfter(t *testing.T, addr, first string, trickle bool, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if first != "" {
		io.WriteString(c, first)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c.SetReadDeadline(start.Add(limit))
		io.Copy(io.Discard, c) // until the server closes (or limit)
	}()
	for {
		select {
		case <-closed:
			return time.Since(start)
		case <-time.After(100 * time.Millisecond):
			if trickle {
				c.Write([]byte("X"))
			}
		}
	}
}

// TestTimeouts_Header: on every lane, a connection that sends nothing and
// one that trickles its header are closed at the header timeout.
func TestTimeouts_Header(t *testing.T) {
	const header = 2 * time.Second
	for _, ln := range []lane{netHTTP, loops, goroutines} {
		t.Run(ln.String(), func(t *testing.T) {
			t.Parallel()
			addr := startTimed(t, ln, header, nil, 0)
			var wg sync.WaitGroup
			for _, tc := range []struct {
				name, first string
				trickle     bool
			}{
				{"silent", "", false},
				{"trickling first request", "GET /config/k HTTP/1.1\r\nHost: x\r\nX-A: ", true},
				{"trickling after a request", "GET /config/k HTTP/1.1\r\nHost: x\r\n\r\nGET /config/k HTTP/1.1\r\nHost: x\r\nX-A: ", true},
			} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := closedAfter(t, addr, tc.first, tc.trickle, 10*time.Second)
					if d < header-100*time.Millisecond || d > header+1500*time.Millisecond {
						t.Errorf("%s: connection closed after %v, want the header timeout, %v", tc.name, d.Round(time.Millisecond), header)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestTimeouts_Body: on every lane, a request whose body stalls is ended
// once the minimum rate applies, whatever the header timeout.
func TestTimeouts_Body(t *testing.T) {
	opts := &server.Options{BodyTimeout: 5 * time.Second, BodyGrace: time.Second}
	for _, ln := range []lane{netHTTP, loops, goroutines} {
		t.Run(ln.String(), func(t *testing.T) {
			t.Parallel()
			addr := startTimed(t, ln, 30*time.Second, opts, 0)
			var wg sync.WaitGroup
			for _, req := range []string{
				"PUT /config/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nx",      // the fast lane's PUT
				"PROPFIND /config/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<", // net/http's
			} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := closedAfter(t, addr, req, false, 20*time.Second)
					if d < 900*time.Millisecond || d > 3*time.Second {
						t.Errorf("%.8s with a stalled body: closed after %v, want about the grace of 1s", req, d.Round(time.Millisecond))
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestLimits_StalledBodies: many anonymous clients whose bodies stall
// neither hold the slots of Options.MaxRequests nor keep new connections
// out past the connection cap; other requests are answered meanwhile.
func TestLimits_StalledBodies(t *testing.T) {
	const maxRequests, maxConns, stalled = 8, 40, 50
	opts := &server.Options{MaxRequests: maxRequests, BodyTimeout: 10 * time.Second, BodyGrace: 5 * time.Second}
	for _, tc := range []struct {
		ln       lane
		maxConns int
	}{{netHTTP, 0}, {netHTTP, maxConns}, {loops, maxConns}} {
		t.Run(fmt.Sprintf("%v, max-conns %d", tc.ln, tc.maxConns), func(t *testing.T) {
			addr := startTimed(t, tc.ln, 10*time.Second, opts, tc.maxConns)
			stop := stallBodies(addr, stalled)
			time.Sleep(time.Second) // let the stalled bodies fill the caps

			answeredGETs(t, addr, 5, fmt.Sprintf("among %d stalled bodies", stalled))
			stop()
		})
	}
}

// stallBodies keeps n connections to addr open, each sending the head of a
// PROPFIND and one byte of its body of 100, and each opened again whenever
// the server ends it, until the function it returns is called; that
// function returns once they are all closed.
func stallBodies(addr string, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				fmt.Fprintf(c, "PROPFIND /config/ HTTP/1.1\r\nHost: x\r\nDepth: 1\r\nContent-Length: 100\r\n\r\n<")
				go func() { <-ctx.Done(); c.Close() }()
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

// TestLimits_WaitedForRoom: a connection that waits for room under the
// connection cap is safe from eviction for the grace from when it gets in,
// not from when it arrived. At a cap of one, each GET waits for the
// stalled body holding the place to be closed, whose client comes back at
// once: the GET must still be answered, on every lane (the fast lane
// tells the cap what a connection is doing later than net/http does, so
// it needs the whole grace).
func TestLimits_WaitedForRoom(t *testing.T) {
	opts := &server.Options{BodyTimeout: 10 * time.Second, BodyGrace: 5 * time.Second}
	for _, ln := range []lane{netHTTP, loops, goroutines} {
		t.Run(ln.String(), func(t *testing.T) {
			addr := startTimed(t, ln, 10*time.Second, opts, 1)
			stop := stallBodies(addr, 1)
			defer stop()
			time.Sleep(100 * time.Millisecond) // let the stalled body in first
			answeredGETs(t, addr, 5, "behind a stalled body at a cap of one connection")
		})
	}
}

// answeredGETs sends n GETs of /config/ to addr, each on a connection of
// its own, and fails t for each not answered 200 within 3s; during says
// what else is going on.
func answeredGETs(t *testing.T, addr string, n int, during string) {
	t.Helper()
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 3 * time.Second}
	for i := range n {
		resp, err := cl.Get("http://" + addr + "/config/")
		if err != nil {
			t.Errorf("GET %d %s: %v", i, during, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %d %s = %d, want 200", i, during, resp.StatusCode)
		}
	}
}
