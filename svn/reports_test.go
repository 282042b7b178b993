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
