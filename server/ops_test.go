package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServer_Metrics(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 201, "PUT", "/config/app/k", "v")
	ts.must(t, 200, "GET", "/config/app/k", "")
	ts.must(t, 404, "GET", "/config/app/missing", "")

	body, h := ts.must(t, 200, "GET", "/metrics", "")
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics Content-Type = %q, want text/plain", ct)
	}
	for _, want := range []string{
		`verso_http_requests_total{code="201",method="MKCOL"} 1`,
		`verso_http_requests_total{code="201",method="PUT"} 1`,
		`verso_http_requests_total{code="200",method="GET"} 1`,
		`verso_http_requests_total{code="404",method="GET"} 1`,
		`verso_http_request_duration_seconds_bucket{code="200",method="GET",le="+Inf"} 1`,
		"verso_commits_total 2",
		"verso_head_revision 2",
		"verso_store_writable 1",
		"verso_watchers 0",
		"verso_http_requests_in_flight 1", // this request
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics has no %q", want)
		}
	}
	if etcdEndpoints != nil {
		return // the etcd store has no file whose size to report
	}
	if m := regexp.MustCompile(`(?m)^verso_store_size_bytes (\S+)$`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("GET /metrics: verso_store_size_bytes = %v, want a size above 0", m)
	}
}

func TestServer_MetricsMethodLabel(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, "BREW", "/config/", nil)
	body, _ := ts.must(t, 200, "GET", "/metrics", "")
	if !strings.Contains(body, `method="OTHER"`) || strings.Contains(body, "BREW") {
		t.Errorf("an unknown method should count as OTHER; /metrics:\n%s", grepLines(body, "verso_http_requests_total"))
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestServer_AccessLog(t *testing.T) {
	var log syncBuffer
	ts := newTestServer(t, &server.Options{AccessLog: &log})
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 200, "GET", "/config/app/", "")
	ts.must(t, 404, "GET", "/config/app/k?rev=1", "")
	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(\S+ \S+ HTTP/1\.1)" (\d{3}) (\d+|-) "-" "Go-http-client/1\.1"$`)
	var got []string
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("access log line %q is not in the combined format", l)
			continue
		}
		got = append(got, m[1]+" "+m[2])
	}
	want := []string{"MKCOL /config/app HTTP/1.1 201", "GET /config/app/ HTTP/1.1 200", "GET /config/app/k?rev=1 HTTP/1.1 404"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
}

func TestServer_Readyz(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(server.New(st, nil))
	defer hs.Close()
	ts := &testServer{Server: hs, store: st}
	ts.must(t, 200, "GET", "/readyz", "")
	ts.must(t, 200, "GET", "/healthz", "")
	st.Close()
	ts.must(t, 503, "GET", "/readyz", "")
	ts.must(t, 200, "GET", "/healthz", "") // alive, though not ready
	body, _ := ts.must(t, 200, "GET", "/metrics", "")
	if !strings.Contains(body, "verso_store_writable 0") {
		t.Errorf("/metrics of a closed store: want verso_store_writable 0:\n%s", grepLines(body, "verso_store"))
	}
}

