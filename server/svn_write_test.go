package server_test

// The Subversion client's writes: svn commit, add, rm, mkdir, import,
// propset, cp and mv through the real svn binary, each one verso revision.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/server"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// entry returns the entry at p at the head, failing the test if there is none.
func entryOf(t *testing.T, ts *testServer, p verso.Path) *verso.Entry {
	t.Helper()
	e, err := ts.store.Get(context.Background(), p, verso.Head)
	if err != nil {
		t.Fatalf("Get(%s): %v", p, err)
	}
	return e
}

// TestSVN_Commit checks svn commit of a working copy: edits, adds of files
// (binary, empty, unicode and space in names) and directories, deletes and
// property changes, all in one verso revision with svn's message and the
// user as author; then the URL commands: mkdir, import, rm, cp, mv.
func TestSVN_Commit(t *testing.T) {
	svn := newSVN(t).as("alice")
	ts := newAccessServer(t, nil)
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", url, wc)
	head := ts.head(t)

	writeFile(t, filepath.Join(wc, "pub/k"), []byte("edited\n"))
	binary := make([]byte, 3000)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	writeFile(t, filepath.Join(wc, "pub/blob.bin"), binary)
	writeFile(t, filepath.Join(wc, "pub/empty"), nil)
	writeFile(t, filepath.Join(wc, "pub/größe mit leer"), []byte("unicode\n"))
	writeFile(t, filepath.Join(wc, "newdir/sub/leaf"), []byte("leaf\n"))
	svn.must(t, wc, "add", "pub/blob.bin", "pub/empty", "pub/größe mit leer", "newdir")
	svn.must(t, wc, "propset", "owner", "alice", "pub/k")
	svn.must(t, wc, "propset", "svn:ignore", "*.tmp", "newdir")
	svn.must(t, wc, "rm", "team/locked/k")
	out := svn.must(t, wc, "commit", "-m", "svn's message\nsecond line")
	wantContains(t, "svn commit", out, "Committed revision "+revStr(head+1)+".")
	if got := ts.head(t); got != head+1 {
		t.Fatalf("head after one svn commit = %d, want %d", got, head+1)
	}
	edited := head + 1 // /pub/k is "edited\n" there
	c, err := ts.store.Revision(context.Background(), head+1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Author != "alice" || c.Message != "svn's message\nsecond line" {
		t.Errorf("the commit's author and message = %q, %q", c.Author, c.Message)
	}
	if body, _ := ts.must(t, 200, "GET", "/config/pub/k", ""); body != "edited\n" {
		t.Errorf("curl GET /pub/k = %q", body)
	}
	if e := entryOf(t, ts, "/pub/blob.bin"); !bytes.Equal(e.Value, binary) {
		t.Errorf("the binary file is %d bytes, not the 3000 written", len(e.Value))
	} else if e.Props["{http://subversion.tigris.org/xmlns/svn/}mime-type"] != "application/octet-stream" {
		t.Errorf("the binary file's props = %v", e.Props)
	}
	if e := entryOf(t, ts, "/pub/empty"); len(e.Value) != 0 {
		t.Errorf("the empty file = %q", e.Value)
	}
	if e := entryOf(t, ts, "/pub/größe mit leer"); string(e.Value) != "unicode\n" {
		t.Errorf("the unicode file = %q", e.Value)
	}
	if e := entryOf(t, ts, "/newdir/sub/leaf"); string(e.Value) != "leaf\n" {
		t.Errorf("newdir/sub/leaf = %q", e.Value)
	}
	if e := entryOf(t, ts, "/pub/k"); e.Props["{http://subversion.tigris.org/xmlns/custom/}owner"] != "alice" {
		t.Errorf("/pub/k props = %v", e.Props)
	}
	body, _ := ts.must(t, 207, "PROPFIND", "/config/newdir", "", "Depth", "0")
	wantContains(t, "WebDAV PROPFIND of the svn:ignore set with svn", body, "*.tmp")
	if _, err := ts.store.Get(context.Background(), "/team/locked/k", verso.Head); err == nil {
		t.Errorf("/team/locked/k is still there after svn rm and commit")
	}
	out = svn.must(t, wc, "log", "-v", "-r", "HEAD", url)
	wantContains(t, "svn log -v of the commit", out, "alice", "svn's message", "   A /newdir/sub/leaf\n", "   M /pub/k\n", "   D /team/locked/k\n")

	// a second edit: the delta applies to the text of the first
	writeFile(t, filepath.Join(wc, "pub/k"), []byte("edited\nagain\n"))
	svn.must(t, wc, "propdel", "owner", "pub/k")
	svn.must(t, wc, "commit", "-m", "again")
	if e := entryOf(t, ts, "/pub/k"); string(e.Value) != "edited\nagain\n" || len(e.Props) != 0 {
		t.Errorf("/pub/k after the second commit = %q %v", e.Value, e.Props)
	}

	// URL commands
	svn.must(t, dir, "mkdir", "-m", "make", url+"/made")
	imp := filepath.Join(dir, "imp")
	writeFile(t, filepath.Join(imp, "a"), []byte("a\n"))
	writeFile(t, filepath.Join(imp, "d/b"), []byte("b\n"))
	head = ts.head(t)
	svn.must(t, dir, "import", "-m", "import", imp, url+"/made/imp")
	if ts.head(t) != head+1 || string(entryOf(t, ts, "/made/imp/d/b").Value) != "b\n" {
		t.Errorf("svn import: head %d (want %d), d/b", ts.head(t), head+1)
	}
	svn.must(t, dir, "cp", "-m", "copy", url+"/made/imp", url+"/made/copy")
	svn.must(t, dir, "mv", "-m", "move", url+"/made/copy/a", url+"/made/moved")
	svn.must(t, dir, "rm", "-m", "remove", url+"/made/imp/d")
	out = svn.must(t, dir, "ls", "-R", url+"/made")
	if out != "copy/\ncopy/d/\ncopy/d/b\nimp/\nimp/a\nmoved\n" {
		t.Errorf("svn ls -R made =\n%s", out)
	}
	out = svn.must(t, dir, "log", "-v", "-l", "3", url)
	wantContains(t, "svn log -v of the URL commands", out, "A /made/copy (from /made/imp:", "A /made/moved (from /made/copy/a:", "D /made/copy/a\n", "D /made/imp/d\n")

	// a copy of an older revision of a key changed since
	svn.must(t, dir, "cp", "-m", "old copy", url+"/pub/k@"+revStr(edited), url+"/pub/k-old")
	if e := entryOf(t, ts, "/pub/k-old"); string(e.Value) != "edited\n" {
		t.Errorf("copy of /pub/k@%d = %q, want its text then", edited, e.Value)
	}
	out = svn.must(t, dir, "log", "-v", "-l", "1", url)
	wantContains(t, "svn log -v of a copy of an old revision", out, "A /pub/k-old (from /pub/k:"+revStr(edited)+")")

	// working copy copy and move
	svn.must(t, wc, "update")
	svn.must(t, wc, "cp", "pub", "pub2")
	svn.must(t, wc, "mv", "pub2/k", "pub2/k-moved")
	svn.must(t, wc, "commit", "-m", "wc copy and move")
	if string(entryOf(t, ts, "/pub2/k-moved").Value) != "edited\nagain\n" {
		t.Errorf("pub2/k-moved wrong")
	}
	if _, err := ts.store.Get(context.Background(), "/pub2/k", verso.Head); err == nil {
		t.Errorf("pub2/k is still there after the move")
	}
	svn.must(t, wc, "update")
	out = svn.must(t, wc, "status")
	if out != "" {
		t.Errorf("svn status after commits and update =\n%s", out)
	}
}

func revStr(r verso.Revision) string { return strconv.FormatInt(int64(r), 10) }

// newAccessServerWith is newAccessServer with server options of its own
// (the users and rules files are set here).
func newAccessServerWith(t *testing.T, so server.Options) *testServer {
	t.Helper()
	users, rules := accessFiles(t)
	a, err := auth.New(&auth.Options{Users: users, Rules: rules})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	so.Auth = a
	ts := newTestServer(t, &so)
	var ops []verso.Op
	for _, ns := range []string{"/pub", "/team", "/team/locked"} {
		ops = append(ops, verso.Op{Kind: verso.OpMkcol, Path: verso.MustPath(ns)})
	}
	for _, k := range []string{"/pub/k", "/team/k", "/team/locked/k"} {
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(k), Value: []byte("v1 " + k + "\n")})
	}
	if _, err := ts.store.Commit(context.Background(), &verso.Txn{Author: "seed", Message: "seed", Ops: ops}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return ts
}

