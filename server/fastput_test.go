package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/server"
)

// put is a raw PUT request of body to path, with Content-Length and
// headers.
func put(path, body string, headers ...string) string {
	return "PUT " + path + " HTTP/1.1\r\nHost: verso.test\r\n" + strings.Join(headers, "") +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

var (
	dateLine  = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)
	lockToken = regexp.MustCompile(`urn:uuid:[0-9a-f-]{36}`) // random, and as long in both
)

// runRaw is run, but it returns everything read from the connection, byte
// for byte but for the Date lines, so that the order of the headers is
// compared too (and but for lock tokens, which are random).
func runRaw(t *testing.T, addr string, exs []exchange) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	end := "open"
	for _, ex := range exs {
		if _, err := io.WriteString(c, ex.raw); err != nil {
			end = "write: " + err.Error()
			break
		}
		for _, m := range ex.methods {
			resp, err := http.ReadResponse(br, &http.Request{Method: m})
			if err != nil {
				end = "read: " + err.Error()
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if end != "open" {
			break
		}
	}
	if end == "open" {
		c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		_, err = br.ReadByte()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
		case err == nil:
			end = "extra bytes"
		default:
			end = "closed"
		}
	}
	out := dateLine.ReplaceAllString(raw.String(), "Date: -\r\n")
	return lockToken.ReplaceAllString(out, "urn:uuid:-"), end
}