func TestServer_Backup(t *testing.T) {
	ts := newTestServer(t, nil)
	if etcdEndpoints != nil {
		// The etcd store has no backup over HTTP: etcd's own snapshots
		// back it up (docs/OPERATIONS.md). The answer says so.
		body, _ := ts.must(t, http.StatusNotImplemented, "GET", "/api/v1/backup", "")
		if !strings.Contains(body, "backup tools of its backend") {
			t.Errorf("GET /api/v1/backup on etcd = 501 %q, want it to name the backend's backup tools", body)
		}
		return
	}
	ts.must(t, 201, "MKCOL", "/config/app", "")
	for i := range 5 {
		ts.do(t, "PUT", "/config/app/k", strings.NewReader(fmt.Sprint("v", i)))
	}
	ts.must(t, 204, "DELETE", "/config/app/k", "")

	body, h := ts.must(t, 200, "GET", "/api/v1/backup", "")
	if ct := h.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("backup Content-Type = %q", ct)
	}
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("backup Content-Disposition = %q", cd)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := bolt.CheckFile(path, 0); err != nil {
		t.Fatalf("CheckFile(backup) = %v", err)
	}
	b, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for rev := verso.Revision(1); rev <= 7; rev++ {
		want, _ := ts.store.Revision(ctx, rev)
		got, err := b.Revision(ctx, rev)
		if err != nil {
			t.Fatalf("backup Revision(%d): %v", rev, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("backup Revision(%d) (-store +backup):\n%s", rev, diff)
		}
	}
	if head, _ := b.Head(ctx); head != 7 {
		t.Errorf("backup head = %d, want 7", head)
	}

	ts.must(t, 405, "POST", "/api/v1/backup", "")
}

// limitedServer is a test server whose listener is capped by
// server.Listener, with the given header timeout.
func limitedServer(t *testing.T, opts *server.Options, maxConns int, headerTimeout time.Duration) (*httptest.Server, *server.Server) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, opts)
	hs := httptest.NewUnstartedServer(srv)
	ln := srv.Listener(hs.Listener, maxConns)
	hs.Listener = ln
	hs.Config.ConnState = ln.ConnState
	hs.Config.ConnContext = ln.ConnContext
	hs.Config.ReadHeaderTimeout = headerTimeout
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		st.Close()
	})
	return hs, srv
}

// slowBody is a request body that sends its first 100 KiB, more than the
// server reads before a request takes its slot, then waits until
// released.
type slowBody struct {
	sent    int
	release chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.sent < 100<<10 {
		n := min(len(p), 100<<10-b.sent)
		for i := range n {
			p[i] = 'x'
		}
		b.sent += n
		return n, nil
	}
	<-b.release
	return 0, io.EOF
}

// startSlowPut starts a PUT whose body hangs until release is closed, and
// returns when the server is answering it.
func startSlowPut(t *testing.T, url string, release chan struct{}) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PUT", url, &slowBody{release: release})
		req.ContentLength = -1
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
}

// waitInFlight waits until the server reports n requests in flight (the
// one asking included).
func waitInFlight(t *testing.T, url string, n int) {
	t.Helper()
	want := fmt.Sprintf("verso_http_requests_in_flight %d\n", n)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), want) {
			return
		}
	}
	t.Fatalf("the server never had %d requests in flight", n)
}

func TestServer_MaxRequests(t *testing.T) {
	hs, _ := limitedServer(t, &server.Options{MaxRequests: 1}, 0, time.Second)
	http.Post(hs.URL+"/config/ns", "", nil)
	req, _ := http.NewRequest("MKCOL", hs.URL+"/config/ns", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("MKCOL /config/ns: %v %v", resp, err)
	}
	release := make(chan struct{})
	done := startSlowPut(t, hs.URL+"/config/ns/k", release)
	waitInFlight(t, hs.URL, 2) // the PUT and the /metrics asking

	resp, err := http.Get(hs.URL + "/config/ns/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("GET while the cap is reached = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(hs.URL + probe)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s while the cap is reached = %v %v, want 200", probe, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	close(release)
	if code := <-done; code != 201 {
		t.Errorf("slow PUT = %d, want 201", code)
	}
	resp, err = http.Get(hs.URL + "/config/ns/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET after the slow PUT ended = %v %v, want 200", resp, err)
	}
	resp.Body.Close()
}

