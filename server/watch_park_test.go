package server_test

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
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
