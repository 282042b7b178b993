package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The ancestor's users read history with the real Subversion client at
// the URL they wrote to with curl; these are their commands, word for word.
const (
	svnCheckout = `svn checkout http://HOST/config`
	svnLog      = `cd config && svn log`
)

// svnShell runs shellCommand with sh -c in dir, HOST replaced by host,
// with a HOME of its own (svn keeps its configuration there).
func svnShell(t *testing.T, dir, host, shellCommand string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	command := strings.ReplaceAll(shellCommand, "HOST", host)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = testEnv("HOME="+t.TempDir(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out.String())
	}
	return out.String()
}

// TestServe_SVNCheckoutAndLog writes with the ancestor's curl commands,
// then checks out and reads the log with svn, against the built binary
// (with its fast lane, which answers plain GETs ahead of net/http).
func TestServe_SVNCheckoutAndLog(t *testing.T) {
	if _, err := exec.LookPath("svn"); err != nil {
		t.Skip("svn is not installed (Debian package subversion): this test drives the real svn client")
	}
	p := launchVerso(t)
	for _, c := range []string{mkcolNamespace, putKey} {
		curl(t, p.Addr, c)
	}
	dir := t.TempDir()
	out := svnShell(t, dir, p.Addr, svnCheckout)
	if want := "A    config/namespace\nA    config/namespace/key\nChecked out revision 2.\n"; out != want {
		t.Errorf("%s:\n%s\nwant\n%s", svnCheckout, out, want)
	}
	out = svnShell(t, dir, p.Addr, svnLog)
	for _, want := range []string{"r2 | (no author) | ", "PUT /namespace/key", "r1 | (no author) | ", "MKCOL /namespace"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: want %q in\n%s", svnLog, want, out)
		}
	}
	out = svnShell(t, dir, p.Addr, `svn cat http://HOST/config/namespace/key`)
	if out != "value\n" {
		t.Errorf("svn cat = %q", out)
	}
	// The key, read with curl again: unchanged by svn's visit.
	if got, status := curl(t, p.Addr, getKey); got != "value\n" || status != 200 {
		t.Errorf("%s = %d %q after svn", getKey, status, got)
	}
}

// TestServe_SVNCommit commits with svn to the built binary and reads the
// result with curl and verso log: one revision, svn's message.
func TestServe_SVNCommit(t *testing.T) {
	if _, err := exec.LookPath("svn"); err != nil {
		t.Skip("svn is not installed (Debian package subversion): this test drives the real svn client")
	}
	p := launchVerso(t)
	for _, c := range []string{mkcolNamespace, putKey} {
		curl(t, p.Addr, c)
	}
	dir := t.TempDir()
	svnShell(t, dir, p.Addr, svnCheckout)
	out := svnShell(t, dir, p.Addr, `cd config && echo changed > namespace/key && mkdir namespace/sub && echo new > namespace/sub/new && svn add -q namespace/sub && svn commit -m "from svn"`)
	if !strings.Contains(out, "Committed revision 3.") {
		t.Errorf("svn commit:\n%s", out)
	}
	if got, status := curl(t, p.Addr, getKey); got != "changed\n" || status != 200 {
		t.Errorf("%s = %d %q after svn commit", getKey, status, got)
	}
	stdout, stderr, code := runVerso(t, "log", "--server", p.URL, "/namespace")
	if code != 0 || !strings.Contains(stdout, "from svn") {
		t.Errorf("verso log after svn commit (%d):\n%s%s", code, stdout, stderr)
	}
}
