package httpops

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestAccessLog_Format(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 36, 33, 0, time.FixedZone("", 3600))
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		user   string
		status int
		n      int64
		want   string
	}{
		{"anonymous read", func() *http.Request {
			r := httptest.NewRequest("GET", "/config/app/db/host?rev=3", nil)
			r.RemoteAddr = "192.0.2.7:51234"
			r.Header.Set("User-Agent", "curl/8.5.0")
			return r
		}, "", 200, 5,
			`192.0.2.7 - - [26/Nov/2026:12:36:33 +0100] "GET /config/app/db/host?rev=3 HTTP/1.1" 200 5 "-" "curl/8.5.0"` + "\n"},
		{"authenticated write, no body", func() *http.Request {
			r := httptest.NewRequest("PUT", "/config/app/k", nil)
			r.RemoteAddr = "[2001:db8::1]:443"
			r.Header.Set("Referer", "http://example.com/")
			return r
		}, "alice", 204, 0,
			`2001:db8::1 - alice [26/Nov/2026:12:36:33 +0100] "PUT /config/app/k HTTP/1.1" 204 - "http://example.com/" "-"` + "\n"},
		{"claimed but unverified user left out", func() *http.Request {
			r := httptest.NewRequest("GET", "/config/k", nil)
			r.SetBasicAuth("bob", "secret")
			return r
		}, "", 200, 1,
			`192.0.2.1 - - [26/Nov/2026:12:36:33 +0100] "GET /config/k HTTP/1.1" 200 1 "-" "-"` + "\n"},
		{"refused basic user left out", func() *http.Request {
			r := httptest.NewRequest("GET", "/config/k", nil)
			r.SetBasicAuth("mallory", "guess")
			return r
		}, "", 401, 30,
			`192.0.2.1 - - [26/Nov/2026:12:36:33 +0100] "GET /config/k HTTP/1.1" 401 30 "-" "-"` + "\n"},
		{"hostile fields escaped", func() *http.Request {
			r := httptest.NewRequest("GET", "/config/k", nil)
			r.Header.Set("User-Agent", "evil\"agent\n\\x")
			return r
		}, "a b\"c", 200, 1,
			`192.0.2.1 - a\x20b\"c [26/Nov/2026:12:36:33 +0100] "GET /config/k HTTP/1.1" 200 1 "-" "evil\"agent\x0a\\x"` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := NewAccessLog(&buf)
			e := &Entry{Start: start, Status: tc.status, Bytes: tc.n}
			e.FromRequest(tc.req(), tc.user)
			l.Log(e)
			if got := buf.String(); got != tc.want {
				t.Errorf("access log line:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
