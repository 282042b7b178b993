package server_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestCrossSite_Matrix proves every request that can change data is
// refused when a page of another site sent it (a foreign Origin, a foreign
// Referer without Origin, Origin: null, Sec-Fetch-Site: cross-site), with
// 403 and nothing changed, and taken as before from clients that send no
// Origin and from the server's own pages. alice's credentials go with each
// request, as a browser sends the ones it cached.
func TestCrossSite_Matrix(t *testing.T) {
	variants := []struct {
		name   string
		header func(ts *testServer) []string
		ok     bool
	}{
		{"no Origin", func(*testServer) []string { return nil }, true},
		{"same origin", func(ts *testServer) []string { return []string{"Origin", ts.URL} }, true},
		{"same-origin Referer", func(ts *testServer) []string { return []string{"Referer", ts.URL + "/ui/"} }, true},
		{"same origin, Sec-Fetch-Site", func(ts *testServer) []string {
			return []string{"Origin", ts.URL, "Sec-Fetch-Site", "same-origin"}
		}, true},
		{"foreign Origin", func(*testServer) []string { return []string{"Origin", "http://evil.example"} }, false},
		{"foreign Origin, same-origin Referer", func(ts *testServer) []string {
			return []string{"Origin", "http://evil.example", "Referer", ts.URL + "/ui/"}
		}, false},
		{"foreign port", func(ts *testServer) []string { return []string{"Origin", ts.URL + "1"} }, false},
		{"foreign Referer without Origin", func(*testServer) []string { return []string{"Referer", "http://evil.example/form.html"} }, false},
		{"Origin: null", func(*testServer) []string { return []string{"Origin", "null"} }, false},
		{"Sec-Fetch-Site: cross-site", func(*testServer) []string { return []string{"Sec-Fetch-Site", "cross-site"} }, false},
	}
	json := []string{"Content-Type", "application/json"}
	dest := func(ts *testServer, p string) []string { return []string{"Destination", ts.URL + "/config" + p} }
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ts := newAccessServer(t, nil)
			before := ts.head(t)
			lockToken := "<urn:uuid:00000000-0000-0000-0000-000000000000>"
			steps := []struct {
				method, path, body string
				header             []string
				want               int
			}{
				{"MKCOL", "/config/pub/n", "", nil, 201},
				{"PUT", "/config/pub/n/k", "v", nil, 201},
				{"PROPPATCH", "/config/pub/n/k", proppatchBody, nil, 207},
				{"COPY", "/config/pub/n/k", "", dest(ts, "/pub/n/k2"), 201},
				{"MOVE", "/config/pub/n/k2", "", dest(ts, "/pub/n/k3"), 201},
				{"LOCK", "/config/pub/n/k3", lockBody, nil, 200},
				{"UNLOCK", "/config/pub/n/k3", "", nil, 204},
				{"DELETE", "/config/pub/n/k3", "", nil, 204},
				{"POST", "/config/pub/n/", `{"imported": "yes"}`, json, 200},
				{"PUT", "/config/pub/n", `{"put": "yes"}`, json, 200}, // an import too
				{"POST", "/api/v1/txn", `{"ops": [{"op": "put", "path": "/pub/n/t", "value": "v"}]}`, json, 200},
				{"POST", "/api/v1/revert", `{"undo": 3}`, json, 200},
			}
			for _, st := range steps {
				header := append(append([]string{}, st.header...), v.header(ts)...)
				if st.method == "UNLOCK" {
					header = append(header, "Lock-Token", lockToken)
				}
				got, body, h := ts.as(t, "alice", st.method, st.path, st.body, header...)
				want := st.want
				if !v.ok {
					want = 403
				}
				if got != want {
					t.Errorf("%s %s = %d %q, want %d", st.method, st.path, got, body, want)
				}
				if !v.ok && !strings.Contains(body, "cross-site request refused") {
					t.Errorf("%s %s refused with %q, want a message naming the cross-site request", st.method, st.path, body)
				}
				if st.method == "LOCK" && got == 200 {
					lockToken = h.Get("Lock-Token")
				}
			}
			if after := ts.head(t); !v.ok && after != before {
				t.Errorf("head moved from %d to %d, want nothing changed", before, after)
			}
			// Reading is not changing: a page of another site may send a
			// GET or a PROPFIND (and cannot read the answer).
			for _, m := range []string{"GET", "HEAD", "OPTIONS", "PROPFIND"} {
				if got, body, _ := ts.as(t, "alice", m, "/config/pub/", "", v.header(ts)...); got >= 400 {
					t.Errorf("%s /config/pub/ = %d %q, want it answered", m, got, body)
				}
			}
		})
	}
}

