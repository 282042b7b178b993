package server_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestSVN_Access checks that svn sees only what the rules let its user
// read (newAccessServer: /secret is alice's alone), and that svn's Basic
// prompt works: a path anonymous may not read answers 401 with a
// challenge, and the client retries with its credentials.
func TestSVN_Access(t *testing.T) {
	svn := newSVN(t)
	ts := newAccessServer(t, nil)
	url := ts.URL + "/config"
	dir := t.TempDir()

	out := svn.must(t, dir, "ls", "-R", url)
	wantContains(t, "anonymous svn ls -R", out, "pub/k\n", "team/locked/k\n")
	wantNotContains(t, "anonymous svn ls -R", out, "secret")

	out = svn.must(t, dir, "log", "-v", url)
	wantContains(t, "anonymous svn log -v", out, "r3 | seed |", "PUT /pub/k", "   A /pub/k\n", "r1 | seed |")
	wantNotContains(t, "anonymous svn log -v", out, "secret", "r2 |")
	if i := strings.Index(out, "r1 | seed |"); i >= 0 && strings.Contains(out[i:], "\nseed\n") {
		t.Errorf("anonymous svn log shows the message of r1, which changed /secret too:\n%s", out)
	}

	wc := filepath.Join(dir, "wc")
	out = svn.must(t, dir, "checkout", url, wc)
	wantNotContains(t, "anonymous svn checkout", out, "secret")
	out = svn.must(t, wc, "status", "-u", "-v")
	wantNotContains(t, "anonymous svn status -u", out, "secret")

	// A path anonymous may not read: 401 with a challenge, then the
	// client's credentials.
	code, _, h := ts.as(t, "", "OPTIONS", "/config/secret/k", "", "User-Agent", "SVN/1.14.2 (x86_64-pc-linux-gnu) serf/1.3.9")
	if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("anonymous svn OPTIONS of /secret/k = %d, WWW-Authenticate %q; want 401 with a Basic challenge", code, h.Get("WWW-Authenticate"))
	}
	out = svn.fails(t, dir, "cat", url+"/secret/k")
	wantContains(t, "anonymous svn cat /secret/k", out, "E215004")
	if out := svn.as("alice").must(t, dir, "cat", url+"/secret/k"); out != "v2\n" {
		t.Errorf("alice's svn cat /secret/k = %q", out)
	}
	out = svn.as("alice").must(t, dir, "log", "-q", url+"/secret")
	if got := revsOf(out); got != "2 1" {
		t.Errorf("alice's svn log /secret = %s", got)
	}
	out = svn.as("alice").must(t, dir, "checkout", url+"/secret", filepath.Join(dir, "secret"))
	wantContains(t, "alice's svn checkout /secret", out, "sub/k")
	out = svn.as("carol").fails(t, dir, "cat", url+"/secret/k")
	wantContains(t, "carol's svn cat /secret/k", out, "E220001")
	svn.as("alice").fails(t, dir, "--password", "wrong", "cat", url+"/secret/k")

	// A user's update leaves out what they may not read.
	report := `<S:update-report xmlns:S="svn:" send-all="true"><S:src-path>/config</S:src-path>` +
		`<S:depth>unknown</S:depth><S:entry rev="3" depth="infinity" start-empty="true"></S:entry></S:update-report>`
	code, body, _ := ts.as(t, "carol", "REPORT", "/config/!svn/me", report)
	if code != http.StatusOK || !strings.Contains(body, `<S:absent-directory name="secret"/>`) || strings.Contains(body, "v2") {
		t.Errorf("carol's update report = %d:\n%s", code, body)
	}
	code, body, _ = ts.as(t, "alice", "REPORT", "/config/!svn/me", report)
	if code != http.StatusOK || !strings.Contains(body, `<S:add-directory name="secret"`) {
		t.Errorf("alice's update report = %d:\n%s", code, body)
	}
	code, body, _ = ts.as(t, "carol", "PROPFIND", "/config/!svn/rvr/3/", "", "Depth", "1")
	if code != http.StatusMultiStatus || strings.Contains(body, "secret") {
		t.Errorf("carol's PROPFIND Depth 1 = %d:\n%s", code, body)
	}
}
