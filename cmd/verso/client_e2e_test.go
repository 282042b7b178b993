package main

// End-to-end tests of the client commands: the built verso binary (see
// TestMain) against a real `verso serve`, driven through the command line
// only.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/server"
)

// cli runs the verso binary as a client, with env added to the test
// environment.
type cli struct {
	t   *testing.T
	env []string
}

// newCLI returns a cli whose commands talk to the server at url through
// VERSO_URL.
func newCLI(t *testing.T, url string, env ...string) *cli {
	return &cli{t: t, env: append([]string{"VERSO_URL=" + url}, env...)}
}

// run runs verso with args and stdin as its input, and returns its output
// and exit status.
func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, versoBin, args...)
	cmd.Env = testEnv(c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("run verso %q: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// want runs verso with args and checks that it succeeds and prints exactly
// want.
func (c *cli) want(want, stdin string, args ...string) {
	c.t.Helper()
	out, stderr, code := c.run(stdin, args...)
	if code != 0 || out != want {
		c.t.Errorf("verso %q: status %d, stdout %q, stderr %q; want 0, %q", args, code, out, stderr, want)
	}
}

// fails runs verso with args, checks that it exits with code and one line
// on stderr containing each of contains, and returns that line.
func (c *cli) fails(code int, args []string, contains ...string) string {
	c.t.Helper()
	out, stderr, got := c.run("", args...)
	line, _, _ := strings.Cut(stderr, "\n")
	if got != code || out != "" || !strings.HasPrefix(line, "verso: ") {
		c.t.Errorf("verso %q: status %d, stdout %q, stderr %q; want %d, nothing, a line starting with \"verso: \"", args, got, out, stderr, code)
	}
	if code == 1 && strings.Count(stderr, "\n") != 1 {
		c.t.Errorf("verso %q wrote %q, want one line", args, stderr)
	}
	if strings.Count(line, "verso:") != 1 {
		c.t.Errorf("verso %q wrote %q, want \"verso:\" once, at the start", args, line)
	}
	for _, s := range contains {
		if !strings.Contains(line, s) {
			c.t.Errorf("verso %q wrote %q, want it to say %q", args, line, s)
		}
	}
	return line
}

// logTimeRE matches the time of a log entry, which must be in UTC.
var logTimeRE = regexp.MustCompile(`\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 \|`)

// maskLogTimes replaces the times of log entries with TIME.
func maskLogTimes(s string) string { return logTimeRE.ReplaceAllString(s, "| TIME |") }

var sep = strings.Repeat("-", 72) + "\n"

func TestCLI_Scenario(t *testing.T) {
	t.Parallel()
	c := newCLI(t, startVerso(t))
	file := filepath.Join(t.TempDir(), "value.txt")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	c.want("Committed revision 1.\n", "", "mkdir", "/ns")
	c.want("Committed revision 2.\n", "", "put", "/ns/key", file, "-m", "first value")
	c.want("Committed revision 3.\n", "world\n", "put", "/ns/key")
	c.want("Committed revision 4.\n", "x", "put", "ns/other", "-")
	c.want("world\n", "", "get", "/ns/key")
	c.want("world\n", "", "cat", "/ns/key")
	c.want("hello\n", "", "get", "/ns/key", "-r", "2")
	c.want("Committed revision 5.\n", "", "mkdir", "/ns/sub", "-m", "a namespace below")

	c.want("ns/\n", "", "ls")
	c.want("key\nother\nsub/\n", "", "ls", "/ns")
	c.want(""+
		"key        6  3  key\n"+
		"key        1  4  other\n"+
		"namespace  -  5  sub/\n", "", "ls", "-l", "/ns")
	c.want("key        6  2  key\n", "", "ls", "-l", "/ns", "-r", "2")

	out, stderr, code := c.run("", "log", "-v")
	want := sep +
		"r5 | (no author) | TIME | a namespace below\nChanged paths:\n   A /ns/sub\n" + sep +
		"r4 | (no author) | TIME | PUT /ns/other\nChanged paths:\n   A /ns/other\n" + sep +
		"r3 | (no author) | TIME | PUT /ns/key\nChanged paths:\n   M /ns/key\n" + sep +
		"r2 | (no author) | TIME | first value\nChanged paths:\n   A /ns/key\n" + sep +
		"r1 | (no author) | TIME | MKCOL /ns\nChanged paths:\n   A /ns\n" + sep
	if diff := cmp.Diff(want, maskLogTimes(out)); code != 0 || diff != "" {
		t.Errorf("verso log -v: status %d, stderr %q, output mismatch (-want +got):\n%s", code, stderr, diff)
	}
	out, _, _ = c.run("", "log", "/ns/key", "-l", "1")
	if want := sep + "r3 | (no author) | TIME | PUT /ns/key\n" + sep; maskLogTimes(out) != want {
		t.Errorf("verso log /ns/key -l 1 printed %q, want %q", out, want)
	}
	// -r as in svn log: one revision, or a range in either direction.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"log", "-r", "3"}, sep + "r3 | (no author) | TIME | PUT /ns/key\n" + sep},
		{[]string{"log", "-r", "3:1", "-l", "2"}, sep + "r3 | (no author) | TIME | PUT /ns/key\n" + sep + "r2 | (no author) | TIME | first value\n" + sep},
		{[]string{"log", "/ns/key", "-r", "1:HEAD"}, sep + "r2 | (no author) | TIME | first value\n" + sep + "r3 | (no author) | TIME | PUT /ns/key\n" + sep},
		{[]string{"log", "/ns/key", "-r", "4"}, sep}, // r4 did not change /ns/key
	} {
		out, stderr, code := c.run("", tc.args...)
		if got := maskLogTimes(out); code != 0 || got != tc.want {
			t.Errorf("verso %q: status %d, stderr %q, printed %q, want %q", tc.args, code, stderr, got, tc.want)
		}
	}
	c.fails(1, []string{"log", "-r", "2:99"}, "revision 99")

	c.want("Index: /ns/key\n"+
		"===================================================================\n"+
		"--- /ns/key@2\n"+
		"+++ /ns/key@3\n"+
		"@@ -1 +1 @@\n"+
		"-hello\n"+
		"+world\n", "", "diff", "/ns/key", "-r", "2:3")
	c.want("", "", "diff", "/ns/key", "-r", "3:HEAD")

	c.want("Reverted /ns/key to r2 in revision 6.\n", "", "revert", "/ns/key", "-r", "2")
	c.want("hello\n", "", "get", "/ns/key")
	c.want("Nothing to revert.\n", "", "revert", "/ns/key", "-r", "2")
	c.want("Undid r4 in revision 7.\n", "", "revert", "--undo", "4")
	c.fails(1, []string{"get", "/ns/other"}, "/ns/other", "not found")
	// r3 wrote /ns/key, which r6 changed again: undoing r3 would lose r6.
	c.fails(1, []string{"revert", "--undo", "3"}, "cannot undo r3", "conflict", "/ns/key")

	c.fails(1, []string{"put", "--create", "/ns/key", file}, "If-None-Match")
	c.fails(1, []string{"put", "--if-match", "3", "/ns/key", file}, "If-Match", "/ns/key")
	c.want("hello\n", "", "get", "/ns/key")
	c.want("Committed revision 8.\n", "again\n", "put", "--if-match", "6", "/ns/key")
	c.want("Committed revision 9.\n", "new\n", "put", "--create", "/ns/new")

	c.want("Committed revision 10.\n", "", "rm", "/ns/sub", "-m", "drop sub")
	out, _, _ = c.run("", "log", "-v", "-l", "1")
	if want := sep + "r10 | (no author) | TIME | drop sub\nChanged paths:\n   D /ns/sub\n" + sep; maskLogTimes(out) != want {
		t.Errorf("verso log -v -l 1 printed %q, want %q", out, want)
	}
	c.fails(1, []string{"rm", "/ns/sub"}, "/ns/sub", "not found")
	c.fails(1, []string{"get", "/ns"}, "/ns is a namespace")
	c.fails(1, []string{"ls", "/ns/key"}, "/ns/key is a key")
	line := c.fails(1, []string{"mkdir", "/no/such"}, "namespace /no does not exist", "verso mkdir --parents /no/such")
	if strings.Contains(line, "curl") {
		t.Errorf("verso mkdir into a missing namespace suggests curl: %q", line)
	}
	line = c.fails(1, []string{"put", "/no/such/key", file}, "namespace /no/such does not exist", "verso mkdir --parents /no/such")
	if strings.Contains(line, "curl") {
		t.Errorf("verso put into a missing namespace suggests curl: %q", line)
	}
}

func TestCLI_UsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "http://127.0.0.1:1")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"get", "/a/../b"}, `invalid path "/a/../b": segment ".."`},
		{[]string{"put", "a//b"}, `invalid path "a//b": empty segment`},
		{[]string{"ls", "/a/./b"}, `invalid path "/a/./b"`},
		{[]string{"mkdir", "/a/../b"}, `invalid path "/a/../b"`},
		{[]string{"rm", "/a/../b"}, `invalid path "/a/../b"`},
		{[]string{"log", "/a/../b"}, `invalid path "/a/../b"`},
		{[]string{"diff", "/a/../b", "-r", "1"}, `invalid path "/a/../b"`},
		{[]string{"revert", "/a/../b", "-r", "1"}, `invalid path "/a/../b"`},
		{[]string{"get"}, "verso get needs PATH"},
		{[]string{"get", "/a", "/b"}, "verso get takes PATH"},
		{[]string{"get", "/a", "-r", "x"}, `invalid -r "x"`},
		{[]string{"put", "/a", "f", "g"}, "verso put takes PATH [FILE|-]"},
		{[]string{"put", "/a", "--create", "--if-match", "3"}, "exclude each other"},
		{[]string{"log", "-l", "-1"}, "invalid -l -1"},
		{[]string{"log", "-r", "1:x"}, `invalid -r "1:x"`},
		{[]string{"log", "-r", "1:2:3"}, `invalid -r "1:2:3"`},
		{[]string{"diff", "/a"}, "needs -r"},
		{[]string{"diff", "/a", "-r", "1:x"}, `invalid -r "1:x"`},
		{[]string{"revert", "/a"}, "needs PATH -r N"},
		{[]string{"revert", "/a", "-r", "2", "--undo", "3"}, "not both"},
		{[]string{"revert", "--undo", "0"}, `invalid --undo "0"`},
		{[]string{"get", "/a", "--nosuch"}, "unknown flag: --nosuch"},
		{[]string{"get", "/a", "--server", "127.0.0.1:8080"}, `invalid --server (or VERSO_URL) "127.0.0.1:8080"`},
		{[]string{"get", "/a", "--mount", "config"}, `invalid --mount (or VERSO_MOUNT) "config"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c := &cli{t: t, env: c.env}
			line := c.fails(2, tc.args, tc.says)
			if !strings.HasPrefix(line, "verso: ") {
				t.Errorf("verso %q wrote %q", tc.args, line)
			}
		})
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestCLI_Unreachable(t *testing.T) {
	t.Parallel()
	url := "http://" + freeAddr(t)
	c := newCLI(t, url)
	for _, args := range [][]string{{"get", "/a"}, {"put", "/a", "-"}, {"ls"}, {"log"}, {"revert", "--undo", "1"}} {
		c.fails(1, args, "verso: cannot reach verso at "+url+": ", "connection refused")
	}
}

func TestCLI_ServerAndMountSettings(t *testing.T) {
	t.Parallel()
	url := startVerso(t, "--mount", "/kv")
	unreachable := "http://" + freeAddr(t)

	// VERSO_URL and VERSO_MOUNT name the server.
	env := newCLI(t, url, "VERSO_MOUNT=/kv")
	env.want("Committed revision 1.\n", "", "mkdir", "/ns")
	// Flags win over the environment.
	flags := newCLI(t, unreachable, "VERSO_MOUNT=/config")
	flags.want("ns/\n", "", "ls", "--server", url, "--mount", "/kv")
	// Without VERSO_MOUNT the default mount /config is not where the tree is.
	wrong := newCLI(t, url)
	wrong.fails(1, []string{"ls"}, "/kv/")
}

func TestCLI_Help(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "http://127.0.0.1:1")
	for name, example := range map[string]string{
		"get":    "verso get /app/db/host",
		"put":    "echo db2.internal | verso put /app/db/host",
		"ls":     "verso ls -l /app/db -r 12",
		"mkdir":  "verso mkdir /app",
		"rm":     "verso rm /app/db/port",
		"log":    "verso log /app/db -l 5",
		"diff":   "verso diff /app/db -r 12:15",
		"revert": "verso revert --undo 15",
	} {
		out, stderr, code := c.run("", name, "--help")
		if code != 0 {
			t.Errorf("verso %s --help: status %d, want 0; stderr:\n%s", name, code, stderr)
		}
		for _, want := range []string{"Examples:", example, "--server", "VERSO_URL", "--mount", "--user"} {
			if !strings.Contains(out, want) {
				t.Errorf("verso %s --help printed no %q:\n%s", name, want, out)
			}
		}
	}
}

// TestCLI_LogPages runs verso log in-process, with pages of two commits, so
// that it has to follow LogPage.Next.
func TestCLI_LogPages(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer st.Close()
	ts := httptest.NewServer(server.New(st, &server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer ts.Close()
	cl, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []verso.Path{"/a", "/b", "/c", "/d", "/e"} {
		if _, err := cl.Mkdir(t.Context(), p, nil); err != nil {
			t.Fatalf("Mkdir(%s): %v", p, err)
		}
	}
	defer func(n int) { logPageSize = n }(logPageSize)
	logPageSize = 2

	revs := regexp.MustCompile(`(?m)^r(\d+) `)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"log"}, "54321"},
		{[]string{"log", "-l", "3"}, "543"},
		{[]string{"log", "-l", "4", "-r", "4:1"}, "4321"},
		{[]string{"log", "-r", "4"}, "4"},
		{[]string{"log", "-r", "HEAD"}, "5"},
		{[]string{"log", "-r", "4:2"}, "432"},
		{[]string{"log", "-r", "2:4"}, "234"},
		{[]string{"log", "-r", "1:HEAD"}, "12345"},
		{[]string{"log", "-r", "HEAD:3"}, "543"},
		{[]string{"log", "-r", "5:1", "-l", "2"}, "54"},
		{[]string{"log", "-r", "1:5", "-l", "2"}, "12"},
		{[]string{"log", "-r", "3:3"}, "3"},
		{[]string{"log", "-r", "0"}, ""}, // revision 0, the empty tree, has no commit
		{[]string{"log", "-l", "9"}, "54321"},
	} {
		out, stderr, err := execute(t, map[string]string{"VERSO_URL": ts.URL}, tc.args...)
		var got string
		for _, m := range revs.FindAllStringSubmatch(out, -1) {
			got += m[1]
		}
		if err != nil || got != tc.want || strings.Count(out, sep) != len(tc.want)+1 {
			t.Errorf("verso %q = revisions %q, error %v (stderr %q), want %q with %d separators:\n%s", tc.args, got, err, stderr, tc.want, len(tc.want)+1, out)
		}
	}
}

// TestCLI_LogSaysWhereHistoryStarts: after the server pruned old history,
// verso log ends with a line saying so instead of silently stopping.
func TestCLI_LogSaysWhereHistoryStarts(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer st.Close()
	ts := httptest.NewServer(server.New(st, &server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer ts.Close()
	cl, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []verso.Path{"/a", "/b", "/c"} {
		if _, err := cl.Mkdir(t.Context(), p, nil); err != nil {
			t.Fatalf("Mkdir(%s): %v", p, err)
		}
	}
	// Keep only what is needed from an hour from now: everything but the
	// head is older than that.
	if _, err := st.Prune(t.Context(), verso.Retention{KeepFor: time.Minute}, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	out, stderr, err := execute(t, map[string]string{"VERSO_URL": ts.URL}, "log")
	if err != nil || !strings.Contains(out, "r3 |") || strings.Contains(out, "r2 |") ||
		!strings.HasSuffix(out, "(history before r3 was pruned by the server's retention policy)\n") {
		t.Errorf("verso log after pruning = %q, %v (stderr %q); want r3 only and a last line saying history starts at r3", out, err, stderr)
	}
}

// TestCLI_MkdirParents: like svn mkdir --parents, verso mkdir --parents
// makes the missing namespaces above PATH too, in one revision.
func TestCLI_MkdirParents(t *testing.T) {
	t.Parallel()
	c := newCLI(t, startVerso(t))
	c.want("Committed revision 1.\n", "", "mkdir", "--parents", "/a/b/c")
	c.want("c/\n", "", "ls", "/a/b")
	out, _, _ := c.run("", "log", "-v", "-r", "1")
	if want := sep + "r1 | (no author) | TIME | MKCOL /a/b/c and its parents\nChanged paths:\n   A /a\n   A /a/b\n   A /a/b/c\n" + sep; maskLogTimes(out) != want {
		t.Errorf("verso log -v -r 1 after mkdir --parents printed %q, want %q", maskLogTimes(out), want)
	}
	c.want("Committed revision 2.\n", "", "mkdir", "-p", "/a/b/d/e", "-m", "two more")
	c.want("c/\nd/\n", "", "ls", "/a/b")
	out, _, _ = c.run("", "log", "-v", "-r", "2")
	if want := sep + "r2 | (no author) | TIME | two more\nChanged paths:\n   A /a/b/d\n   A /a/b/d/e\n" + sep; maskLogTimes(out) != want {
		t.Errorf("verso log -v -r 2 printed %q, want %q", maskLogTimes(out), want)
	}
	// Parents that exist are fine; PATH itself is not, as with svn.
	c.want("Committed revision 3.\n", "", "mkdir", "--parents", "/a/f")
	c.fails(1, []string{"mkdir", "--parents", "/a/b/c"}, "/a/b/c", "already exists")
	c.want("Committed revision 4.\n", "v", "put", "/a/key", "-")
	c.fails(1, []string{"mkdir", "--parents", "/a/key/x/y"}, "/a/key")
	if out, _, _ := c.run("", "log", "-l", "1"); !strings.Contains(out, "r4 |") {
		t.Errorf("the failed mkdir --parents committed something: verso log -l 1 printed %q, want r4", out)
	}
}
