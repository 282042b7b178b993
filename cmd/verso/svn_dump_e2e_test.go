package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svnRun runs an svn tool (svn, svnadmin) with args in dir and returns
// its output, failing the test if it fails. stdin, if given, is its input.
func svnRun(t *testing.T, dir string, stdin []byte, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if tool == "svn" {
		args = append([]string{"--non-interactive", "--config-dir", filepath.Join(dir, ".svnconfig")}, args...)
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.Env = testEnv("LC_ALL=C.UTF-8")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", tool, strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// svnHistory commits a varied history to a new repository with the real
// svn and returns its file:// URL and head: adds, edits, properties, an
// empty, a binary, a unicode- and space-named file, copies, moves,
// deletes, a directory copied and changed in one commit.
func svnHistory(t *testing.T, dir string) (string, int) {
	repo := filepath.Join(dir, "repo")
	svnRun(t, dir, nil, "svnadmin", "create", repo)
	url := "file://" + repo
	wc := filepath.Join(dir, "wc")
	svnRun(t, dir, nil, "svn", "checkout", url, wc)
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(wc, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(user, msg string) {
		t.Helper()
		svnRun(t, wc, nil, "svn", "commit", "--username", user, "-m", msg)
	}
	svn := func(args ...string) { t.Helper(); svnRun(t, wc, nil, "svn", args...) }
	svn("mkdir", "app", "app/db")
	write("app/db/host", "host1\n")
	write("app/db/port", "5432\n")
	write("app/empty", "")
	write("app/größe mit leer", "unicode\n")
	svn("add", "app/db/host", "app/db/port", "app/empty", "app/größe mit leer")
	commit("alice", "first\n\nwith a longer message")
	write("app/db/host", "host2\nline two\n")
	svn("propset", "owner", "alice", "app/db/host")
	svn("propset", "svn:ignore", "*.tmp", "app")
	commit("bob", "edit and props")
	bin := make([]byte, 5000)
	for i := range bin {
		bin[i] = byte(i * 31 % 251)
	}
	if err := os.WriteFile(filepath.Join(wc, "app/blob.bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	svn("add", "app/blob.bin")
	commit("alice", "binary")
	svn("update")
	svn("cp", "app", "app2")
	write("app2/db/host", "host3\nline two\n")
	commit("carol", "copy and change")
	svn("update")
	svn("mv", "app2/db/port", "app2/port")
	svn("rm", "app/empty")
	svn("propdel", "owner", "app/db/host")
	commit("alice", "move, delete, propdel")
	svn("update")
	svnRun(t, dir, nil, "svn", "mkdir", "--username", "bob", "-m", "url mkdir", url+"/other")
	svnRun(t, dir, nil, "svn", "cp", "--username", "bob", "-m", "url copy of an old revision", url+"/app/db/host@2", url+"/other/host")
	svn("update")
	svn("rm", "app2")
	commit("carol", "delete a directory")
	return url, 8
}

// compareHistory checks svn log -v --xml and svn diff -c N of every
// revision against both URLs.
func compareHistory(t *testing.T, dir, what, a, b string, head int) {
	t.Helper()
	for n := 1; n <= head; n++ {
		r := strconv.Itoa(n)
		la := svnRun(t, dir, nil, "svn", "log", "-v", "--xml", "-r", r, a)
		lb := svnRun(t, dir, nil, "svn", "log", "-v", "--xml", "-r", r, b)
		if la, lb = canonicalXML(t, la), canonicalXML(t, lb); la != lb {
			t.Errorf("%s: svn log -v --xml -r %d differs:\n%s\nvs\n%s", what, n, la, lb)
		}
		da := diffSections(svnRun(t, dir, nil, "svn", "diff", "-c", r, a))
		db := diffSections(svnRun(t, dir, nil, "svn", "diff", "-c", r, b))
		if da != db {
			t.Errorf("%s: svn diff -c %d differs:\n%s\nvs\n%s", what, n, da, db)
		}
	}
}

// diffSections returns a diff's sections (one a path) in path order: svn
// lists a deleted directory's paths in the order its store keeps them.
func diffSections(diff string) string {
	parts := strings.Split("\n"+diff, "\nIndex: ")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	sort.Strings(parts[1:])
	return strings.Join(parts, "\nIndex: ")
}

// canonicalXML rewrites an XML document with each element's attributes
// in name order (svn writes them in hash order).
func canonicalXML(t *testing.T, doc string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatalf("svn's XML: %v\n%s", err, doc)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			attrs := make([]string, 0, len(x.Attr))
			for _, a := range x.Attr {
				attrs = append(attrs, a.Name.Local+"="+strconv.Quote(a.Value))
			}
			sort.Strings(attrs)
			b.WriteString("<" + x.Name.Local + " " + strings.Join(attrs, " ") + ">")
		case xml.EndElement:
			b.WriteString("</" + x.Name.Local + ">")
		case xml.CharData:
			b.WriteString(strings.TrimSpace(string(x)))
		}
	}
}

// TestSVN_DumpLoadRoundTrip: a history made with svn, svnadmin dump (with
// and without --deltas) → verso load → the same log and diffs at verso's
// URL → verso dump → svnadmin load → the same again.
func TestSVN_DumpLoadRoundTrip(t *testing.T) {
	for _, tool := range []string{"svn", "svnadmin"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package subversion)", tool)
		}
	}
	dir := t.TempDir()
	url, head := svnHistory(t, dir)
	for _, deltas := range []bool{false, true} {
		args := []string{"dump", "-q", filepath.Join(dir, "repo")}
		what := "svnadmin dump"
		if deltas {
			args = append(args, "--deltas")
			what += " --deltas"
		}
		dump := svnRun(t, dir, nil, "svnadmin", args...)
		dumpFile := filepath.Join(t.TempDir(), "dump")
		if err := os.WriteFile(dumpFile, []byte(dump), 0o644); err != nil {
			t.Fatal(err)
		}
		data := t.TempDir()
		out, errOut, code := runVerso(t, "load", dumpFile, "--data", data)
		if code != 0 {
			t.Fatalf("verso load (%s): %d\n%s%s", what, code, out, errOut)
		}
		if !strings.Contains(out, "Loaded") || !strings.Contains(out, strconv.Itoa(head)+" revisions") {
			t.Errorf("verso load said %q", out)
		}
		m := regexp.MustCompile(`--svn-uuid ([0-9a-f-]{36})`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("verso load names no --svn-uuid to serve with:\n%s", out)
		}
		p := launchVerso(t, "--data", data, "--svn-uuid", m[1])
		compareHistory(t, dir, what+" | verso load", url, p.URL+"/config", head)
		if !deltas {
			// the ancestor's working copies go on working
			wc := filepath.Join(dir, "wc")
			svnRun(t, wc, nil, "svn", "relocate", p.URL+"/config")
			svnRun(t, wc, nil, "svn", "update")
			if err := os.WriteFile(filepath.Join(wc, "app/db/host"), []byte("after the move\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := svnRun(t, wc, nil, "svn", "commit", "-m", "after the move")
			if !strings.Contains(out, "Committed revision "+strconv.Itoa(head+1)+".") {
				t.Errorf("commit from a relocated working copy:\n%s", out)
			}
		}
		p.Stop(t)

		vdump, errOut, code := runVerso(t, "dump", "--data", data)
		if code != 0 {
			t.Fatalf("verso dump: %d\n%s", code, errOut)
		}
		repo2 := filepath.Join(t.TempDir(), "repo2")
		svnRun(t, dir, nil, "svnadmin", "create", repo2)
		svnRun(t, dir, []byte(vdump), "svnadmin", "load", "-q", repo2)
		compareHistory(t, dir, what+" | verso load | verso dump | svnadmin load", url, "file://"+repo2, head)
		if !deltas {
			if got := svnRun(t, dir, nil, "svnlook", "youngest", repo2); strings.TrimSpace(got) != strconv.Itoa(head+1) {
				t.Errorf("svnadmin load of verso dump: youngest %s, want %d", got, head+1)
			}
		}
		if deltas {
			break
		}
	}
}

// TestSVN_LoadCorrupt: a dump cut short or damaged stops the load with the
// revision and byte offset, and leaves no store.
func TestSVN_LoadCorrupt(t *testing.T) {
	if _, err := exec.LookPath("svnadmin"); err != nil {
		t.Skip("svnadmin is not installed (Debian package subversion)")
	}
	dir := t.TempDir()
	svnHistory(t, dir)
	dump := svnRun(t, dir, nil, "svnadmin", "dump", "-q", filepath.Join(dir, "repo"))
	for name, bad := range map[string]string{
		"cut short":  dump[:len(dump)*2/3],
		"damaged":    strings.Replace(dump, "Text-content-md5: ", "Text-content-md5: 0", 3),
		"not a dump": "hello\n",
	} {
		f := filepath.Join(t.TempDir(), "dump")
		os.WriteFile(f, []byte(bad), 0o644)
		data := t.TempDir()
		_, errOut, code := runVerso(t, "load", f, "--data", data)
		if code == 0 {
			t.Errorf("verso load of a dump %s succeeded", name)
			continue
		}
		if !strings.Contains(errOut, "byte offset") || (name != "not a dump" && !strings.Contains(errOut, "revision")) {
			t.Errorf("verso load of a dump %s: %s", name, errOut)
		}
		ents, _ := os.ReadDir(data)
		for _, e := range ents {
			if e.Name() != "verso.lock" { // the data directory's lock, as serve leaves it
				t.Errorf("verso load of a dump %s left %s", name, e.Name())
			}
		}
		if name == "damaged" && !strings.Contains(errOut, "checksum") {
			t.Errorf("verso load of a damaged dump: %s", errOut)
		}
	}
}

// TestSVN_LoadIncremental: a store loaded from revisions 0 to 4 of a
// history takes svnadmin dump -r 5:HEAD --incremental (with and without
// --deltas) and then has the whole history; a dump that does not start
// right after the store's head, or a broken one, is refused and leaves the
// store as it was.
func TestSVN_LoadIncremental(t *testing.T) {
	for _, tool := range []string{"svn", "svnadmin"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package subversion)", tool)
		}
	}
	dir := t.TempDir()
	url, head := svnHistory(t, dir)
	repo := filepath.Join(dir, "repo")
	file := func(text string) string {
		f := filepath.Join(t.TempDir(), "dump")
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	first := file(svnRun(t, dir, nil, "svnadmin", "dump", "-q", "-r", "0:4", repo))
	for _, deltas := range []bool{false, true} {
		args := []string{"dump", "-q", "--incremental", repo}
		what := "svnadmin dump --incremental"
		if deltas {
			args = append(args, "--deltas")
			what += " --deltas"
		}
		rest := svnRun(t, dir, nil, "svnadmin", append(args, "-r", "5:"+strconv.Itoa(head))...)
		late := svnRun(t, dir, nil, "svnadmin", append(args, "-r", "6:"+strconv.Itoa(head))...)
		data := t.TempDir()
		if out, errOut, code := runVerso(t, "load", first, "--data", data); code != 0 {
			t.Fatalf("verso load of revisions 0 to 4: %d\n%s%s", code, out, errOut)
		}
		refused := func(name, dump, want string) {
			t.Helper()
			out, errOut, code := runVerso(t, "load", file(dump), "--data", data)
			if code == 0 {
				t.Fatalf("verso load of %s onto a store at revision 4 succeeded:\n%s", name, out)
			}
			if !strings.Contains(errOut, want) || !strings.Contains(errOut, "the store is as it was") {
				t.Errorf("verso load of %s onto a store at revision 4: %s", name, errOut)
			}
		}
		refused(what+" -r 6:HEAD", late, "the dump starts at revision 6, but the store ends at revision 4")
		refused("a whole dump", svnRun(t, dir, nil, "svnadmin", "dump", "-q", repo), "the dump starts at revision 0, but the store ends at revision 4")
		refused(what+" cut short", rest[:len(rest)*2/3], "byte offset")
		out, errOut, code := runVerso(t, "load", file(rest), "--data", data)
		if code != 0 {
			t.Fatalf("verso load of %s -r 5:HEAD: %d\n%s%s", what, code, out, errOut)
		}
		if !strings.Contains(out, "revisions 5 to "+strconv.Itoa(head)) {
			t.Errorf("verso load of %s said %q", what, out)
		}
		ents, _ := os.ReadDir(data)
		for _, e := range ents {
			if strings.Contains(e.Name(), "loading") {
				t.Errorf("verso load left %s", e.Name())
			}
		}
		p := launchVerso(t, "--data", data)
		compareHistory(t, dir, "svnadmin dump -r 0:4 | verso load; "+what+" -r 5:HEAD | verso load", url, p.URL+"/config", head)
		p.Stop(t)
	}
}
