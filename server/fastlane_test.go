package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// fixedClock makes commit times, and so Last-Modified, the same in two
// stores built by the same commits.
func fixedClock() time.Time { return time.Date(2026, 11, 26, 12, 36, 33, 0, time.UTC) }

// side is one verso server of a differential test, on its own store.
type side struct {
	addr  string
	front *server.Front // nil for plain net/http
	store *bolt.Store
}

// The ways a side serves: net/http alone, or behind a Front whose fast
// lane serves its connections from event loops (on Linux) or a goroutine
// each.
type lane int

const (
	netHTTP lane = iota
	loops
	goroutines
)

func (l lane) String() string { return [...]string{"net/http", "loops", "goroutines"}[l] }

// startSide starts a server on a new store seeded by seed, served as lane
// says.
func startSide(t testing.TB, ln lane, opts *server.Options, seed []*verso.Txn) *side {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), &bolt.Options{Clock: fixedClock})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	for _, txn := range seed {
		if _, err := st.Commit(context.Background(), txn); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	o := server.Options{Clock: fixedClock}
	if opts != nil {
		o = *opts
		o.Clock = fixedClock
	}
	srv := server.New(st, &o)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
	hs.RegisterOnShutdown(srv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sd := &side{addr: l.Addr().String(), store: st}
	if ln != netHTTP {
		sd.front = server.NewFront(srv, hs)
		if ln == goroutines {
			sd.front.Loops = -1
		}
		go sd.front.Serve(l)
	} else {
		go hs.Serve(l)
	}
	t.Cleanup(func() {
		if sd.front != nil {
			sd.front.Close()
		} else {
			hs.Close()
		}
		srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return sd
}

// seedTxns is the tree both sides of a differential test start with.
func seedTxns() []*verso.Txn {
	put := func(p, ct, v string) verso.Op {
		return verso.Op{Kind: verso.OpPut, Path: verso.Path(p), ContentType: ct, Value: []byte(v)}
	}
	return []*verso.Txn{
		{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/app"}, put("/app/name", "", "verso"), put("/app/conf.json", "application/json", `{"a":1}`)}},
		{Ops: []verso.Op{put("/app/name", "text/plain; charset=utf-8", "verso 2"), put("/app/a b", "", "spaced")}},
		{Ops: []verso.Op{put("/healthz", "", "a key named healthz"), put("/metrics", "", "a key named metrics"), put("/empty", "", "")}},
	}
}

// exchange is one write of raw request bytes on a connection, then the
// reading of one response per method in methods.
type exchange struct {
	raw     string
	methods []string
}

// response is what a differential test compares: everything but Date.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// run sends the exchanges on one connection to addr and returns the
// responses, and how the connection ended: "open", "closed" or an error.
func run(t *testing.T, addr string, exs []exchange) ([]response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var out []response
	for _, ex := range exs {
		if _, err := io.WriteString(c, ex.raw); err != nil {
			return out, "write: " + err.Error()
		}
		for _, m := range ex.methods {
			resp, err := http.ReadResponse(br, &http.Request{Method: m})
			if err != nil {
				return out, "read: " + err.Error()
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return out, "read body: " + err.Error()
			}
			resp.Header.Del("Date")
			out = append(out, response{resp.StatusCode, resp.Header, string(b)})
		}
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return out, "open"
	case err == nil:
		return out, "extra bytes"
	}
	return out, "closed" // reset by peer and the like
}

func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: verso.test\r\n" + strings.Join(headers, "") + "\r\n"
}

func head(path string) string {
	return "HEAD " + path + " HTTP/1.1\r\nHost: verso.test\r\n\r\n"
}

func one(raw string, methods ...string) []exchange {
	if len(methods) == 0 {
		methods = []string{"GET"}
	}
	return []exchange{{raw, methods}}
}

// differentialCases are requests whose answers must be the same from the
// front as from net/http alone. They run in order on both sides, so that
// writes leave both stores alike.
func differentialCases(mount string) []struct {
	name string
	exs  []exchange
} {
	m := mount
	propfind := "PROPFIND " + m + "/app/ HTTP/1.1\r\nHost: verso.test\r\nDepth: 1\r\nContent-Length: 0\r\n\r\n"
	return []struct {
		name string
		exs  []exchange
	}{
		{"GET key", one(get(m + "/app/name"))},
		{"GET key default type", one(get(m + "/app/conf.json"))},
		{"GET empty key", one(get(m + "/empty"))},
		{"HEAD key", one(head(m+"/app/name"), "HEAD")},
		{"GET key trailing slash", one(get(m + "/app/name/"))},
		{"GET key percent-encoded", one(get(m + "/app/a%20b"))},
		{"GET encoded slash", one(get(m + "/app%2Fname"))},
		{"GET dot segment", one(get(m + "/app/../app/name"))},
		{"GET empty segment", one(get(m + "/app//name"))},
		{"GET namespace", one(get(m + "/app/"))},
		{"GET namespace no slash", one(get(m + "/app"))},
		{"GET root", one(get(m + "/"))},
		{"GET missing key", one(get(m + "/app/missing"))},
		{"GET missing parent", one(get(m + "/nope/missing"))},
		{"GET with rev", one(get(m + "/app/name?rev=1"))},
		{"GET with empty query", one(get(m + "/app/name?"))},
		{"GET with fragment char", one(get(m + "/app/name#x"))},
		{"GET If-None-Match", one(get(m+"/app/name", "If-None-Match: \"2\"\r\n"))},
		{"GET If-Modified-Since", one(get(m+"/app/name", "If-Modified-Since: Thu, 26 Nov 2026 12:36:33 GMT\r\n"))},
		{"GET Range", one(get(m+"/app/name", "Range: bytes=0-2\r\n"))},
		{"GET Accept json on key", one(get(m+"/app/name", "Accept: application/json\r\n"))},
		{"GET Accept html on namespace", one(get(m+"/app/", "Accept: text/html\r\n"))},
		{"GET bad credentials", one(get(m+"/app/name", "Authorization: Basic Zm9vOmJhcg==\r\n"))},
		{"GET lower-case names", one("GET " + m + "/app/name HTTP/1.1\r\nhost: verso.test\r\nuser-agent: t\r\n\r\n")},
		{"GET no Host", one("GET " + m + "/app/name HTTP/1.1\r\n\r\n")},
		{"GET two Hosts", one("GET " + m + "/app/name HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")},
		{"GET bad Host", one("GET " + m + "/app/name HTTP/1.1\r\nHost: a b\r\n\r\n")},
		{"GET space before colon", one("GET " + m + "/app/name HTTP/1.1\r\nHost : a\r\n\r\n")},
		{"GET folded header", one("GET " + m + "/app/name HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n")},
		{"GET bare LF", one("GET " + m + "/app/name HTTP/1.1\nHost: a\n\n")},
		{"GET absolute form", one("GET http://verso.test" + m + "/app/name HTTP/1.1\r\nHost: verso.test\r\n\r\n")},
		{"GET HTTP/1.0", one("GET " + m + "/app/name HTTP/1.0\r\n\r\n")},
		{"GET HTTP/1.0 keep-alive", one("GET " + m + "/app/name HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")},
		{"GET Connection close", one(get(m+"/app/name", "Connection: close\r\n"))},
		{"GET Connection keep-alive", one(get(m+"/app/name", "Connection: Keep-Alive\r\n"))},
		{"GET with body", one(get(m+"/app/name", "Content-Length: 3\r\n") + "abc")},
		{"GET Expect", one(get(m+"/app/name", "Expect: 100-continue\r\n"))},
		{"GET large header", one(get(m+"/app/name", "X-Big: "+strings.Repeat("x", 6000)+"\r\n"))},
		{"GET huge header", one(get(m+"/app/name", "X-Big: "+strings.Repeat("x", 70000)+"\r\n"))},
		{"GET healthz", one(get("/healthz"))},
		{"GET readyz", one(get("/readyz"))},
		{"GET api", one(get("/api/v1/log?limit=1"))},
		{"HEAD metrics key", one(head(m+"/metrics"), "HEAD")},
		{"GET outside mount", one(get("/elsewhere"))},
		{"OPTIONS", one("OPTIONS "+m+"/app/name HTTP/1.1\r\nHost: verso.test\r\n\r\n", "OPTIONS")},
		{"PROPFIND", one(propfind, "PROPFIND")},
		{"POST", one("POST "+m+"/app/name HTTP/1.1\r\nHost: verso.test\r\nContent-Length: 0\r\n\r\n", "POST")},
		{"unknown method", one("BREW "+m+"/app/name HTTP/1.1\r\nHost: verso.test\r\n\r\n", "BREW")},
		{"garbage", one("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", "GET")},
		{"PUT chunked then GET", []exchange{
			{"PUT " + m + "/app/chunked HTTP/1.1\r\nHost: verso.test\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x-test\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", []string{"PUT"}},
			{get(m + "/app/chunked"), []string{"GET"}},
		}},
		{"PUT Expect 100-continue", []exchange{
			{"PUT " + m + "/app/expect HTTP/1.1\r\nHost: verso.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", nil},
			{"", []string{"PUT"}}, // 100 Continue is read past by ReadResponse
		}},
		{"PUT too large", one("PUT "+m+"/app/big HTTP/1.1\r\nHost: verso.test\r\nContent-Length: 2000000\r\n\r\n", "PUT")},
		{"GET after PUT", one(get(m + "/app/chunked"))},
		{"pipelined", one(get(m+"/app/name")+get(m+"/app/conf.json")+propfind+head(m+"/app/name")+get(m+"/app/missing")+get(m+"/app/name"),
			"GET", "GET", "PROPFIND", "HEAD", "GET", "GET")},
		{"pipelined fast only", one(get(m+"/app/name")+head(m+"/app/name")+get(m+"/app/conf.json"), "GET", "HEAD", "GET")},
		{"keep-alive then PROPFIND", []exchange{
			{get(m + "/app/name"), []string{"GET"}},
			{get(m + "/app/conf.json"), []string{"GET"}},
			{propfind, []string{"PROPFIND"}},
			{get(m + "/app/name"), []string{"GET"}},
		}},
		{"split head", []exchange{
			{"GET " + m + "/app/na", nil},
			{"me HTTP/1.1\r\nHo", nil},
			{"st: verso.test\r\n\r\n", []string{"GET"}},
		}},
		{"MKCOL DELETE", []exchange{
			{"MKCOL " + m + "/tmp HTTP/1.1\r\nHost: verso.test\r\n\r\n", []string{"MKCOL"}},
			{"DELETE " + m + "/tmp HTTP/1.1\r\nHost: verso.test\r\n\r\n", []string{"DELETE"}},
			{get(m + "/tmp"), []string{"GET"}},
		}},
		{"GET deleted", one(get(m + "/tmp/x"))},
	}
}

// TestFront_SameAnswers checks that a front gives, byte for byte but for
// Date, the answers net/http alone gives.
func TestFront_SameAnswers(t *testing.T) {
	forBothSides(t, func(t *testing.T, mount string, plain, fast *side) {
		for _, tc := range differentialCases(mount) {
			n := sameAnswers(t, tc.name, run, plain, fast, tc.exs)
			t.Logf("%s: %d answered by the fast lane", tc.name, n)
		}
	})
}

// forBothSides runs fn at the mounts /config and / with two servers seeded
// alike: plain, net/http alone, and fast, behind a front, once with each
// of the fast lane's ways of serving connections.
func forBothSides(t *testing.T, fn func(t *testing.T, mount string, plain, fast *side)) {
	for _, mount := range []string{"/config", ""} {
		for _, ln := range []lane{loops, goroutines} {
			t.Run("mount="+mount+"/"+ln.String(), func(t *testing.T) {
				opts := &server.Options{Mount: mount}
				if mount == "" {
					opts.Mount = "/"
				}
				fn(t, mount, startSide(t, netHTTP, opts, seedTxns()), startSide(t, ln, opts, seedTxns()))
			})
		}
	}
}

// sameAnswers sends exs to both sides through run and reports where the
// answers, or the state the connection is left in, differ. It returns how
// many of them the fast lane answered.
func sameAnswers[A any](t *testing.T, name string, run func(*testing.T, string, []exchange) (A, string), plain, fast *side, exs []exchange) uint64 {
	t.Helper()
	before := fast.front.Served()
	want, wantEnd := run(t, plain.addr, exs)
	got, gotEnd := run(t, fast.addr, exs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: answers differ (-net/http +front):\n%s", name, diff)
	}
	if gotEnd != wantEnd {
		t.Errorf("%s: connection %s after the front, %s after net/http", name, gotEnd, wantEnd)
	}
	return fast.front.Served() - before
}

// TestFront_Auth checks that the fast lane leaves to net/http what an
// anonymous client may not read.
func TestFront_Auth(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "authz")
	if err := os.WriteFile(rules, []byte("[/]\n* = r\n[/app/conf.json]\n* =\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(&auth.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{Auth: a}
	plain := startSide(t, netHTTP, opts, seedTxns())
	fast := startSide(t, loops, opts, seedTxns())
	tests := []struct {
		raw  string
		fast uint64
	}{
		{get("/config/app/name"), 1},
		{get("/config/app/conf.json"), 0},
		{head("/config/app/conf.json"), 0},
	}
	for _, tc := range tests {
		ex := one(tc.raw, strings.Fields(tc.raw)[0])
		before := fast.front.Served()
		want, _ := run(t, plain.addr, ex)
		got, _ := run(t, fast.addr, ex)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q: answers differ (-net/http +front):\n%s", tc.raw, diff)
		}
		if n := fast.front.Served() - before; n != tc.fast {
			t.Errorf("%q: fast lane answered %d, want %d", tc.raw, n, tc.fast)
		}
	}
}

// TestFront_FastLaneUsed checks that plain reads of keys are answered by
// the fast lane, and nothing else is.
func TestFront_FastLaneUsed(t *testing.T) {
	fast := startSide(t, loops, nil, seedTxns())
	tests := []struct {
		raw  string
		n    int
		want uint64
	}{
		{get("/config/app/name"), 1, 1},
		{head("/config/app/name"), 1, 1},
		{get("/config/app/a%20b"), 1, 1},
		{get("/config/app/name", "User-Agent: t\r\nAccept: */*\r\nConnection: keep-alive\r\n"), 1, 1},
		{get("/config/app/name") + get("/config/app/name") + get("/config/app/name"), 3, 3},
		{get("/config/app/") + get("/config/app/name"), 2, 0}, // net/http owns it after the first
		{get("/config/app/name?rev=1"), 1, 0},
		{get("/config/app/missing"), 1, 0},
		{get("/config/app/name", "If-None-Match: \"2\"\r\n"), 1, 0},
	}
	for _, tc := range tests {
		before := fast.front.Served()
		methods := make([]string, tc.n)
		for i := range methods {
			methods[i] = strings.Fields(tc.raw)[0]
		}
		run(t, fast.addr, one(tc.raw, methods...))
		if got := fast.front.Served() - before; got != tc.want {
			t.Errorf("%q: fast lane answered %d, want %d", tc.raw, got, tc.want)
		}
	}
}

// TestFront_Watch checks that a watch stream works through the front.
func TestFront_Watch(t *testing.T) {
	fast := startSide(t, loops, nil, seedTxns())
	base := "http://" + fast.addr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/watch?path=/app&from=3", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	put, _ := http.NewRequest("PUT", base+"/config/app/watched", strings.NewReader("v"))
	presp, err := http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "/app/watched") {
			return
		}
	}
	t.Fatalf("watch stream ended without the change: %v", sc.Err())
}

// TestFront_Shutdown checks that Shutdown closes idle connections, lets a
// handed-over request finish, and makes Serve return.
func TestFront_Shutdown(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(st, nil)
	hs := &http.Server{Handler: srv, IdleTimeout: time.Minute}
	hs.RegisterOnShutdown(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := server.NewFront(srv, hs)
	served := make(chan error, 1)
	go func() { served <- f.Serve(ln) }()
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	// One idle connection on the fast lane, one on net/http.
	var conns []net.Conn
	for _, raw := range []string{get("/config/k"), get("/config/")} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: %v %v", raw, resp, err)
		}
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v, want http.ErrServerClosed", err)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d still open after Shutdown: %v", i, err)
		}
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Errorf("Dial after Shutdown succeeded")
	}
}

// BenchmarkServeKey compares the cost of a GET of a key on one keep-alive
// connection through net/http alone and through the front's fast lane.
func BenchmarkServeKey(b *testing.B) {
	seed := []*verso.Txn{{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/key", Value: []byte("0123456789abcdefghij")}}}}
	for _, ln := range []lane{netHTTP, loops, goroutines} {
		b.Run(ln.String(), func(b *testing.B) {
			sd := startSide(b, ln, nil, seed)
			c, err := net.Dial("tcp", sd.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte(get("/config/key"))
			br := bufio.NewReader(c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkPutParallel measures durable PUTs of 16 concurrent clients over
// real HTTP (each PUT its own revision, sharing fsyncs by group commit).
func BenchmarkPutParallel(b *testing.B) {
	sd := startSide(b, loops, nil, nil)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.SetParallelism(8) // 16 clients on 2 cores
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprintf("http://%s/config/k%d", sd.addr, n.Add(1))
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPut, key, strings.NewReader("0123456789abcdefghij"))
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				b.Errorf("PUT: %s", resp.Status)
				return
			}
		}
	})
}
