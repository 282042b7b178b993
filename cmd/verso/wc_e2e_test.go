package main

// End-to-end tests of the working copy and of transactions: the built verso
// binary, as a server and as the client, run in working-copy folders.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// runIn runs the verso binary with args in folder dir.
func runIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, versoBin, args...)
	cmd.Dir = dir
	cmd.Env = testEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run verso %q: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// wantIn runs verso in dir and checks that it succeeds printing want.
func wantIn(t *testing.T, dir, want string, args ...string) {
	t.Helper()
	out, stderr, code := runIn(t, dir, args...)
	if code != 0 || out != want {
		t.Errorf("verso %q in %s: status %d, stdout %q, stderr %q; want 0, %q", args, filepath.Base(dir), code, out, stderr, want)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWC_EndToEnd(t *testing.T) {
	t.Parallel()
	url := startVerso(t)
	c, err := client.New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tx := &client.Txn{Message: "set up"}
	tx.Mkdir("/app", verso.Cond{}).Mkdir("/app/db", verso.Cond{}).
		Put("/app/db/host", []byte("db1\n"), "", verso.Cond{}).
		Put("/app/db/port", []byte("5432\n"), "", verso.Cond{}).
		Put("/app/name", []byte("shop\n"), "", verso.Cond{})
	if _, err := c.Commit(ctx, tx); err != nil {
		t.Fatal(err)
	}

	top := t.TempDir()
	wantIn(t, top, "A    one/db\nA    one/db/host\nA    one/db/port\nA    one/name\nChecked out revision 1.\n",
		"checkout", url+"/config/app", "one")
	wantIn(t, top, "A    two/db\nA    two/db/host\nA    two/db/port\nA    two/name\nChecked out revision 1.\n",
		"checkout", url+"/config/app", "two")
	one, two := filepath.Join(top, "one"), filepath.Join(top, "two")

	// Local edits: status and diff need no server.
	writeFile(t, filepath.Join(one, "db/host"), "mine\n")
	writeFile(t, filepath.Join(one, "db/user"), "admin\n")
	os.Remove(filepath.Join(one, "name"))
	wantIn(t, one, "M  db/host\nA  db/user\nD  name\n", "status")
	wantIn(t, filepath.Join(one, "db"), "M  db/host\nA  db/user\n", "status", ".")
	out, _, code := runIn(t, one, "diff")
	for _, s := range []string{"Index: db/host", "-db1", "+mine", "Index: db/user", "+admin", "Index: name", "-shop"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("verso diff in a working copy: status %d, no %q in:\n%s", code, s, out)
		}
	}

	// The other working copy commits a conflicting change first.
	writeFile(t, filepath.Join(two, "db/host"), "theirs\n")
	writeFile(t, filepath.Join(two, "db/port"), "6543\n")
	wantIn(t, two, "Sending        db/host\nSending        db/port\nCommitted revision 2.\n", "commit", "-m", "theirs")

	// The first is now out of date: nothing of it is committed.
	_, stderr, code := runIn(t, one, "commit", "-m", "mine")
	if code != 1 || !strings.Contains(stderr, "out of date") || !strings.Contains(stderr, "db/host") || strings.Contains(stderr, "db/user") {
		t.Errorf("commit of a stale working copy: status %d, stderr %q; want 1 and out of date naming db/host only", code, stderr)
	}
	if v, err := c.Get(ctx, "/app/name", verso.Head); err != nil || string(v.Data) != "shop\n" {
		t.Errorf("/app/name after a refused commit = %v, %v; want it untouched", v, err)
	}
	if _, err := c.Get(ctx, "/app/db/user", verso.Head); !errors.Is(err, verso.ErrNotFound) {
		t.Errorf("/app/db/user after a refused commit: %v, want not found", err)
	}

	// Update marks the conflict and loses nothing.
	wantIn(t, one, "C  db/host\nU  db/port\nUpdated to revision 2.\n", "update")
	if got := readFile(t, filepath.Join(one, "db/host.mine")); got != "mine\n" {
		t.Errorf("db/host.mine = %q, want the local version", got)
	}
	if got := readFile(t, filepath.Join(one, "db/host.r2")); got != "theirs\n" {
		t.Errorf("db/host.r2 = %q, want the server's version", got)
	}
	if got := readFile(t, filepath.Join(one, "db/host")); !strings.Contains(got, "<<<<<<< .mine\nmine\n") || !strings.Contains(got, "=======\ntheirs\n>>>>>>> .r2\n") {
		t.Errorf("db/host = %q, want conflict markers around both versions", got)
	}
	if got := readFile(t, filepath.Join(one, "db/user")); got != "admin\n" {
		t.Errorf("db/user = %q after update, want the local addition kept", got)
	}
	wantIn(t, one, "C  db/host\nA  db/user\nD  name\n", "status")
	if _, stderr, code := runIn(t, one, "commit", "-m", "mine"); code != 1 || !strings.Contains(stderr, "conflicted") {
		t.Errorf("commit with a conflict: status %d, stderr %q; want 1 and a word about the conflict", code, stderr)
	}

	writeFile(t, filepath.Join(one, "db/host"), "merged\n")
	wantIn(t, one, "Resolved conflicted state of 'db/host'\n", "resolve", "db/host")
	wantIn(t, one, "Sending        db/host\nAdding         db/user\nDeleting       name\nCommitted revision 3.\n", "commit", "-m", "merged")
	wantIn(t, one, "", "status")
	cm, err := c.Revision(ctx, 3)
	if err != nil || len(cm.Changes) != 3 || cm.Message != "merged" {
		t.Errorf("r3 = %+v, %v; want one revision with the 3 changes", cm, err)
	}

	// revert FILE in a working copy drops a local change; with -r it is
	// still the server's revert.
	writeFile(t, filepath.Join(one, "db/port"), "oops\n")
	wantIn(t, one, "Reverted 'db/port'\n", "revert", "db/port")
	if got := readFile(t, filepath.Join(one, "db/port")); got != "6543\n" {
		t.Errorf("db/port after revert = %q, want 6543", got)
	}
	wantIn(t, one, "Reverted /app/db/port to r1 in revision 4.\n", "revert", "/app/db/port", "-r", "1", "--server", url)
	wantIn(t, two, "D  name\nU  db/host\nU  db/port\nA  db/user\nUpdated to revision 4.\n", "update")
	if got := readFile(t, filepath.Join(two, "db/port")); got != "5432\n" {
		t.Errorf("two: db/port after update = %q, want 5432", got)
	}
	// diff -r in a working copy is the server's diff.
	if out, _, code := runIn(t, two, "diff", "/app/db/port", "-r", "3:4", "--server", url); code != 0 || !strings.Contains(out, "+5432") {
		t.Errorf("verso diff -r 3:4 in a working copy: status %d, output %q; want the server's diff", code, out)
	}

	// Outside a working copy, status says so.
	if _, stderr, code := runIn(t, top, "status"); code != 1 || !strings.Contains(stderr, "not a verso working copy") {
		t.Errorf("verso status outside a working copy: status %d, stderr %q", code, stderr)
	}
}

// TestTxn_KillDuringLargeTransaction kills the server (SIGKILL) while a
// transaction of 5,000 puts is on its way or being committed, and checks
// after a restart that either all of it or none of it is there.
func TestTxn_KillDuringLargeTransaction(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const n = 5000
	value := strings.Repeat("v", 200)
	var all, none int
	// The delays spread the kill over sending, planning and writing; the
	// last round (-1) kills only once the server answered, when all of it
	// must be there.
	for round, delay := range []time.Duration{0, 30 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 600 * time.Millisecond, -1} {
		p := launchVerso(t, "--data", data)
		c, err := client.New(p.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		ns := verso.Path(fmt.Sprintf("/big%d", round))
		if _, err := c.Mkdir(t.Context(), ns, nil); err != nil {
			t.Fatalf("round %d: mkdir: %v", round, err)
		}
		before, err := c.Log(t.Context(), verso.Root, verso.Head, 1)
		if err != nil {
			t.Fatal(err)
		}
		tx := &client.Txn{Message: "big"}
		for i := range n {
			tx.Put(ns.Join(fmt.Sprintf("k%05d", i)), []byte(value), "", verso.Cond{})
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Commit(context.Background(), tx)
			done <- err
		}()
		var commitErr error
		answered := false
		if delay < 0 {
			commitErr, answered = <-done, true
			if commitErr != nil {
				t.Fatalf("round %d: commit: %v", round, commitErr)
			}
		} else {
			time.Sleep(delay)
		}
		p.cmd.Process.Kill()
		<-p.done
		if !answered {
			commitErr = <-done
		}

		p2 := launchVerso(t, "--data", data)
		c2, _ := client.New(p2.URL, nil)
		kids, err := c2.List(t.Context(), ns, verso.Head)
		if err != nil {
			t.Fatalf("round %d: list %s after restart: %v", round, ns, err)
		}
		after, err := c2.Log(t.Context(), verso.Root, verso.Head, 1)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(kids) == n && after.Head == before.Head+1:
			all++
			cm, err := c2.Revision(t.Context(), after.Head)
			if err != nil || len(cm.Changes) != n {
				t.Errorf("round %d: the transaction's revision = %v, %v; want %d changes", round, cm, err, n)
			}
		case len(kids) == 0 && after.Head == before.Head:
			none++
			if commitErr == nil {
				t.Errorf("round %d: the commit succeeded, yet after the restart it is gone", round)
			}
		case answered:
			t.Errorf("round %d: after a successful commit and a kill, %d of %d keys and head %d -> %d", round, len(kids), n, before.Head, after.Head)
		default:
			t.Errorf("round %d (kill after %v): %d of %d keys and head %d -> %d after restart; want all in one revision or none",
				round, delay, len(kids), n, before.Head, after.Head)
		}
		p2.Stop(t)
	}
	t.Logf("transactions found whole: %d, not at all: %d", all, none)
}
