package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
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
	// A report's paths are relative to its URL: each must be readable too.
	for _, rep := range []string{
		`<S:file-revs-report xmlns:S="svn:"><S:start-revision>0</S:start-revision><S:end-revision>3</S:end-revision><S:path>secret/k</S:path></S:file-revs-report>`,
		`<S:list-report xmlns:S="svn:"><S:path>secret</S:path><S:revision>3</S:revision><S:depth>infinity</S:depth></S:list-report>`,
		`<S:get-location-segments xmlns:S="svn:"><S:path>secret/k</S:path><S:peg-revision>3</S:peg-revision></S:get-location-segments>`,
		`<S:inherited-props-report xmlns:S="svn:"><S:revision>3</S:revision><S:path>secret/sub/k</S:path></S:inherited-props-report>`,
	} {
		code, body, _ = ts.as(t, "carol", "REPORT", "/config/!svn/rvr/3", rep)
		if code != http.StatusForbidden || strings.Contains(body, "v2") {
			t.Errorf("carol's REPORT of a path below /secret = %d:\n%s", code, body)
		}
	}
	code, body, _ = ts.as(t, "carol", "PROPFIND", "/config/!svn/rvr/3/", "", "Depth", "1")
	if code != http.StatusMultiStatus || strings.Contains(body, "secret") {
		t.Errorf("carol's PROPFIND Depth 1 = %d:\n%s", code, body)
	}

	// Updates of the anonymous working copy, across revisions that changed
	// readable and unreadable paths, forward, back and forward again:
	// the readable changes arrive, the others stay absent.
	for _, txn := range []*verso.Txn{
		{Author: "seed", Message: "r4", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/secret/k", Value: []byte("v4\n")},
			{Kind: verso.OpPut, Path: "/pub/k", Value: []byte("v4\n")}}},
		{Author: "seed", Message: "r5", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/secret/new", Value: []byte("s\n")},
			{Kind: verso.OpPut, Path: "/pub/new", Value: []byte("p\n")}}},
		{Author: "seed", Message: "r6", Ops: []verso.Op{{Kind: verso.OpDelete, Path: "/secret/sub"}}},
		{Author: "seed", Message: "r7", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/secret/k", Value: []byte("v7\n")}}},
	} {
		if _, err := ts.store.Commit(t.Context(), txn); err != nil {
			t.Fatal(err)
		}
	}
	out = svn.must(t, wc, "update")
	wantContains(t, "anonymous svn update", out, "U    pub/k", "A    pub/new", "Updated to revision 7.")
	wantNotContains(t, "anonymous svn update", out, "secret")
	if got := readFile(t, filepath.Join(wc, "pub/k")); got != "v4\n" {
		t.Errorf("pub/k after the update = %q", got)
	}
	out = svn.must(t, wc, "update", "-r", "3")
	wantContains(t, "anonymous svn update -r 3", out, "U    pub/k", "D    pub/new", "Updated to revision 3.")
	wantNotContains(t, "anonymous svn update -r 3", out, "secret")
	out = svn.must(t, wc, "update", "-r", "5")
	wantContains(t, "anonymous svn update -r 5", out, "U    pub/k", "A    pub/new", "Updated to revision 5.")
	out = svn.must(t, wc, "update")
	wantContains(t, "anonymous svn update to 7 (only /secret changed)", out, "At revision 7.")
	wantNotContains(t, "anonymous svn update to 7", out, "secret", "pub/")
	if _, err := os.Stat(filepath.Join(wc, "secret")); !os.IsNotExist(err) {
		t.Errorf("the unreadable /secret is in the working copy: %v", err)
	}
	if out := svn.must(t, wc, "status", "-u"); out != "Status against revision:      7\n" {
		t.Errorf("svn status -u after the updates =\n%s", out)
	}
}

// TestSVN_OthersUnchanged checks that requests of plain WebDAV clients and
// curl on the same URLs are not taken for svn's: no svn headers, verso's
// own answers.
func TestSVN_OthersUnchanged(t *testing.T) {
	ts := seedSVN(t)
	code, _, h := ts.do(t, "OPTIONS", "/config/app", nil, "User-Agent", "curl/8.5.0")
	if code != http.StatusOK || h.Get("SVN-Youngest-Rev") != "" || strings.Contains(strings.Join(h.Values("DAV"), ","), "subversion") {
		t.Errorf("curl's OPTIONS = %d %v, want verso's WebDAV answer", code, h)
	}
	code, body, _ := ts.do(t, "PROPFIND", "/config/app", nil, "Depth", "1", "User-Agent", "litmus/0.13 neon/0.33.0")
	if code != http.StatusMultiStatus || strings.Contains(body, "subversion") || !strings.Contains(body, "/config/app/db/") {
		t.Errorf("a WebDAV client's PROPFIND = %d:\n%s", code, body)
	}
	// Other svn clients: by their User-Agent, or by the svn properties a
	// PROPFIND asks for.
	code, body, _ = ts.do(t, "PROPFIND", "/config/app", strings.NewReader(`<?xml version="1.0" encoding="utf-8"?>`+
		`<propfind xmlns="DAV:"><prop><version-name/><repository-uuid xmlns="http://subversion.tigris.org/xmlns/dav/"/></prop></propfind>`), "Depth", "0")
	if code != http.StatusMultiStatus || !strings.Contains(body, "<V:repository-uuid>") || !strings.Contains(body, "<D:version-name>9</D:version-name>") {
		t.Errorf("a PROPFIND of svn's properties = %d:\n%s", code, body)
	}
	code, _, h = ts.do(t, "OPTIONS", "/config/app", nil, "User-Agent", "SVNKit/1.10.11 (SVN/1.14.0) t20230924_1659")
	if code != http.StatusOK || h.Get("SVN-Youngest-Rev") != "9" {
		t.Errorf("SVNKit's OPTIONS = %d %v", code, h)
	}
	if body, _ := ts.must(t, 200, "GET", "/config/app/db/host", "", "User-Agent", "SVN/1.14.2"); body != "host2\n" {
		t.Errorf("GET of a key = %q", body)
	}
}