// TestSVN_CommitOutOfDate checks that a commit based on an old text of a
// key changed with curl meanwhile is refused as out of date, nothing
// written, and that svn update then merges.
func TestSVN_CommitOutOfDate(t *testing.T) {
	svn := newSVN(t)
	ts := newTestServer(t, nil)
	url := ts.URL + "/config"
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	ts.must(t, 201, "PUT", "/config/ns/key", "a\nb\nc\n")
	ts.must(t, 201, "PUT", "/config/ns/other", "o\n")
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	svn.must(t, dir, "checkout", url, wc)
	ts.must(t, 204, "PUT", "/config/ns/key", "A\nb\nc\n") // r4 by curl
	writeFile(t, filepath.Join(wc, "ns/key"), []byte("a\nb\nC\n"))
	writeFile(t, filepath.Join(wc, "ns/other"), []byte("o2\n"))
	out := svn.fails(t, wc, "commit", "-m", "stale")
	wantContains(t, "svn commit of a stale key", out, "out of date")
	if got := ts.head(t); got != 4 {
		t.Errorf("head after a refused commit = %d, want 4", got)
	}
	if e := entryOf(t, ts, "/ns/other"); string(e.Value) != "o\n" {
		t.Errorf("a refused commit wrote ns/other: %q", e.Value)
	}
	out = svn.must(t, wc, "update")
	wantContains(t, "svn update", out, "G    ns/key")
	svn.must(t, wc, "commit", "-m", "merged")
	if e := entryOf(t, ts, "/ns/key"); string(e.Value) != "A\nb\nC\n" {
		t.Errorf("ns/key after merge and commit = %q", e.Value)
	}

	// deleting a namespace changed meanwhile is out of date too
	ts.must(t, 201, "PUT", "/config/ns/new", "n\n")
	svn.must(t, wc, "rm", "ns")
	out = svn.fails(t, wc, "commit", "-m", "rm stale")
	wantContains(t, "svn rm of a namespace changed meanwhile", out, "out of date")
	if _, err := ts.store.Get(context.Background(), "/ns/new", verso.Head); err != nil {
		t.Errorf("ns/new: %v", err)
	}
}