// TestCrossSite_FormRevert is the attack itself: a form of another site
// posting {"undo": 3} as text/plain, with the browser's cached
// credentials, must not undo revision 3.
func TestCrossSite_FormRevert(t *testing.T) {
	ts := newAccessServer(t, nil)
	before := ts.head(t)
	got, body, _ := ts.as(t, "alice", "POST", "/api/v1/revert", `{"undo": 3}`,
		"Origin", "http://evil.example", "Content-Type", "text/plain")
	if got != 403 {
		t.Errorf("cross-site form POST of a revert = %d %q, want 403", got, body)
	}
	if after := ts.head(t); after != before {
		t.Errorf("head moved from %d to %d: the revert happened", before, after)
	}
}

// TestCrossSite_JSONOnly proves the JSON endpoints take only a JSON body
// (415 for what a form sends, even from the server's own origin or from a
// client that sends no Origin), while a body without Content-Type passes,
// and that import takes only its document types.
func TestCrossSite_JSONOnly(t *testing.T) {
	ts := newAccessServer(t, nil)
	txn := func(n int) string {
		return `{"ops": [{"op": "put", "path": "/pub/t", "value": "` + strconv.Itoa(n) + `"}]}`
	}
	for i, c := range []struct {
		ctype string
		want  int
	}{
		{"text/plain", 415},
		{"text/plain; charset=utf-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/xml", 415},
		{"not a type", 415},
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"Application/JSON", 200},
		{"application/merge-patch+json", 200},
		{"", 200},
	} {
		for _, origin := range [][]string{nil, {"Origin", ts.URL}} {
			var header []string
			if c.ctype != "" {
				header = []string{"Content-Type", c.ctype}
			}
			header = append(header, origin...)
			got, body, _ := ts.as(t, "alice", "POST", "/api/v1/txn", txn(i), header...)
			if got != c.want {
				t.Errorf("POST /api/v1/txn with Content-Type %q, %q = %d %q, want %d", c.ctype, origin, got, body, c.want)
			}
			if c.want == 415 && !strings.Contains(body, "application/json") {
				t.Errorf("415 of Content-Type %q says %q, want it to name application/json", c.ctype, body)
			}
			head := ts.head(t)
			got, body, _ = ts.as(t, "alice", "POST", "/api/v1/revert", `{"undo": `+strconv.Itoa(int(head))+`}`, header...)
			if got != c.want {
				t.Errorf("POST /api/v1/revert with Content-Type %q, %q = %d %q, want %d", c.ctype, origin, got, body, c.want)
			}
		}
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		if got, body, _ := ts.as(t, "alice", "POST", "/config/pub/", `{"a": "1"}`, "Content-Type", ct, "Origin", ts.URL); got != 415 {
			t.Errorf("import as %s = %d %q, want 415", ct, got, body)
		}
	}
	for _, ct := range []string{"application/json", "application/yaml"} {
		if got, body, _ := ts.as(t, "alice", "POST", "/config/pub/", `{"a": "1"}`, "Content-Type", ct, "Origin", ts.URL); got != 200 {
			t.Errorf("import as %s = %d %q, want 200", ct, got, body)
		}
	}
}