// putCases are PUTs (and what goes with them) whose answers, and the
// commits they make, must be the same through the front as through
// net/http alone; fast is how many requests of each the fast lane should
// answer itself. They run in order on both sides.
func putCases(m string) []struct {
	name string
	exs  []exchange
	fast uint64
} {
	lock := func(p, depth string) string {
		body := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
		return "LOCK " + p + " HTTP/1.1\r\nHost: verso.test\r\nDepth: " + depth + "\r\nContent-Type: application/xml\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	}
	P := []string{"PUT"}
	return []struct {
		name string
		exs  []exchange
		fast uint64
	}{
		{"new key", one(put(m+"/app/new", "hello"), P...), 1},
		{"overwrite", one(put(m+"/app/new", "hello again"), P...), 1},
		{"overwrite seeded key", one(put(m+"/app/name", "verso 3"), P...), 1},
		{"content type", one(put(m+"/app/typed", "<x/>", "Content-Type: text/x-test\r\n"), P...), 1},
		{"content type with spaces", one(put(m+"/app/typed", "<x/>", "Content-Type:   text/plain;  charset=latin1  \r\n"), P...), 1},
		{"empty content type", one(put(m+"/app/typed", "<html><body>", "Content-Type:\r\n"), P...), 1},
		{"form content type", one(put(m+"/app/form", `{"a":1}`, "Content-Type: application/x-www-form-urlencoded\r\n"), P...), 1},
		{"detected type", one(put(m+"/app/detected", "\x89PNG\r\n\x1a\n...."), P...), 1},
		{"empty body", one(put(m+"/app/empty", ""), P...), 1},
		{"lower-case names", one("PUT "+m+"/app/lower HTTP/1.1\r\nhost: verso.test\r\ncontent-length: 2\r\ncontent-type: text/x-a\r\n\r\nab", P...), 1},
		{"curl's headers", one(put(m+"/app/curl", "v\n", "User-Agent: curl/8.5.0\r\nAccept: */*\r\n"), P...), 1},
		{"percent-encoded path", one(put(m+"/app/a%20c", "x"), P...), 1},
		{"foreign origin", one(put(m+"/app/csrf", "x", "Origin: http://evil.example\r\n"), P...), 0},
		{"foreign referer", one(put(m+"/app/csrf", "x", "Referer: http://evil.example/form.html\r\n"), P...), 0},
		{"cross-site fetch", one(put(m+"/app/csrf", "x", "Sec-Fetch-Site: cross-site\r\n"), P...), 0},
		{"same origin", one(put(m+"/app/csrf", "x", "Origin: http://verso.test\r\n"), P...), 0},
		{"missing namespace", one(put(m+"/nope/k", "x"), P...), 1}, // refused by the commit: the lane answers
		{"parent is a key", one(put(m+"/app/name/x", "x"), P...), 1},
		{"on a namespace", one(put(m+"/app", "x"), P...), 0},
		{"on a namespace, slash", one(put(m+"/app/", "x"), P...), 0},
		{"on the root", one(put(m+"/", "x"), P...), 0},
		{"json to a namespace (import)", one(put(m+"/app", `{"imported":"yes"}`, "Content-Type: application/json\r\n"), P...), 0},
		{"json to a key", one(put(m+"/app/doc", `{"a":1}`, "Content-Type: application/json\r\n"), P...), 1},
		{"too large, announced", one("PUT "+m+"/app/big HTTP/1.1\r\nHost: verso.test\r\nContent-Length: 1048577\r\n\r\n", P...), 0},
		{"larger than the read buffer", one(put(m+"/app/big", strings.Repeat("b", 10000)), P...), 0},
		{"then small again", one(put(m+"/app/big", "b"), P...), 1},
		{"lock a key", one(lock(m+"/app/locked", "0"), "LOCK"), 0},
		{"locked key", one(put(m+"/app/locked", "x"), P...), 0},
		{"lock a namespace", []exchange{
			{"MKCOL " + m + "/held HTTP/1.1\r\nHost: verso.test\r\n\r\n", []string{"MKCOL"}},
			{lock(m+"/held", "infinity"), []string{"LOCK"}},
		}, 0},
		{"below a locked namespace", one(put(m+"/held/k", "x"), P...), 0},
		{"beside the locks", one(put(m+"/app/free", "x"), P...), 1},
		{"credentials", one(put(m+"/app/cred", "x", "Authorization: Basic Zm9vOmJhcg==\r\n"), P...), 0},
		{"If-Match", one(put(m+"/app/new", "x", "If-Match: \"1\"\r\n"), P...), 0},
		{"If-Match *", one(put(m+"/app/new", "y", "If-Match: *\r\n"), P...), 0},
		{"If-None-Match", one(put(m+"/app/inm", "x", "If-None-Match: *\r\n"), P...), 0},
		{"If-Unmodified-Since", one(put(m+"/app/new", "x", "If-Unmodified-Since: Thu, 26 Nov 2026 12:36:33 GMT\r\n"), P...), 0},
		{"If header", one(put(m+"/app/new", "x", "If: (<urn:uuid:nope>)\r\n"), P...), 0},
		{"message", one(put(m+"/app/msg", "x", "X-Verso-Message: set%20it\r\n"), P...), 0},
		{"Expect", []exchange{
			{"PUT " + m + "/app/expect2 HTTP/1.1\r\nHost: verso.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", nil},
			{"ab", P},
		}, 0},
		{"chunked", one("PUT "+m+"/app/chunked2 HTTP/1.1\r\nHost: verso.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", P...), 0},
		{"chunked and a length", one("PUT "+m+"/app/chunked3 HTTP/1.1\r\nHost: verso.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", P...), 0},
		{"no length", one("PUT "+m+"/app/nolength HTTP/1.1\r\nHost: verso.test\r\n\r\n", P...), 0},
		{"two lengths", one("PUT "+m+"/app/twolengths HTTP/1.1\r\nHost: verso.test\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", P...), 0},
		{"length with a leading zero", one("PUT "+m+"/app/zero HTTP/1.1\r\nHost: verso.test\r\nContent-Length: 01\r\n\r\nx", P...), 0},
		{"bad length", one("PUT "+m+"/app/bad HTTP/1.1\r\nHost: verso.test\r\nContent-Length: -1\r\n\r\n", P...), 0},
		{"two content types", one(put(m+"/app/twotypes", "x", "Content-Type: text/a\r\nContent-Type: text/b\r\n"), P...), 0},
		{"query", one(put(m+"/app/q?x=1", "x"), P...), 0},
		{"Connection close", one(put(m+"/app/close", "x", "Connection: close\r\n"), P...), 0},
		{"HTTP/1.0", one("PUT "+m+"/app/old HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", P...), 0},
		{"no Host", one("PUT "+m+"/app/nohost HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", P...), 0},
		{"encoded slash", one(put(m+"/app%2Fslash", "x"), P...), 0},
		{"dot segment", one(put(m+"/app/../app/dot", "x"), P...), 0},
		{"pipelined PUT GET", one(put(m+"/app/pipe", "one")+get(m+"/app/pipe"), "PUT", "GET"), 2},
		{"pipelined PUT PUT GET HEAD", one(put(m+"/app/pipe", "two")+put(m+"/app/pipe2", "2")+get(m+"/app/pipe")+head(m+"/app/pipe2"), "PUT", "PUT", "GET", "HEAD"), 4},
		{"pipelined GET PUT PROPFIND GET", one(get(m+"/app/pipe")+put(m+"/app/pipe", "three")+
			"PROPFIND "+m+"/app/ HTTP/1.1\r\nHost: verso.test\r\nDepth: 1\r\nContent-Length: 0\r\n\r\n"+get(m+"/app/pipe"),
			"GET", "PUT", "PROPFIND", "GET"), 2},
		{"body in pieces", []exchange{
			{"PUT " + m + "/app/pieces HTTP/1.1\r\nHost: verso.test\r\nContent-Length: 11\r\n\r\n", nil},
			{"hello", nil},
			{" ", nil},
			{"world", P},
		}, 1},
		{"head and body in pieces", []exchange{
			{"PUT " + m + "/app/pie", nil},
			{"ces2 HTTP/1.1\r\nHost: verso.test\r\nContent-Le", nil},
			{"ngth: 3\r\n\r\nab", nil},
			{"c" + get(m+"/app/pieces2"), []string{"PUT", "GET"}},
		}, 2},
		{"GET what was written", one(get(m+"/app/new")+get(m+"/app/typed")+get(m+"/app/form")+get(m+"/app/detected")+
			get(m+"/app/empty")+get(m+"/app/lower")+get(m+"/app/a%20c")+get(m+"/app/big")+get(m+"/app/pieces"),
			"GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET", "GET"), 9},
	}
}

// TestFront_SamePuts checks that PUTs through a front get, byte for byte
// but for Date, the answers net/http alone gives, and make the same
// commits; and that the plain ones are the fast lane's.
func TestFront_SamePuts(t *testing.T) {
	forBothSides(t, func(t *testing.T, mount string, plain, fast *side) {
		for _, tc := range putCases(mount) {
			if n := sameAnswers(t, tc.name, runRaw, plain, fast, tc.exs); n != tc.fast {
				t.Errorf("%s: fast lane answered %d, want %d", tc.name, n, tc.fast)
			}
		}
		sameStores(t, plain, fast)
		if diff := cmp.Diff(counts(t, plain), counts(t, fast)); diff != "" {
			t.Errorf("metrics differ (-net/http +front):\n%s", diff)
		}
	})
}

// refusalSchema is the schema of the namespace /typed in
// TestFront_PutRefusals: a port that is an integer, a name of at most 8
// characters, and a code matching a pattern long enough that its
// violation's answer is longer than net/http's buffer (then it sends the
// body chunked).
var refusalSchema = `{"type": "object", "properties": {
  "port": {"type": "integer", "maximum": 65535},
  "name": {"type": "string", "maxLength": 8},
  "code": {"type": "string", "pattern": "^(` + strings.Repeat("xy|", 800) + `z)$"}}}`

// TestFront_PutRefusals checks that PUTs the commit refuses (a schema, a
// missing namespace, an invalid schema) or the server's value limit
// refuses are answered by the fast lane itself, byte for byte but for
// Date as net/http answers them, with the same metrics and nothing
// written: the lane's Put returns the refusal instead of handing the
// request over, which made net/http plan the same commit a second time.
func TestFront_PutRefusals(t *testing.T) {
	P := []string{"PUT"}
	forBothSides(t, func(t *testing.T, m string, plain, fast *side) {
		for _, tc := range []struct {
			name string
			exs  []exchange
			fast uint64
		}{
			{"namespace", one("MKCOL "+m+"/typed HTTP/1.1\r\nHost: verso.test\r\n\r\n", "MKCOL"), 0},
			{"its schema", one(put(m+"/typed/.schema", refusalSchema), P...), 1},
			{"schema violation", one(put(m+"/typed/port", "http"), P...), 1},
			{"schema's maximum", one(put(m+"/typed/port", "65536\n"), P...), 1},
			{"schema's maxLength", one(put(m+"/typed/name", "longer than eight"), P...), 1},
			{"violation longer than net/http's buffer", one(put(m+"/typed/code", "xyz"), P...), 1},
			{"valid", one(put(m+"/typed/port", "8080"), P...), 1},
			{"invalid schema", one(put(m+"/typed/.schema", `{"type": 3}`), P...), 1},
			{"schema not JSON", one(put(m+"/typed/.schema", "{"), P...), 1},
			{"missing namespace", one(put(m+"/nope/k", "x"), P...), 1},
			{"missing namespace, other Host", one("PUT "+m+"/nope/k HTTP/1.1\r\nHost:  other.test:8080 \r\nContent-Length: 1\r\n\r\nx", P...), 1},
			{"parent is a key", one(put(m+"/typed/port/x", "x"), P...), 1},
			{"refusals pipelined", one(put(m+"/typed/port", "x")+get(m+"/typed/port")+put(m+"/nope/k", "x")+put(m+"/typed/port", "443")+get(m+"/typed/port"),
				"PUT", "GET", "PUT", "PUT", "GET"), 5},
		} {
			if n := sameAnswers(t, tc.name, runRaw, plain, fast, tc.exs); n != tc.fast {
				t.Errorf("%s: fast lane answered %d, want %d", tc.name, n, tc.fast)
			}
		}
		// The long violation is sent chunked, as the case means.
		long := one(put(m+"/typed/code", "xyz"), P...)
		want, _ := runRaw(t, plain.addr, long)
		got, _ := runRaw(t, fast.addr, long)
		if !strings.HasPrefix(want, "HTTP/1.1 422 ") || !strings.Contains(want, "\r\nTransfer-Encoding: chunked\r\n") {
			t.Errorf("long violation: net/http answered %.200q, want a 422 sent chunked", want)
		}
		if got != want {
			t.Errorf("long violation: the front answered\n%q\nnet/http\n%q", got, want)
		}
		sameStores(t, plain, fast)
		if diff := cmp.Diff(nonzero(counts(t, plain)), nonzero(counts(t, fast))); diff != "" {
			t.Errorf("metrics differ (-net/http +front):\n%s", diff)
		}
	})
}

// nonzero leaves out of counts the series at 0, which a front creates
// for the answers it may give.
func nonzero(counts []string) []string {
	var out []string
	for _, c := range counts {
		if !strings.HasSuffix(c, " 0") {
			out = append(out, c)
		}
	}
	return out
}

// TestFront_PutTooLarge checks that a value over the server's limit
// (Options.MaxValueSize) that fits the lane's buffer is refused by the
// lane as net/http refuses it: 413, nothing written.
func TestFront_PutTooLarge(t *testing.T) {
	opts := &server.Options{MaxValueSize: 8}
	plain := startSide(t, netHTTP, opts, seedTxns())
	fast := startSide(t, loops, opts, seedTxns())
	for _, tc := range []struct {
		name string
		exs  []exchange
		fast uint64
	}{
		{"at the limit", one(put("/config/app/k", "12345678"), "PUT"), 1},
		{"over it", one(put("/config/app/k", "123456789"), "PUT"), 1},
		{"over it, then a GET", one(put("/config/app/k", strings.Repeat("v", 100))+get("/config/app/k"), "PUT", "GET"), 2},
		{"over it, on a namespace", one(put("/config/app", "123456789"), "PUT"), 0},
		{"over it, JSON on a namespace (an import)", one(put("/config/app", `{"k": "123456789"}`, "Content-Type: application/json\r\n"), "PUT"), 0},
	} {
		if n := sameAnswers(t, tc.name, runRaw, plain, fast, tc.exs); n != tc.fast {
			t.Errorf("%s: fast lane answered %d, want %d", tc.name, n, tc.fast)
		}
	}
	sameStores(t, plain, fast)
	if diff := cmp.Diff(nonzero(counts(t, plain)), nonzero(counts(t, fast))); diff != "" {
		t.Errorf("metrics differ (-net/http +front):\n%s", diff)
	}
}

// counts returns the request and commit counters of a side's metrics.
func counts(t *testing.T, sd *side) []string {
	t.Helper()
	resp, err := http.Get("http://" + sd.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "verso_http_requests_total{") || strings.HasPrefix(l, "verso_commits_total ") ||
			strings.HasPrefix(l, "verso_http_request_duration_seconds_count{") || strings.HasPrefix(l, "verso_http_requests_in_flight ") {
			out = append(out, l)
		}
	}
	if len(out) < 4 {
		t.Fatalf("metrics: %d counters found in\n%s", len(out), b)
	}
	return out
}

