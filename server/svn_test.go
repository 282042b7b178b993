package server_test

// The Subversion client against verso: the real svn binary (Debian's
// subversion package) drives a real server on a loopback listener, as the
// ancestor's users drove Apache with mod_dav_svn.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso"
)

// svnClient runs the svn binary with its own empty configuration.
type svnClient struct {
	bin    string
	config string
	user   string // --username, with its password from passwords
}

// newSVN returns an svn client, or skips the test when svn is not
// installed (`apt-get install subversion`; .ci/run installs it).
func newSVN(t *testing.T) *svnClient {
	t.Helper()
	bin, err := exec.LookPath("svn")
	if err != nil {
		t.Skip("svn is not installed (Debian package subversion): the svn client tests need it")
	}
	return &svnClient{bin: bin, config: t.TempDir()}
}

// as returns the client as user.
func (c *svnClient) as(user string) *svnClient {
	cc := *c
	cc.user = user
	return &cc
}

// run runs svn in dir with args and returns its output and error.
func (c *svnClient) run(dir string, args ...string) (string, error) {
	full := []string{"--non-interactive", "--no-auth-cache", "--config-dir", c.config}
	if c.user != "" {
		full = append(full, "--username", c.user, "--password", passwords[c.user])
	}
	cmd := exec.Command(c.bin, append(full, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "http_proxy=", "HTTP_PROXY=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs svn and fails the test if it fails.
func (c *svnClient) must(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := c.run(dir, args...)
	if err != nil {
		t.Fatalf("svn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// fails runs svn, wants it to fail, and returns its output.
func (c *svnClient) fails(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := c.run(dir, args...)
	if err == nil {
		t.Fatalf("svn %s succeeded, want an error:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// seedSVN writes a small history the way the ancestor's users wrote it,
// with curl's requests, and returns the server:
//
//	r1 MKCOL /app   r2 MKCOL /app/db   r3 PUT /app/db/host = host1
//	r4 PUT /app/db/port = 5432   r5 MKCOL /ns   r6 PUT /ns/key = v1
//	r7 PROPPATCH /app/db/host owner=alice   r8 DELETE /app/db/port
//	r9 PUT /app/db/host = host2 (by "bob", message "move the database")
func seedSVN(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/app", "")
	ts.must(t, 201, "MKCOL", "/config/app/db", "")
	ts.must(t, 201, "PUT", "/config/app/db/host", "host1\n")
	ts.must(t, 201, "PUT", "/config/app/db/port", "5432\n")
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	ts.must(t, 201, "PUT", "/config/ns/key", "v1\n")
	ts.must(t, 207, "PROPPATCH", "/config/app/db/host", `<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns"><D:set><D:prop><Z:owner>alice</Z:owner></D:prop></D:set></D:propertyupdate>`)
	ts.must(t, 204, "DELETE", "/config/app/db/port", "")
	if _, err := ts.store.Commit(context.Background(), &verso.Txn{Author: "bob", Message: "move the database",
		Ops: []verso.Op{{Kind: verso.OpPut, Path: "/app/db/host", Value: []byte("host2\n")}}}); err != nil {
		t.Fatal(err)
	}
	return ts
}

// readFile returns a file's content, failing the test if it cannot.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: want %q in\n%s", what, w, got)
		}
	}
}

func wantNotContains(t *testing.T, what, got string, nots ...string) {
	t.Helper()
	for _, w := range nots {
		if strings.Contains(got, w) {
			t.Errorf("%s: want no %q in\n%s", what, w, got)
		}
	}
}

// TestSVN_InfoLsCat checks the handshake and the commands that read one
// node: svn info, svn ls -R, svn cat at a revision, svn proplist, propget.
func TestSVN_InfoLsCat(t *testing.T) {
	svn := newSVN(t)
	ts := seedSVN(t)
	url := ts.URL + "/config"
	dir := t.TempDir()

	out := svn.must(t, dir, "info", url+"/app/db/host")
	wantContains(t, "svn info", out, "Repository Root: "+url+"\n", "Revision: 9\n", "Node Kind: file\n",
		"Last Changed Rev: 9\n", "Last Changed Author: bob\n", "Relative URL: ^/app/db/host\n")
	uuid := regexp.MustCompile(`Repository UUID: ([0-9a-f-]{36})\n`).FindStringSubmatch(out)
	if uuid == nil {
		t.Fatalf("svn info: no UUID in\n%s", out)
	}
	if again := svn.must(t, dir, "info", url); !strings.Contains(again, uuid[1]) {
		t.Errorf("the UUID changed between two svn info:\n%s", again)
	}
	out = svn.must(t, dir, "info", url+"/app")
	wantContains(t, "svn info of a namespace", out, "Node Kind: directory\n", "Last Changed Rev: 9\n")

	if out := svn.must(t, dir, "ls", "-R", url); out != "app/\napp/db/\napp/db/host\nns/\nns/key\n" {
		t.Errorf("svn ls -R =\n%s", out)
	}
	if out := svn.must(t, dir, "ls", "-r", "4", url+"/app/db"); out != "host\nport\n" {
		t.Errorf("svn ls -r 4 app/db =\n%s", out)
	}
	out = svn.must(t, dir, "ls", "-v", url+"/app/db")
	wantContains(t, "svn ls -v", out, "bob", "host")

	if out := svn.must(t, dir, "cat", url+"/app/db/host"); out != "host2\n" {
		t.Errorf("svn cat = %q, want host2", out)
	}
	if out := svn.must(t, dir, "cat", "-r", "3", url+"/app/db/host"); out != "host1\n" {
		t.Errorf("svn cat -r 3 = %q, want host1", out)
	}
	if out := svn.must(t, dir, "cat", url+"/app/db/port@4"); out != "5432\n" {
		t.Errorf("svn cat port@4 = %q, want 5432 (a key deleted since)", out)
	}
	out = svn.fails(t, dir, "cat", url+"/app/db/port")
	wantContains(t, "svn cat of a deleted key", out, "160013")

	out = svn.must(t, dir, "proplist", "-v", url+"/app/db/host")
	wantContains(t, "svn proplist -v", out, "owner\n    alice")
	if out := svn.must(t, dir, "propget", "owner", url+"/app/db/host"); out != "alice\n" {
		t.Errorf("svn propget owner = %q", out)
	}
	out = svn.fails(t, dir, "propget", "owner", "-r", "6", url+"/app/db/host")
	wantContains(t, "svn propget owner -r 6 (set in r7)", out, "W200017")
}

// TestSVN_CheckoutUpdate checks checkout (the whole tree, a namespace, an
// old revision, a depth), update back and forth, and update after keys
// changed with curl.
func TestSVN_CheckoutUpdate(t *testing.T) {
	svn := newSVN(t)
	ts := seedSVN(t)
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "config")

	out := svn.must(t, dir, "checkout", url)
	wantContains(t, "svn checkout", out, "A    config/app/db/host", "A    config/ns/key", "Checked out revision 9.")
	if got := readFile(t, filepath.Join(wc, "app/db/host")); got != "host2\n" {
		t.Errorf("checked out host = %q", got)
	}
	if out := svn.must(t, wc, "propget", "owner", "app/db/host"); out != "alice\n" {
		t.Errorf("propget in the working copy = %q", out)
	}
	if out := svn.must(t, wc, "status"); out != "" {
		t.Errorf("svn status of a fresh checkout =\n%s", out)
	}

	out = svn.must(t, wc, "update", "-r", "4")
	wantContains(t, "svn update -r 4", out, "D    ns", "U   app/db/host", "A    app/db/port", "Updated to revision 4.")
	if got := readFile(t, filepath.Join(wc, "app/db/host")); got != "host1\n" {
		t.Errorf("host at r4 = %q", got)
	}
	out = svn.fails(t, wc, "propget", "owner", "app/db/host")
	wantContains(t, "owner at r4", out, "W200017")
	out = svn.must(t, wc, "update")
	wantContains(t, "svn update", out, "D    app/db/port", "A    ns/key", "Updated to revision 9.")

	// Changes made with curl reach the working copy.
	ts.must(t, 204, "PUT", "/config/ns/key", "v2\n")
	ts.must(t, 201, "MKCOL", "/config/ns/sub", "")
	ts.must(t, 201, "PUT", "/config/ns/sub/deep", "d\n")
	ts.must(t, 204, "DELETE", "/config/app/db", "")
	out = svn.must(t, wc, "status", "-u")
	wantContains(t, "svn status -u", out, "*        9   ns/key", "Status against revision:     13")
	out = svn.must(t, wc, "update")
	wantContains(t, "svn update after curl", out, "U    ns/key", "A    ns/sub/deep", "D    app/db", "Updated to revision 13.")
	if got := readFile(t, filepath.Join(wc, "ns/sub/deep")); got != "d\n" {
		t.Errorf("deep = %q", got)
	}
	if _, err := os.Stat(filepath.Join(wc, "app/db")); !os.IsNotExist(err) {
		t.Errorf("app/db is still in the working copy after its deletion: %v", err)
	}
	// A file alone, back and forth.
	out = svn.must(t, wc, "update", "-r", "6", "ns/key")
	wantContains(t, "svn update -r 6 ns/key", out, "U    ns/key")
	if got := readFile(t, filepath.Join(wc, "ns/key")); got != "v1\n" {
		t.Errorf("ns/key at r6 = %q", got)
	}
	out = svn.must(t, wc, "update", "-r", "10", "ns/key")
	wantContains(t, "svn update -r 10 ns/key", out, "U    ns/key")
	if got := readFile(t, filepath.Join(wc, "ns/key")); got != "v2\n" {
		t.Errorf("ns/key at r10 = %q", got)
	}

	// A namespace at an old revision, and depths.
	old := filepath.Join(dir, "old")
	svn.must(t, dir, "checkout", "-r", "4", url+"/app", old)
	if got := readFile(t, filepath.Join(old, "db/port")); got != "5432\n" {
		t.Errorf("port in a checkout of /app at r4 = %q", got)
	}
	shallow := filepath.Join(dir, "shallow")
	svn.must(t, dir, "checkout", "--depth", "immediates", url, shallow)
	if _, err := os.Stat(filepath.Join(shallow, "ns")); err != nil {
		t.Errorf("--depth immediates: ns missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(shallow, "ns/key")); !os.IsNotExist(err) {
		t.Errorf("--depth immediates brought ns/key: %v", err)
	}
	svn.must(t, shallow, "update", "--set-depth", "infinity", "ns")
	if got := readFile(t, filepath.Join(shallow, "ns/sub/deep")); got != "d\n" {
		t.Errorf("after --set-depth infinity, deep = %q", got)
	}
	empty := filepath.Join(dir, "empty")
	svn.must(t, dir, "checkout", "--depth", "empty", url, empty)
	if ents, _ := os.ReadDir(empty); len(ents) != 1 { // .svn alone
		t.Errorf("--depth empty checked out %d entries", len(ents))
	}
	// A path the working copy lacks: excluded, or below a depth-empty
	// checkout.
	svn.must(t, shallow, "update", "--set-depth", "exclude", "ns")
	if _, err := os.Stat(filepath.Join(shallow, "ns")); !os.IsNotExist(err) {
		t.Errorf("--set-depth exclude left ns: %v", err)
	}
	svn.must(t, shallow, "update", "--set-depth", "infinity", "ns")
	if got := readFile(t, filepath.Join(shallow, "ns/key")); got != "v2\n" {
		t.Errorf("ns/key after excluding and including ns = %q", got)
	}
	svn.must(t, empty, "update", "ns")
	if got := readFile(t, filepath.Join(empty, "ns/sub/deep")); got != "d\n" {
		t.Errorf("ns/sub/deep after svn update ns in a depth-empty checkout = %q", got)
	}

	// Export: plain files, no working copy.
	exp := filepath.Join(dir, "exp")
	svn.must(t, dir, "export", "-r", "4", url+"/app", exp)
	if got := readFile(t, filepath.Join(exp, "db/host")); got != "host1\n" {
		t.Errorf("exported host = %q", got)
	}
	if _, err := os.Stat(filepath.Join(exp, ".svn")); !os.IsNotExist(err) {
		t.Errorf("export made a .svn: %v", err)
	}

	// Switch the working copy to another namespace.
	svn.must(t, wc, "update", "-r", "9")
	out = svn.must(t, filepath.Join(wc, "ns"), "switch", "--ignore-ancestry", "-r", "9", url+"/app")
	wantContains(t, "svn switch", out, "D    key", "A    db")
	if got := readFile(t, filepath.Join(wc, "ns/db/host")); got != "host2\n" {
		t.Errorf("after switch, ns/db/host = %q", got)
	}
	// An update of the whole working copy keeps the switched namespace
	// switched.
	ts.must(t, 204, "PUT", "/config/ns/key", "v3\n") // r14, on the namespace ns no longer shows
	out = svn.must(t, wc, "update", "-r", "14")
	wantContains(t, "svn update of a switched working copy", out, "D    ns/db") // /app/db was deleted in r13
	if got := svn.must(t, wc, "info", "--show-item", "url", "ns"); got != url+"/app\n" {
		t.Errorf("after an update, ns is at %q, want %s/app", got, url)
	}
	if _, err := os.Stat(filepath.Join(wc, "ns/key")); !os.IsNotExist(err) {
		t.Errorf("an update undid the switch of ns: %v", err)
	}
}

// TestSVN_Log checks svn log: the whole tree, a namespace, a key, -v with
// copies, both directions, -l, --xml, --stop-on-copy.
func TestSVN_Log(t *testing.T) {
	svn := newSVN(t)
	ts := seedSVN(t)
	url := ts.URL + "/config"
	dir := t.TempDir()
	ts.must(t, 201, "COPY", "/config/ns", "", "Destination", ts.URL+"/config/ns2") // r10

	out := svn.must(t, dir, "log", url)
	wantContains(t, "svn log", out,
		"r9 | bob | ", "move the database",
		"r1 | (no author) | ", "MKCOL /app\n")
	if n := strings.Count(out, "\nr"); n != 10 {
		t.Errorf("svn log lists %d revisions, want 10:\n%s", n, out)
	}
	if i, j := strings.Index(out, "r10 |"), strings.Index(out, "r1 |"); i < 0 || j < i {
		t.Errorf("svn log is not newest first:\n%s", out)
	}

	out = svn.must(t, dir, "log", "-v", "-r", "10", url)
	wantContains(t, "svn log -v of a copy", out, "   A /ns2 (from /ns:9)\n")
	wantNotContains(t, "svn log -v of a copy (its keys are implied, as in svn)", out, "/ns2/key")
	out = svn.must(t, dir, "log", "-v", "-r", "8", url)
	wantContains(t, "svn log -v of a delete", out, "   D /app/db/port\n")
	out = svn.must(t, dir, "log", "-v", "-r", "7", url)
	wantContains(t, "svn log -v of a property change", out, "   M /app/db/host\n")

	out = svn.must(t, dir, "log", "-q", "-r", "3:5", url)
	if got := revsOf(out); got != "3 4 5" {
		t.Errorf("svn log -r 3:5 = %s, want 3 4 5", got)
	}
	out = svn.must(t, dir, "log", "-q", "-r", "5:3", url)
	if got := revsOf(out); got != "5 4 3" {
		t.Errorf("svn log -r 5:3 = %s, want 5 4 3", got)
	}
	out = svn.must(t, dir, "log", "-q", "-l", "2", url)
	if got := revsOf(out); got != "10 9" {
		t.Errorf("svn log -l 2 = %s, want 10 9", got)
	}
	out = svn.must(t, dir, "log", "-q", "-l", "2", "-r", "1:HEAD", url)
	if got := revsOf(out); got != "1 2" {
		t.Errorf("svn log -l 2 -r 1:HEAD = %s, want 1 2", got)
	}

	out = svn.must(t, dir, "log", "-q", url+"/app")
	if got := revsOf(out); got != "9 8 7 4 3 2 1" {
		t.Errorf("svn log of /app = %s", got)
	}
	out = svn.must(t, dir, "log", "-q", url+"/app/db/host")
	if got := revsOf(out); got != "9 7 3" {
		t.Errorf("svn log of /app/db/host = %s", got)
	}
	out = svn.must(t, dir, "log", "-q", url+"/app/db/port@4")
	if got := revsOf(out); got != "4" {
		t.Errorf("svn log of a deleted key at its peg = %s", got)
	}
	out = svn.must(t, dir, "log", "-q", "--stop-on-copy", url+"/ns2")
	if got := revsOf(out); got != "10" {
		t.Errorf("svn log --stop-on-copy of a copy = %s", got)
	}
	out = svn.must(t, dir, "log", "-q", url+"/ns2")
	if got := revsOf(out); got != "10 6 5" {
		t.Errorf("svn log of a copy = %s, want the copy and its source's history, 10 6 5", got)
	}
	out = svn.must(t, dir, "log", "-q", url+"/ns2/key")
	if got := revsOf(out); got != "10 6" {
		t.Errorf("svn log of a key in a copy = %s, want 10 6", got)
	}
	// Older revisions of a copy are found at the source's path.
	if out := svn.must(t, dir, "cat", "-r", "6", url+"/ns2/key"); out != "v1\n" {
		t.Errorf("svn cat -r 6 of a key copied in r10 = %q", out)
	}
	out = svn.must(t, dir, "diff", "-r", "5:10", url+"/ns2")
	wantContains(t, "svn diff -r 5:10 of a copied namespace", out, "+v1\n")
	out = svn.must(t, dir, "info", "-r", "6", url+"/ns2/key@10")
	wantContains(t, "svn info -r 6 of a copied key", out, "URL: "+url+"/ns/key\n", "Last Changed Rev: 6\n")
	// A key deleted and made again is a new node, with a history of its own.
	ts.must(t, 204, "DELETE", "/config/ns/key", "")   // r11
	ts.must(t, 201, "PUT", "/config/ns/key", "new\n") // r12
	out = svn.must(t, dir, "log", "-q", url+"/ns/key")
	if got := revsOf(out); got != "12" {
		t.Errorf("svn log of a key made again = %s, want 12", got)
	}
	out = svn.must(t, dir, "blame", url+"/ns2/key")
	if out != "     6          - v1\n" {
		t.Errorf("svn blame of a copied key =\n%s", out)
	}

	out = svn.must(t, dir, "log", "--xml", "-v", "-r", "9", url)
	wantContains(t, "svn log --xml", out, `revision="9"`, "<author>bob</author>", "<msg>move the database</msg>",
		`action="M"`, `kind="file"`, `text-mods="true"`, `prop-mods="false"`, ">/app/db/host</path>")
	out = svn.must(t, dir, "log", "--xml", "-v", "-r", "7", url)
	wantContains(t, "svn log --xml of a property change", out, `text-mods="false"`, `prop-mods="true"`)

	// In a working copy, svn log starts from its revision.
	svn.must(t, dir, "checkout", "-r", "5", url, filepath.Join(dir, "wc"))
	out = svn.must(t, filepath.Join(dir, "wc"), "log", "-q")
	if got := revsOf(out); got != "5 4 3 2 1" {
		t.Errorf("svn log in a working copy at r5 = %s", got)
	}
}

// revsOf returns the revision numbers of svn log -q output, in order.
func revsOf(out string) string {
	var revs []string
	for _, m := range regexp.MustCompile(`(?m)^r(\d+) \|`).FindAllStringSubmatch(out, -1) {
		revs = append(revs, m[1])
	}
	return strings.Join(revs, " ")
}

// TestSVN_DiffBlame checks svn diff between revisions (URL and working
// copy) and svn blame.
func TestSVN_DiffBlame(t *testing.T) {
	svn := newSVN(t)
	ts := seedSVN(t)
	url := ts.URL + "/config"
	dir := t.TempDir()

	out := svn.must(t, dir, "diff", "-r", "3:9", url)
	wantContains(t, "svn diff -r 3:9", out,
		"--- app/db/host\t(revision 3)\n+++ app/db/host\t(revision 9)\n@@ -1 +1 @@\n-host1\n+host2\n",
		"Added: owner\n## -0,0 +1 ##\n+alice\n",
		"--- ns/key\t(nonexistent)\n+++ ns/key\t(revision 9)\n@@ -0,0 +1 @@\n+v1\n")
	out = svn.must(t, dir, "diff", "-r", "9:4", url+"/app")
	wantContains(t, "svn diff -r 9:4 /app", out, "-host2\n+host1\n", "+5432\n", "Deleted: owner")
	out = svn.must(t, dir, "diff", "-c", "8", url)
	wantContains(t, "svn diff -c 8", out, "--- app/db/port\t(revision 7)\n+++ app/db/port\t(nonexistent)\n@@ -1 +0,0 @@\n-5432\n")
	out = svn.must(t, dir, "diff", "--summarize", "-r", "2:9", url)
	wantContains(t, "svn diff --summarize", out, "A       "+url+"/app/db/host\n", "A       "+url+"/ns\n")

	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", url, wc)
	if err := os.WriteFile(filepath.Join(wc, "ns/key"), []byte("local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = svn.must(t, wc, "diff")
	wantContains(t, "svn diff of a local change", out, "-v1\n+local\n")
	out = svn.must(t, wc, "diff", "-r", "3", "app")
	wantContains(t, "svn diff -r 3 in a working copy", out, "-host1\n+host2\n")

	out = svn.must(t, dir, "blame", url+"/app/db/host")
	if out != "     9        bob host2\n" {
		t.Errorf("svn blame =\n%s", out)
	}
	ts.must(t, 204, "PUT", "/config/ns/key", "line1\nline2\n")   // r10
	ts.must(t, 204, "PUT", "/config/ns/key", "line1\nchanged\n") // r11
	out = svn.must(t, dir, "blame", url+"/ns/key")
	if out != "    10          - line1\n    11          - changed\n" {
		t.Errorf("svn blame of two revisions =\n%s", out)
	}
	out = svn.must(t, dir, "blame", "-r", "10", url+"/ns/key")
	if out != "    10          - line1\n    10          - line2\n" {
		t.Errorf("svn blame -r 10 =\n%s", out)
	}
}

// TestSVN_EmptyStore checks a checkout of an empty store, which later
// commits update: the repository UUID does not change with the first
// commit.
func TestSVN_EmptyStore(t *testing.T) {
	svn := newSVN(t)
	ts := newTestServer(t, nil)
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	out := svn.must(t, dir, "checkout", url, wc)
	wantContains(t, "svn checkout of an empty store", out, "Checked out revision 0.")
	if out := svn.must(t, dir, "log", url); strings.Contains(out, "\nr") {
		t.Errorf("svn log of an empty store =\n%s", out)
	}
	ts.must(t, 201, "MKCOL", "/config/namespace", "")
	ts.must(t, 201, "PUT", "/config/namespace/key", "value\n")
	out = svn.must(t, wc, "update")
	wantContains(t, "svn update after the first commits", out, "A    namespace/key", "Updated to revision 2.")
}

// TestSVN_Values checks that texts and names arrive byte for byte: a
// binary value of several svndiff windows, CRLF line ends, an empty key,
// names with spaces and accents, and properties that are not XML text.
func TestSVN_Values(t *testing.T) {
	svn := newSVN(t)
	ts := newTestServer(t, nil)
	big := make([]byte, 300_000)
	for i := range big {
		big[i] = byte(i*7 + i/251)
	}
	custom := "{http://subversion.tigris.org/xmlns/custom/}"
	if _, err := ts.store.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpMkcol, Path: "/my dir"},
		{Kind: verso.OpPut, Path: "/my dir/clé un", Value: []byte("a\r\nb\r\n")},
		{Kind: verso.OpPut, Path: "/my dir/big", Value: big},
		{Kind: verso.OpPut, Path: "/my dir/empty", Value: nil},
		{Kind: verso.OpProps, Path: "/my dir/big", Props: []verso.PropChange{
			{Name: custom + "ctl", Value: "x\x01y"},
			{Name: custom + "amp", Value: "a &amp; b &lt;c&gt;"},
			{Name: "{http://subversion.tigris.org/xmlns/svn/}ignore", Value: "*.tmp\n"},
		}},
	}}); err != nil {
		t.Fatal(err)
	}
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", url, wc)
	for name, want := range map[string]string{"my dir/clé un": "a\r\nb\r\n", "my dir/big": string(big), "my dir/empty": ""} {
		if got := readFile(t, filepath.Join(wc, name)); got != want {
			t.Errorf("checked out %q: %d bytes, want %d", name, len(got), len(want))
		}
	}
	if out := svn.must(t, dir, "cat", url+"/my%20dir/cl%C3%A9%20un"); out != "a\r\nb\r\n" {
		t.Errorf("svn cat of an accented name = %q", out)
	}
	if out := svn.must(t, dir, "cat", url+"/my dir/big"); out != string(big) {
		t.Errorf("svn cat of a 300 kB binary value: %d bytes, want %d", len(out), len(big))
	}
	for _, target := range []string{url + "/my dir/big", filepath.Join(wc, "my dir/big")} {
		if out := svn.must(t, dir, "propget", "ctl", target); out != "x\x01y\n" {
			t.Errorf("propget ctl %s = %q", target, out)
		}
		if out := svn.must(t, dir, "propget", "amp", target); out != "a & b <c>\n" {
			t.Errorf("propget amp %s = %q", target, out)
		}
		if out := svn.must(t, dir, "propget", "svn:ignore", target); out != "*.tmp\n\n" {
			t.Errorf("propget svn:ignore %s = %q", target, out)
		}
	}
}

// TestSVN_SwitchToCopy checks that a copy shares its source's ancestry: a
// working copy of a namespace switches to a copy of it without
// --ignore-ancestry, keeping its local changes, and not to an unrelated
// namespace.
func TestSVN_SwitchToCopy(t *testing.T) {
	svn := newSVN(t)
	ts := seedSVN(t)
	ts.must(t, 201, "COPY", "/config/ns", "", "Destination", ts.URL+"/config/ns2") // r10
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "ns")
	svn.must(t, dir, "checkout", url+"/ns", wc)
	if err := os.WriteFile(filepath.Join(wc, "key"), []byte("local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := svn.must(t, wc, "switch", url+"/ns2")
	wantNotContains(t, "svn switch to a copy", out, "D    key", "A    key")
	if got := svn.must(t, wc, "info", "--show-item", "url"); got != url+"/ns2\n" {
		t.Errorf("after switch, the working copy is at %q", got)
	}
	if got := svn.must(t, wc, "status"); got != "M       key\n" {
		t.Errorf("after switch, svn status =\n%s", got)
	}
	out = svn.fails(t, wc, "switch", url+"/app")
	wantContains(t, "svn switch to an unrelated namespace", out, "E195012")
}

// TestSVN_PrunedHistory checks working copies of pruned revisions: an
// update replaces what --keep-versions dropped, and one older than the
// history --keep-for keeps is refused with what to do.
func TestSVN_PrunedHistory(t *testing.T) {
	svn := newSVN(t)
	ts := seedSVN(t)
	pruner, ok := ts.store.(verso.Pruner)
	if !ok {
		t.Skipf("%T does not prune history", ts.store)
	}
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", "-r", "4", url, wc)
	old := filepath.Join(dir, "old")
	svn.must(t, dir, "checkout", "-r", "5", url, old)
	if _, err := pruner.Prune(context.Background(), verso.Retention{KeepVersions: 1}, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := svn.must(t, wc, "update")
	wantContains(t, "svn update of a working copy whose states were pruned", out, "Updated to revision 9.")
	if got := readFile(t, filepath.Join(wc, "app/db/host")); got != "host2\n" {
		t.Errorf("host after the update = %q", got)
	}
	if out := svn.must(t, wc, "propget", "owner", "app/db/host"); out != "alice\n" {
		t.Errorf("owner after the update = %q", out)
	}
	if _, err := os.Stat(filepath.Join(wc, "app/db/port")); !os.IsNotExist(err) {
		t.Errorf("port, deleted in r8, is still there: %v", err)
	}

	out = svn.fails(t, dir, "checkout", "-r", "5", url, filepath.Join(dir, "pruned"))
	wantContains(t, "svn checkout of a revision partly pruned", out, "older versions were pruned")

	time.Sleep(10 * time.Millisecond)
	ts.must(t, 204, "PUT", "/config/ns/key", "v2\n") // r10
	if _, err := pruner.Prune(context.Background(), verso.Retention{KeepFor: time.Millisecond}, time.Now()); err != nil {
		t.Fatal(err)
	}
	out = svn.fails(t, old, "update")
	wantContains(t, "svn update of a working copy older than the history kept", out, "older than the history verso keeps", "check it out again")
}