// TestSVN_CommitRules checks access and size rules: one path the user may
// not write refuses the whole commit, naming it; a file over
// --max-value-size gives a clear error.
func TestSVN_CommitRules(t *testing.T) {
	svn := newSVN(t)
	ts := newAccessServerWith(t, server.Options{MaxValueSize: 100})
	url := ts.URL + "/config"
	dir := t.TempDir()
	wc := filepath.Join(dir, "wc")
	bob := svn.as("bob")
	bob.must(t, dir, "checkout", url+"/team", wc)
	head := ts.head(t)
	writeFile(t, filepath.Join(wc, "new"), []byte("bob's\n"))
	bob.must(t, wc, "add", "new")
	writeFile(t, filepath.Join(wc, "locked/k"), []byte("changed\n"))
	out := bob.fails(t, wc, "commit", "-m", "both")
	wantContains(t, "bob's commit with a path he may not write", out, "/team/locked/k", "forbidden")
	if got := ts.head(t); got != head {
		t.Errorf("head after a refused commit = %d, want %d", got, head)
	}
	bob.must(t, wc, "revert", "locked/k")
	writeFile(t, filepath.Join(wc, "new"), bytes.Repeat([]byte("x"), 200))
	out = bob.fails(t, wc, "commit", "-m", "big")
	wantContains(t, "a commit of a file over the size limit", out, "max-value-size")
	writeFile(t, filepath.Join(wc, "new"), []byte("small\n"))
	bob.must(t, wc, "commit", "-m", "small")
	if got := ts.head(t); got != head+1 {
		t.Errorf("head = %d, want %d", got, head+1)
	}
	out = svn.fails(t, dir, "mkdir", "-m", "anon", url+"/team/anon")
	wantContains(t, "anonymous svn mkdir", out, "E215004")
}

