package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// TestWatch_WaitingWatchersHoldNoGoroutine: watch streams and long-polls
// that wait are parked, so many of them add no goroutine each, and one
// commit still reaches every one of them.
func TestWatch_WaitingWatchersHoldNoGoroutine(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 201, "PUT", "/config/app/k", "0")
	head := ts.head(t)
	addr := strings.TrimPrefix(ts.URL, "http://")
	open := func(req string) (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "%s HTTP/1.1\r\nHost: verso\r\n\r\n", req)
		return c, bufio.NewReader(c)
	}
	// The server's goroutines settle after the first watcher of each kind.
	open("GET /api/v1/watch?path=/app")
	open(fmt.Sprintf("GET /config/app/k?index=%d&wait=1m", head))
	ts.waitWatchers(t, 2)
	runtime.GC()
	before := runtime.NumGoroutine()

	const n = 40
	var streams, polls []*bufio.Reader
	for range n {
		_, rd := open("GET /api/v1/watch?path=/app")
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			if strings.HasPrefix(line, "id: ") {
				break
			}
		}
		streams = append(streams, rd)
		_, rd = open(fmt.Sprintf("GET /config/app/k?index=%d&wait=1m", head))
		polls = append(polls, rd)
	}
	ts.waitWatchers(t, 2*n+2)
	if grown := runtime.NumGoroutine() - before; grown > n/4 {
		t.Fatalf("%d waiting watchers added %d goroutines, want none each", 2*n, grown)
	}

	ts.must(t, 204, "PUT", "/config/app/k", "1")
	for i, rd := range streams {
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d: %v before the commit's event", i, err)
			}
			if line == "event: commit\n" {
				break
			}
		}
	}
	for i, rd := range polls {
		status, err := rd.ReadString('\n')
		if err != nil || !strings.Contains(status, " 200 ") {
			t.Fatalf("long-poll %d answered %q: %v", i, status, err)
		}
		var body strings.Builder
		for {
			line, err := rd.ReadString('\n')
			body.WriteString(line)
			if err != nil {
				break
			}
		}
		if !strings.Contains(body.String(), "Connection: close") || !strings.HasSuffix(body.String(), "\r\n\r\n1") {
			t.Fatalf("long-poll %d answered %q", i, body.String())
		}
	}
}

// waitWatchers waits until /metrics counts n watchers.
func (ts *testServer) waitWatchers(t *testing.T, n int) {
	t.Helper()
	line := fmt.Sprintf("verso_watchers %d\n", n)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if body, _ := ts.must(t, 200, "GET", "/metrics", ""); strings.Contains(body, line) {
			return
		}
	}
	t.Fatalf("/metrics never said %q", strings.TrimSpace(line))
}

// TestWatch_HTTP2: over HTTP/2 a connection cannot be taken over, so a
// waiting stream or long-poll keeps its request's goroutine, and still gets
// every commit through the same hub.
func TestWatch_HTTP2(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, nil)
	hs := httptest.NewUnstartedServer(srv)
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(func() { srv.Close(); hs.Close(); st.Close() })
	ts := &testServer{Server: hs, store: st}
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 201, "PUT", "/config/app/k", "0")
	head := ts.head(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/api/v1/watch?path=/app", nil)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("watch over HTTP/%d, want 2", resp.ProtoMajor)
	}
	events := make(chan sseEvent, 16)
	go readSSE(resp.Body, events)
	poll := make(chan string, 1)
	go func() {
		resp, err := hs.Client().Get(fmt.Sprintf("%s/config/app/k?index=%d&wait=1m", hs.URL, head))
		if err != nil {
			poll <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		poll <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	ts.waitWatchers(t, 2)
	ts.must(t, 204, "PUT", "/config/app/k", "1")
	for ev := range events {
		if ev.Event == "commit" {
			break
		}
	}
	select {
	case got := <-poll:
		if got != "200 1" {
			t.Errorf("long-poll over HTTP/2 answered %q, want 200 1", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long-poll over HTTP/2 not answered after the commit")
	}
	cancel()
	ts.waitWatchers(t, 0)
}

// TestLongPoll_AccessLogHasTheAnswer: a long-poll that waited is logged
// with the answer it got when the wait ended, not when it began to wait.
func TestLongPoll_AccessLogHasTheAnswer(t *testing.T) {
	var log syncBuffer
	ts, _ := newWatchServer(t, &server.Options{AccessLog: &log})
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 201, "PUT", "/config/app/k", "0")
	head := ts.head(t)
	poll := make(chan int, 1)
	uri := fmt.Sprintf("/config/app/k?index=%d&wait=1m", head)
	go func() {
		resp, err := http.Get(ts.URL + uri)
		if err != nil {
			poll <- 0
			return
		}
		resp.Body.Close()
		poll <- resp.StatusCode
	}()
	ts.waitWatchers(t, 1)
	ts.must(t, 204, "DELETE", "/config/app/k", "")
	if code := <-poll; code != 404 {
		t.Fatalf("long-poll of a deleted key answered %d, want 404", code)
	}
	want := fmt.Sprintf("\"GET %s HTTP/1.1\" 404 ", uri)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("access log has no %q:\n%s", want, log.String())
		}
	}
	if n := strings.Count(log.String(), "GET "+uri); n != 1 {
		t.Errorf("the long-poll is logged %d times, want once:\n%s", n, log.String())
	}
}

// TestWatch_WaitingWatchersHoldLittleMemory: a parked watch stream or
// long-poll holds a small struct and its socket, not its request: the Go
// heap grows by at most 1.5 KiB a waiting watcher, both ends of its
// loopback connection counted (the client's end is about 0.3 KiB of it).
// Identical long-polls share what their answer depends on.
func TestWatch_WaitingWatchersHoldLittleMemory(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 201, "PUT", "/config/app/k", "0")
	head := ts.head(t)
	addr := strings.TrimPrefix(ts.URL, "http://")
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	open := func(req string) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "%s HTTP/1.1\r\nHost: verso\r\nUser-Agent: fleet/1.0\r\n\r\n", req)
		conns = append(conns, c)
	}
	stream := "GET /api/v1/watch?path=/app"
	poll := fmt.Sprintf("GET /config/app/k?index=%d&wait=5m", head)
	// The hub and the server's pools settle after the first watchers.
	for range 4 {
		open(stream)
		open(poll)
	}
	ts.waitWatchers(t, 8)
	heap := func() uint64 {
		var m runtime.MemStats
		for range 2 {
			runtime.GC()
		}
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const n = 400
	for _, c := range []struct{ name, req string }{{"stream", stream}, {"long-poll", poll}} {
		before := heap()
		for range n {
			open(c.req)
		}
		ts.waitWatchers(t, len(conns))
		time.Sleep(100 * time.Millisecond) // the handlers' goroutines end
		per := (int64(heap()) - int64(before)) / n
		t.Logf("%s: %d bytes of heap each", c.name, per)
		if per > 1536 {
			t.Errorf("a waiting %s holds %d bytes of heap, want at most 1536", c.name, per)
		}
	}
}