// sameStores checks that two sides' stores hold the same log and the same
// entries.
func sameStores(t *testing.T, a, b *side) {
	t.Helper()
	ctx := context.Background()
	la, err := a.store.Log(ctx, verso.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.store.Log(ctx, verso.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(la, lb); diff != "" {
		t.Errorf("logs differ (-net/http +front):\n%s", diff)
	}
	walk := func(s *side) []verso.Entry {
		var es []verso.Entry
		err := s.store.Walk(ctx, verso.Root, verso.Head, verso.Infinite, func(e *verso.Entry) error {
			es = append(es, *e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	if diff := cmp.Diff(walk(a), walk(b)); diff != "" {
		t.Errorf("trees differ (-net/http +front):\n%s", diff)
	}
}

// TestFront_PutAccess checks that the fast lane leaves to net/http the
// PUTs an anonymous client may not make, and takes the others, with or
// without a cap on requests.
func TestFront_PutAccess(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "authz")
	if err := os.WriteFile(rules, []byte("[/]\n* = r\n[/app]\n* = rw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(&auth.Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	deny, err := auth.New(&auth.Options{Rules: rules, DenyAnonymousWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		auth *auth.Auth
		max  int // Options.MaxRequests
		raw  string
		fast uint64
	}{
		{"no rules", nil, 0, put("/config/app/open", "x"), 1},
		{"a cap on requests", nil, 1, put("/config/app/open", "x"), 1},
		{"writable", a, 0, put("/config/app/open", "x"), 1},
		{"read-only", a, 0, put("/config/closed", "x"), 0},
		{"read-only overwrite", a, 0, put("/config/empty", "x"), 0},
		{"anonymous writes denied", deny, 0, put("/config/app/open", "x"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &server.Options{Auth: tc.auth, MaxRequests: tc.max}
			plain := startSide(t, netHTTP, opts, seedTxns())
			fast := startSide(t, loops, opts, seedTxns())
			ex := one(tc.raw, "PUT")
			want, _ := runRaw(t, plain.addr, ex)
			got, _ := runRaw(t, fast.addr, ex)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answers differ (-net/http +front):\n%s", diff)
			}
			if n := fast.front.Served(); n != tc.fast {
				t.Errorf("fast lane answered %d, want %d", n, tc.fast)
			}
			sameStores(t, plain, fast)
		})
	}
}

// TestFront_GoClientPut checks that the PUTs of Go's HTTP client, as
// bench/loadgen sends them, are the fast lane's.
func TestFront_GoClientPut(t *testing.T) {
	fast := startSide(t, loops, nil, seedTxns())
	hc := &http.Client{}
	for i, v := range []string{"first", "second", strings.Repeat("v", 2000)} {
		req, err := http.NewRequest(http.MethodPut, "http://"+fast.addr+"/config/app/go", strings.NewReader(v))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := map[bool]int{true: http.StatusCreated, false: http.StatusNoContent}[i == 0]
		if resp.StatusCode != want {
			t.Errorf("PUT %d: %s, want %d", i, resp.Status, want)
		}
	}
	if n := fast.front.Served(); n != 3 {
		t.Errorf("fast lane answered %d of 3 PUTs", n)
	}
}