// TestSVN_BadInput checks that malformed svn requests answer 4xx with an
// svn error the client prints, hostile commit bodies too, and that svn
// lock is refused with a message that says so.
func TestSVN_BadInput(t *testing.T) {
	ts := seedSVN(t)
	ua := []string{"User-Agent", "SVN/1.14.2 (x86_64-pc-linux-gnu) serf/1.3.9"}
	for _, c := range []struct {
		method, path, body string
		want               int
		header             []string
	}{
		{"REPORT", "/config/", "<S:log-report xmlns:S=\"svn:\"><S:start-revision>", 400, nil},
		{"REPORT", "/config/", "", 400, nil},
		{"REPORT", "/config/", `<x:report xmlns:x="urn:other"/>`, 400, nil},
		{"REPORT", "/config/", `<S:replay-report xmlns:S="svn:"/>`, 501, nil},
		{"REPORT", "/config/", `<S:log-report xmlns:S="svn:"><S:start-revision>x</S:start-revision></S:log-report>`, 400, nil},
		{"REPORT", "/config/", `<S:log-report xmlns:S="svn:"><S:start-revision>99</S:start-revision></S:log-report>`, 404, nil},
		{"REPORT", "/config/", `<S:log-report xmlns:S="svn:"><S:limit>-1</S:limit></S:log-report>`, 400, nil},
		{"REPORT", "/config/!svn/me", `<S:update-report xmlns:S="svn:"><S:entry rev="1"/></S:update-report>`, 400, nil},
		{"REPORT", "/config/!svn/me", `<S:update-report xmlns:S="svn:"><S:src-path>/config</S:src-path><S:entry rev="x"/></S:update-report>`, 400, nil},
		{"REPORT", "/config/!svn/me", `<S:update-report xmlns:S="svn:"><S:src-path>/config</S:src-path><S:depth>deep</S:depth><S:entry rev="1"/></S:update-report>`, 400, nil},
		{"REPORT", "/config/!svn/me", `<S:update-report xmlns:S="svn:"><S:src-path>/elsewhere</S:src-path><S:entry rev="1"/></S:update-report>`, 400, nil},
		{"REPORT", "/config/!svn/me", `<S:update-report xmlns:S="svn:"><S:src-path>/config</S:src-path><S:update-target>a/b</S:update-target><S:entry rev="1"/></S:update-report>`, 400, nil},
		{"REPORT", "/config/!svn/me", `<S:update-report xmlns:S="svn:"><S:src-path>/config/nope</S:src-path><S:entry rev="1"/></S:update-report>`, 404, nil},
		{"REPORT", "/config/!svn/rvr/3/app", `<S:get-location-segments xmlns:S="svn:"><S:path></S:path><S:peg-revision>3</S:peg-revision><S:start-revision>3</S:start-revision><S:end-revision>5</S:end-revision></S:get-location-segments>`, 400, nil},
		{"PROPFIND", "/config/!svn/rvr/x/app", "", 400, nil},
		{"PROPFIND", "/config/!svn/rvr/99/app", "", 404, nil},
		{"PROPFIND", "/config/!svn/rvr/3/nope", "", 404, nil},
		{"PROPFIND", "/config/!svn/nothing", "", 404, nil},
		{"PROPFIND", "/config/app", "<propfind", 400, ua},
		{"PROPFIND", "/config/app", `<propfind xmlns="DAV:"/>`, 400, ua},
		{"PROPFIND", "/config/app", "", 400, append([]string{"Depth", "infinity"}, ua...)},
		{"POST", "/config/!svn/me", "( bogus )", 400, nil},
		{"POST", "/config/!svn/me", "(create-txn", 400, nil},
		{"POST", "/config/!svn/me", "( create-txn-with-props ( svn:log 99999 x ) )", 400, nil},
		{"POST", "/config/!svn/me", "( create-txn-with-props ( svn:foo 1 x ) )", 403, nil},
		{"MKACTIVITY", "/config/!svn/act/1", "", 501, nil},
		{"PUT", "/config/!svn/txr/nope/ns/key", "SVN\x00", 404, nil},
		{"MKCOL", "/config/!svn/txr/nope/ns/x", "", 404, nil},
		{"DELETE", "/config/!svn/txn/nope", "", 404, nil},
		{"MERGE", "/config/", "<D:merge xmlns:D=\"DAV:\"><D:source><D:href>/config/!svn/txn/nope</D:href></D:source></D:merge>", 404, nil},
		{"MERGE", "/config/", "<D:merge xmlns:D=\"DAV:\"><D:source><D:href>/config/!svn/rvr/1/x</D:href></D:source></D:merge>", 400, nil},
		{"MERGE", "/config/", "<D:merge", 400, nil},
		{"COPY", "/config/!svn/rvr/3/app", "", 400, []string{"Destination", "http://h/elsewhere"}},
	} {
		code, body, _ := ts.do(t, c.method, c.path, strings.NewReader(c.body), c.header...)
		if code != c.want || !strings.Contains(body, "<m:human-readable errcode=") {
			t.Errorf("%s %s %.60q = %d:\n%s\nwant %d with an svn error", c.method, c.path, c.body, code, body, c.want)
		}
	}

	svn := newSVN(t)
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", ts.URL+"/config", wc)
	if err := os.WriteFile(filepath.Join(wc, "ns/key"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = wc
}
