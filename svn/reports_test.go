package svn

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReportArgs checks that every report reads its path and revisions
// the same way: a revision that is not a number is a 400, one beyond the
// head a 404, a path that leaves the repository a 400.
func TestReportArgs(t *testing.T) {
	h := New(logHistory(t), Options{Mount: "/config"})
	reports := map[string]struct{ name, path, revs string }{
		"log":       {"log-report", "", "start-revision end-revision"},
		"locations": {"get-locations", "path", "peg-revision"},
		"segments":  {"get-location-segments", "path", "peg-revision"},
		"file-revs": {"file-revs-report", "path", "start-revision end-revision"},
		"list":      {"list-report", "path", "revision"},
		"iprops":    {"inherited-props-report", "path", "revision"},
		"deleted":   {"get-deleted-rev-report", "path", "peg-revision end-revision"},
	}
	for name, rp := range reports {
		for _, rev := range strings.Fields(rp.revs) {
			for value, want := range map[string]int{"x": 400, "-2": 400, "99": 404} {
				body := `<S:` + rp.name + ` xmlns:S="svn:"><S:` + rev + `>` + value + `</S:` + rev + `>`
				if rp.path != "" {
					body += `<S:path>a/k</S:path>`
				}
				body += `</S:` + rp.name + `>`
				r := httptest.NewRequest("REPORT", "/config/", strings.NewReader(body))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r, "/")
				if w.Code != want {
					t.Errorf("%s with <%s>%s = %d, want %d: %s", name, rev, value, w.Code, want, w.Body)
				}
			}
		}
		if rp.path != "" {
			body := `<S:` + rp.name + ` xmlns:S="svn:"><S:path>../x</S:path></S:` + rp.name + `>`
			r := httptest.NewRequest("REPORT", "/config/", strings.NewReader(body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r, "/")
			if w.Code != http.StatusBadRequest {
				t.Errorf("%s of path ../x = %d, want 400: %s", name, w.Code, w.Body)
			}
		}
	}
	// The update report's target revision too.
	for value, want := range map[string]int{"x": 400, "99": 404} {
		body := `<S:update-report xmlns:S="svn:"><S:src-path>/config</S:src-path><S:target-revision>` + value +
			`</S:target-revision><S:entry rev="1"/></S:update-report>`
		r := httptest.NewRequest("REPORT", "/config/!svn/me", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r, "/!svn/me")
		if w.Code != want {
			t.Errorf("update-report with target revision %s = %d, want %d: %s", value, w.Code, want, w.Body)
		}
	}
}

// TestNamedURLs checks the URLs a COPY's Destination and a MERGE's source
// name: missing, not a URL, or outside the repository, each is a 400 that
// says which.
func TestNamedURLs(t *testing.T) {
	h := New(logHistory(t), Options{Mount: "/config"})
	for _, dest := range []string{"", "http://h/%zz", "http://h/elsewhere/a"} {
		r := httptest.NewRequest("COPY", "/config/!svn/rvr/1/a/k", nil)
		if dest != "" {
			r.Header.Set("Destination", dest)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r, "/!svn/rvr/1/a/k")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "s Destination") {
			t.Errorf("COPY with Destination %q = %d, want 400 naming it: %s", dest, w.Code, w.Body)
		}
	}
	for _, src := range []string{"", "http://h/%zz", "http://h/elsewhere/!svn/txn/1-1"} {
		body := `<D:merge xmlns:D="DAV:"><D:source><D:href>` + src + `</D:href></D:source></D:merge>`
		r := httptest.NewRequest("MERGE", "/config/", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r, "/")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "s source") {
			t.Errorf("MERGE of source %q = %d, want 400 naming it: %s", src, w.Code, w.Body)
		}
	}
}