// TestSVN_Lock checks that svn lock takes the lock WebDAV clients see and
// honour, that it holds off other svn users' commits, that the lock
// holder's commit releases it, and svn unlock.
func TestSVN_Lock(t *testing.T) {
	svn := newSVN(t)
	ts := newAccessServer(t, nil)
	url := ts.URL + "/config"
	dir := t.TempDir()
	alice, bob := svn.as("alice"), svn.as("bob")
	wa, wb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	alice.must(t, dir, "checkout", url+"/team", wa)
	bob.must(t, dir, "checkout", url+"/team", wb)

	out := alice.must(t, wa, "lock", "-m", "editing", "k")
	wantContains(t, "svn lock", out, "'k' locked by user 'alice'")
	code, body, _ := ts.as(t, "alice", "PROPFIND", "/config/team/k", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`, "Depth", "0")
	if code != 207 || !strings.Contains(body, "activelock") || !strings.Contains(body, "editing") {
		t.Errorf("WebDAV PROPFIND lockdiscovery of an svn-locked key = %d\n%s", code, body)
	}
	if code, _, _ := ts.as(t, "alice", "PUT", "/config/team/k", "by curl\n"); code != 423 {
		t.Errorf("PUT without the token of svn's lock = %d, want 423", code)
	}
	out = bob.must(t, wb, "status", "-u")
	wantContains(t, "bob's svn status -u of a key alice locked", out, "O ")
	out = bob.must(t, dir, "info", url+"/team/k")
	wantContains(t, "svn info of a locked key", out, "Lock Owner: alice", "Lock Comment (1 line):\nediting")
	writeFile(t, filepath.Join(wb, "k"), []byte("bob's\n"))
	out = bob.fails(t, wb, "commit", "-m", "bob")
	wantContains(t, "bob's commit of a key alice locked", out, "locked")
	head := ts.head(t)
	writeFile(t, filepath.Join(wa, "k"), []byte("alice's\n"))
	alice.must(t, wa, "commit", "-m", "alice")
	if ts.head(t) != head+1 || string(entryOf(t, ts, "/team/k").Value) != "alice's\n" {
		t.Errorf("the lock holder's commit did not write")
	}
	if code, _, _ := ts.as(t, "alice", "PUT", "/config/team/k", "by curl\n"); code != 204 {
		t.Errorf("PUT after the commit released the lock = %d, want 204", code)
	}
	alice.must(t, wa, "update")
	alice.must(t, wa, "lock", "k")
	if code, _, _ := ts.as(t, "alice", "PUT", "/config/team/k", "again\n"); code != 423 {
		t.Errorf("PUT while locked again = %d, want 423", code)
	}
	alice.must(t, dir, "unlock", url+"/team/k")
	if code, _, _ := ts.as(t, "alice", "PUT", "/config/team/k", "again\n"); code != 204 {
		t.Errorf("PUT after svn unlock = %d, want 204", code)
	}
}

// TestSVN_CommitRace checks the conditions a commit carries into its verso
// transaction: a key changed with curl between svn's PUT and its MERGE
// refuses the MERGE as out of date, and nothing of it is written.
func TestSVN_CommitRace(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	ts.must(t, 201, "PUT", "/config/ns/key", "v1\n") // r2
	_, h := ts.must(t, 201, "POST", "/config/!svn/me", "( create-txn-with-props ( svn:log 4 race ) )", "Content-Type", "application/vnd.svn-skel")
	txn := h.Get("SVN-Txn-Name")
	if txn == "" {
		t.Fatalf("POST create-txn: no SVN-Txn-Name")
	}
	full := svndiffV2
	ts.must(t, 204, "PUT", "/config/!svn/txr/"+txn+"/ns/key", full, "X-SVN-Version-Name", "2")
	ts.must(t, 201, "PUT", "/config/!svn/txr/"+txn+"/ns/new", full)
	ts.must(t, 204, "PUT", "/config/ns/key", "by curl\n") // r3, meanwhile
	merge := `<?xml version="1.0" encoding="utf-8"?><D:merge xmlns:D="DAV:"><D:source><D:href>/config/!svn/txn/` + txn + `</D:href></D:source><D:no-auto-merge/><D:no-checkout/></D:merge>`
	code, body, _ := ts.do(t, "MERGE", "/config/", strings.NewReader(merge))
	if code != 409 || !strings.Contains(body, "out of date") || !strings.Contains(body, `errcode="160024"`) {
		t.Errorf("MERGE after a change meanwhile = %d\n%s\nwant 409 out of date", code, body)
	}
	if got := ts.head(t); got != 3 {
		t.Errorf("head = %d, want 3: the refused commit wrote", got)
	}
	ts.must(t, 204, "DELETE", "/config/!svn/txn/"+txn, "")
	ts.must(t, 404, "DELETE", "/config/!svn/txn/"+txn, "")
}

// TestSVN_MergeChecksLocks checks the locks again when the transaction is
// committed, as Subversion does: a lock taken after a change was sent and
// before the MERGE refuses the MERGE, writing nothing, unless the MERGE
// body lists its token; the transaction stays open.
func TestSVN_MergeChecksLocks(t *testing.T) {
	ts := newAccessServer(t, nil)
	head := ts.head(t)
	txn := ts.beginSvnTxn(t, "alice", "( create-txn-with-props ( svn:log 5 locks ) )")
	full := svndiffV2
	if code, body, _ := ts.as(t, "alice", "PUT", "/config/!svn/txr/"+txn+"/team/k", full, "X-SVN-Version-Name", revStr(entryOf(t, ts, "/team/k").ModRev)); code != 204 {
		t.Fatalf("PUT of /team/k into the transaction = %d %s", code, body)
	}
	if code, body, _ := ts.as(t, "alice", "PUT", "/config/!svn/txr/"+txn+"/team/new", full); code != 201 {
		t.Fatalf("PUT of the new /team/new into the transaction = %d %s", code, body)
	}
	lock := func(p string, header ...string) string {
		t.Helper()
		code, body, h := ts.as(t, "bob", "LOCK", "/config"+p, lockBody, header...)
		if code != 200 || h.Get("Lock-Token") == "" {
			t.Fatalf("bob's LOCK of %s = %d\n%s", p, code, body)
		}
		return strings.Trim(h.Get("Lock-Token"), "<>")
	}
	merge := func(tokens map[string]string) (int, string) {
		t.Helper()
		list := ""
		for p, tok := range tokens {
			list += "<S:lock><S:lock-path>" + p + "</S:lock-path><S:lock-token>" + tok + "</S:lock-token></S:lock>"
		}
		if list != "" {
			list = `<S:lock-token-list xmlns:S="svn:">` + list + "</S:lock-token-list>"
		}
		code, body, _ := ts.as(t, "alice", "MERGE", "/config/", `<?xml version="1.0" encoding="utf-8"?><D:merge xmlns:D="DAV:"><D:source><D:href>/config/!svn/txn/`+txn+`</D:href></D:source><D:no-auto-merge/><D:no-checkout/>`+list+`</D:merge>`)
		return code, body
	}
	refused := func(what string, tokens map[string]string) {
		t.Helper()
		code, body := merge(tokens)
		if code != 423 || !strings.Contains(body, `errcode="160035"`) || !strings.Contains(body, "is locked") {
			t.Errorf("MERGE %s = %d\n%s\nwant 423, svn's locked error", what, code, body)
		}
		if got := ts.head(t); got != head {
			t.Fatalf("head = %d, want %d: the refused MERGE %s wrote", got, head, what)
		}
	}

	kTok := lock("/team/k")
	refused("after bob locked a key it changes", nil)
	refused("with a token that is not the lock's", map[string]string{"team/k": "opaquelocktoken:nope"})
	nsTok := lock("/team", "Depth", "0") // holds off the namespace's membership
	refused("with the key's token, after bob locked the membership of the namespace it adds a key to", map[string]string{"team/k": kTok})
	if code, body := merge(map[string]string{"team/k": kTok, "team": nsTok}); code != 200 {
		t.Fatalf("MERGE with the locks' tokens = %d\n%s", code, body)
	}
	if got := ts.head(t); got != head+1 || string(entryOf(t, ts, "/team/k").Value) != "v2\n" || string(entryOf(t, ts, "/team/new").Value) != "v2\n" {
		t.Errorf("head = %d, want %d with the transaction's changes", got, head+1)
	}
}

// svndiffV2 is an svndiff0 delta whose new data is "v2\n".
const svndiffV2 = "SVN\x00\x00\x00\x03\x01\x03\x83v2\n"

// beginSvnTxn opens an svn commit transaction as user with the skel
// command create (create-txn, or create-txn-with-props) and returns its
// name.
func (ts *testServer) beginSvnTxn(t *testing.T, user, create string) string {
	t.Helper()
	code, _, h := ts.as(t, user, "POST", "/config/!svn/me", create, "Content-Type", "application/vnd.svn-skel")
	txn := h.Get("SVN-Txn-Name")
	if code != 201 || txn == "" {
		t.Fatalf("POST %s = %d, SVN-Txn-Name %q", create, code, txn)
	}
	return txn
}
