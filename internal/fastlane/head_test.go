package fastlane

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
)

func TestAppendHTTPDate(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Date(2026, 11, 26, 12, 36, 33, 999, time.UTC),
		time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(12000, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 3, 1, 9, 5, 7, 0, time.FixedZone("x", 5*3600)),
	}
	for range 1000 {
		times = append(times, time.Unix(rand.Int64N(1<<36), rand.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendHTTPDate(nil, tm)), tm.UTC().Format(http.TimeFormat); got != want {
			t.Errorf("appendHTTPDate(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestHeads checks that the lane's heads are, but for Date, the bytes
// net/http writes for a handler that sets SetKeyHeader's or SetPutHeader's
// headers.
func TestHeads(t *testing.T) {
	e := &verso.Entry{Path: "/k", Kind: verso.KindKey, Value: []byte("value"), ContentType: "text/plain",
		ModRev: 42, ModTime: time.Date(2026, 11, 26, 12, 36, 33, 0, time.UTC)}
	viaHTTP := func(h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		resp.Header.Del("Date")
		var b bytes.Buffer
		resp.Header.Write(&b)
		return resp.Status + "\n" + b.String()
	}
	viaLane := func(head []byte) string {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), &http.Request{Method: http.MethodHead})
		if err != nil {
			t.Fatal(err)
		}
		resp.Header.Del("Date")
		var b bytes.Buffer
		resp.Header.Write(&b)
		return resp.Status + "\n" + b.String()
	}
	keyHead, ok := appendKeyHead(nil, e)
	if !ok {
		t.Fatal("appendKeyHead refused a plain entry")
	}
	want := viaHTTP(func(w http.ResponseWriter, r *http.Request) {
		SetKeyHeader(w.Header(), e, true)
		w.WriteHeader(http.StatusOK)
	})
	if diff := cmp.Diff(want, viaLane(keyHead)); diff != "" {
		t.Errorf("key head (-net/http +lane):\n%s", diff)
	}
	for _, created := range []bool{true, false} {
		want := viaHTTP(func(w http.ResponseWriter, r *http.Request) {
			SetPutHeader(w.Header(), 42)
			if created {
				w.WriteHeader(http.StatusCreated)
			} else {
				w.WriteHeader(http.StatusNoContent)
			}
		})
		if diff := cmp.Diff(want, viaLane(appendPutHead(nil, 42, created))); diff != "" {
			t.Errorf("PUT head, created %v (-net/http +lane):\n%s", created, diff)
		}
	}
	if _, ok := appendKeyHead(nil, &verso.Entry{ContentType: "text/plain\x01"}); ok {
		t.Errorf("appendKeyHead took a Content-Type net/http would rewrite")
	}
}

// TestParseRequest_AllowList checks that only the listed request headers
// leave a request to the lane.
func TestParseRequest_AllowList(t *testing.T) {
	for _, c := range []struct {
		head string
		ok   bool
	}{
		{"GET /k HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"GET /k HTTP/1.1\r\nHOST: x\r\nUser-Agent: curl/8\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n", true},
		{"GET /k HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET /k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
		{"GET /k HTTP/1.1\r\nHost: x\r\nX-New-Header: 1\r\n\r\n", false},
		{"GET /k HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"1\"\r\n\r\n", false},
		{"GET /k HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\n\r\n", false},
		{"GET /k HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", false},
		{"GET /k HTTP/1.1\r\nHost: x\r\nAccept-Encoding-Extra-Long: 1\r\n\r\n", false},
		{"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Type: text/plain\r\n\r\n", true},
		{"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nOrigin: http://x\r\n\r\n", false},
		{"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nX-Verso-Message: m\r\n\r\n", false},
		{"PUT /k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"DELETE /k HTTP/1.1\r\nHost: x\r\n\r\n", false},
	} {
		ok := false
		if n, st := scanHead([]byte(c.head)); st == headComplete {
			_, ok = parseRequest([]byte(c.head[:n]))
		}
		if ok != c.ok {
			t.Errorf("%q: lane's = %v, want %v", c.head, ok, c.ok)
		}
	}
}

// TestParseRequest_NoAllocs checks that reading a plain request's head
// allocates nothing.
func TestParseRequest_NoAllocs(t *testing.T) {
	head := []byte("GET /config/app/name HTTP/1.1\r\nHost: verso.test\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { parseRequest(head) }); n != 0 {
		t.Errorf("parseRequest: %v allocations, want 0", n)
	}
}

// TestAppendKeyHead_NoAllocs checks that the lane builds a key's head
// without allocating.
func TestAppendKeyHead_NoAllocs(t *testing.T) {
	e := verso.Entry{Path: "/k", Kind: verso.KindKey, Value: []byte("value"), ModRev: 42, ModTime: time.Unix(1e9, 0)}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { appendKeyHead(buf[:0], &e) }); n != 0 {
		t.Errorf("appendKeyHead: %v allocations, want 0", n)
	}
}

// BenchmarkAppendKeyHead measures the head of a key's GET as the lane
// builds it: of one key again and again, and of keys changed at different
// seconds, as random keys are: what a cache of Last-Modified would save
// (docs/PERFORMANCE.md, What each read-path trick pays).
func BenchmarkAppendKeyHead(b *testing.B) {
	one := []verso.Entry{{Path: "/k", Kind: verso.KindKey, Value: []byte("0123456789abcdefghij"), ModRev: 42,
		ModTime: time.Date(2026, 11, 26, 12, 36, 33, 0, time.UTC)}}
	random := make([]verso.Entry, 1024)
	for i := range random {
		random[i] = one[0]
		random[i].ModTime = time.Unix(1.7e9+rand.Int64N(1e7), 0)
	}
	for _, bc := range []struct {
		name string
		es   []verso.Entry
	}{{"one-key", one}, {"random-keys", random}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			i := 0
			for b.Loop() {
				buf, _ = appendKeyHead(buf[:0], &bc.es[i])
				if i++; i == len(bc.es) {
					i = 0
				}
			}
		})
	}
}
