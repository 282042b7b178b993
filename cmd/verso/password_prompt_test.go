package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCLI_PasswordPrompt: with --user and no VERSO_PASSWORD, a client
// command run in a terminal asks for the password without echo (util-linux
// script gives the real binary a pseudo-terminal), and the write it makes is
// authored by that user. Without a terminal it asks nothing and says where
// the password should come from.
func TestCLI_PasswordPrompt(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs util-linux script for a pseudo-terminal")
	}
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	c := newCLI(t, "http://unused")
	c.want("Adding password for user alice\n", "alice pw\n", "passwd", users, "alice")
	p := launchVerso(t, "--users", users)
	if _, status := curl(t, p.Addr, `curl -s -u 'alice:alice pw' -XMKCOL http://HOST/config/ns`); status != 201 {
		t.Fatalf("MKCOL as alice: status %d", status)
	}
	value := filepath.Join(dir, "value")
	os.WriteFile(value, []byte("v\n"), 0o600)

	cmdline := versoBin + " put /ns/k " + value + " --user alice --server " + p.URL
	sh := exec.Command("script", "-qec", cmdline, "/dev/null")
	sh.Env = testEnv()
	in, _ := sh.StdinPipe()
	var out lockedBuffer
	sh.Stdout, sh.Stderr = &out, &out
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	// Type only once the prompt is up: the terminal echoes what comes
	// before verso turns echo off, and a busy machine can take a while.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "Password for alice: "); {
		if time.Now().After(deadline) {
			sh.Process.Kill()
			t.Fatalf("no password prompt:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.Write([]byte("alice pw\n"))
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "Password for alice: ") || !strings.Contains(out.String(), "Committed revision 2.") {
			t.Fatalf("verso put in a terminal: %v\n%s\nwant the prompt and a commit", err, out.String())
		}
		if strings.Contains(out.String(), "alice pw") {
			t.Errorf("the password was echoed:\n%s", out.String())
		}
	case <-time.After(20 * time.Second):
		sh.Process.Kill()
		t.Fatalf("verso put in a terminal did not finish:\n%s", out.String())
	}
	if got, _ := curl(t, p.Addr, `curl -s http://HOST/api/v1/revisions/2`); !strings.Contains(got, `"author": "alice"`) {
		t.Errorf("revision 2 = %s, want alice as the author", got)
	}

	// No terminal: no prompt, and a line saying what is missing.
	_, stderr, code := runVerso(t, "put", "/ns/k2", value, "--user", "alice", "--server", p.URL)
	if code != 1 || strings.Contains(stderr, "Password for") || !strings.Contains(stderr, "set VERSO_PASSWORD") {
		t.Errorf("verso put without a terminal: status %d, stderr %q; want 1 and a line naming VERSO_PASSWORD", code, stderr)
	}
}

// lockedBuffer collects a command's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