func TestListener_MaxConns(t *testing.T) {
	hs, _ := limitedServer(t, nil, 2, time.Second)
	req, _ := http.NewRequest("MKCOL", hs.URL+"/config/ns", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("MKCOL /config/ns: %v %v", resp, err)
	}
	http.DefaultClient.CloseIdleConnections()

	// Two connections answering requests fill the cap: a third waits.
	release := make(chan struct{})
	done1 := startSlowPut(t, hs.URL+"/config/ns/a", release)
	done2 := startSlowPut(t, hs.URL+"/config/ns/b", release)
	time.Sleep(300 * time.Millisecond)
	third := make(chan int, 1)
	go func() {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(hs.URL + "/healthz")
		if err != nil {
			third <- 0
			return
		}
		resp.Body.Close()
		third <- resp.StatusCode
	}()
	select {
	case code := <-third:
		t.Fatalf("a third connection was answered (%d) while two requests held the cap of 2", code)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if c1, c2 := <-done1, <-done2; c1 != 201 || c2 != 201 {
		t.Errorf("slow PUTs = %d, %d, want 201", c1, c2)
	}
	select {
	case code := <-third:
		if code != 200 {
			t.Errorf("third connection = %d, want 200", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not answered after the others ended")
	}
}

// TestListener_Slowloris: a client that opens many connections and
// trickles header bytes into each must not keep others out.
func TestListener_Slowloris(t *testing.T) {
	const maxConns = 16
	hs, _ := limitedServer(t, nil, maxConns, 2*time.Second)
	addr := hs.Listener.Addr().String()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened, cut := 0, 0
	for range 3 * maxConns {
		wg.Add(1)
		go func() { // one attacker connection, reopened whenever it is cut
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				mu.Lock()
				opened++
				mu.Unlock()
				fmt.Fprintf(c, "GET /config/ HTTP/1.1\r\nHost: x\r\n")
				for ctx.Err() == nil {
					if _, err := c.Write([]byte("X")); err != nil {
						break
					}
					c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
						break // closed by the server
					}
				}
				c.Close()
				mu.Lock()
				cut++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // let the attack fill the cap

	for i := range 6 {
		tr := &http.Transport{DisableKeepAlives: true}
		cl := &http.Client{Transport: tr, Timeout: 3 * time.Second}
		start := time.Now()
		resp, err := cl.Get(hs.URL + "/healthz")
		if err != nil {
			t.Errorf("request %d during the attack: %v", i, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("request %d during the attack = %d, want 200", i, resp.StatusCode)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("request %d during the attack took %v", i, d)
		}
	}
	stop()
	wg.Wait()
	t.Logf("attacker opened %d connections, %d were cut", opened, cut)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestServer_ReadHeaderTimeout: a connection that never finishes its
// header is closed at the header timeout.
func TestServer_ReadHeaderTimeout(t *testing.T) {
	hs, _ := limitedServer(t, nil, 0, 300*time.Millisecond)
	c, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /config/ HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	_, err = br.ReadString('\n')
	for err == nil {
		_, err = br.ReadString('\n')
	}
	if d := time.Since(start); d > 3*time.Second || isTimeout(err) {
		t.Errorf("connection with an unfinished header still open after %v (%v)", d, err)
	}
}

// TestListener_TooLargeBody: behind the Listener, a client sending a body
// past the limit reads the 413, not a reset.
func TestListener_TooLargeBody(t *testing.T) {
	hs, _ := limitedServer(t, &server.Options{MaxValueSize: 10}, 4, time.Second)
	for range 3 {
		req, _ := http.NewRequest("PUT", hs.URL+"/config/big", strings.NewReader(strings.Repeat("x", 4<<20)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("PUT of 4MiB: %v, want a 413", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("PUT of 4MiB = %d, want 413", resp.StatusCode)
		}
	}
}

func TestServer_MetricsWatchers(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/watch?path=/", nil)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/watch: %v", err)
	}
	defer resp.Body.Close()
	want := func(n int) {
		t.Helper()
		line := fmt.Sprintf("verso_watchers %d\n", n)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			body, _ := ts.must(t, 200, "GET", "/metrics", "")
			if strings.Contains(body, line) {
				return
			}
		}
		t.Fatalf("/metrics never said %q", strings.TrimSpace(line))
	}
	want(1)
	cancel()
	want(0)
}
