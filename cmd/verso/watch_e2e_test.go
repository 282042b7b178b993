package main

// End-to-end tests of `verso watch`: the built binary against a real
// `verso serve`.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// watchProc is a running `verso watch`.
type watchProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	err  bytes.Buffer
	done chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startWatch runs `verso watch args...` against the server at url until the
// test ends (or stop).
func startWatch(t *testing.T, url string, args ...string) *watchProc {
	t.Helper()
	p := &watchProc{cmd: exec.Command(versoBin, append([]string{"watch"}, args...)...), done: make(chan struct{})}
	p.cmd.Env = testEnv("VERSO_URL=" + url)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.out}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.err}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start verso watch %q: %v", args, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *watchProc) output() (stdout, stderr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String(), p.err.String()
}

// waitFor polls until cond holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; have %q", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop interrupts the watch and checks that it exits 0.
func (p *watchProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("verso watch still running 10s after SIGINT")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		_, stderr := p.output()
		t.Errorf("verso watch after SIGINT: status %d, want 0; stderr %q", code, stderr)
	}
}

func TestCLI_Watch(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	srv := launchVerso(t, "--data", data)
	ctx := t.Context()
	c, err := client.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(p verso.Path, v string) {
		t.Helper()
		if _, _, err := c.Put(ctx, p, []byte(v), nil); err != nil {
			t.Fatalf("Put(%s): %v", p, err)
		}
	}
	if _, err := c.Mkdir(ctx, "/ns", nil); err != nil { // r1
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "changes")
	record := `printf '%s\n%s\n--\n' "$VERSO_REVISION" "$VERSO_CHANGED_PATHS" >> ` + file
	execWatch := startWatch(t, srv.URL, "/ns", "--from", "1", "--exec", record)
	printWatch := startWatch(t, srv.URL, "/ns", "--from", "0")
	put("/ns/a", "1") // r2
	put("/other", "") // r3: not below /ns
	put("/ns/b", "2") // r4

	waitFor(t, "--exec to record r2 and r4", func() (bool, string) {
		b, _ := os.ReadFile(file)
		return string(b) == "2\n/ns/a\n--\n4\n/ns/b\n--\n", string(b)
	})
	want := "r1 A /ns\nr2 A /ns/a\nr4 A /ns/b\n"
	waitFor(t, "verso watch to print r1, r2 and r4", func() (bool, string) {
		out, _ := printWatch.output()
		return out == want, out
	})

	// With --debounce, one run for a burst of changes.
	debounced := filepath.Join(t.TempDir(), "debounced")
	startWatch(t, srv.URL, "/", "--from", "0", "--debounce", "300ms",
		"--exec", `printf '%s\n%s\n--\n' "$VERSO_REVISION" "$VERSO_CHANGED_PATHS" >> `+debounced)
	waitFor(t, "--debounce to run once for r1..r4", func() (bool, string) {
		b, _ := os.ReadFile(debounced)
		return string(b) == "4\n/ns\n/ns/a\n/ns/b\n/other\n--\n", string(b)
	})

	// The server restarts: the watches reconnect and miss nothing. Its
	// shutdown ends the streams, so it stops at once and cleanly.
	stopped := time.Now()
	if code, stderr := srv.Stop(t); code != 0 || !strings.Contains(stderr, `msg="stopped cleanly"`) || strings.Contains(stderr, "still running") {
		t.Fatalf("verso serve with watchers: status %d after SIGTERM; stderr:\n%s", code, stderr)
	}
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("verso serve took %v to stop with watchers connected, want well under its 10s shutdown timeout", d)
	}
	srv = launchVerso(t, "--data", data, "--listen", srv.Addr)
	c, _ = client.New(srv.URL, nil)
	put("/ns/a", "changed") // r5
	want += "r5 M /ns/a\n"
	waitFor(t, "verso watch to print r5 after the restart", func() (bool, string) {
		out, _ := printWatch.output()
		return out == want, out
	})
	waitFor(t, "--exec to record r5 after the restart", func() (bool, string) {
		b, _ := os.ReadFile(file)
		return strings.HasSuffix(string(b), "--\n5\n/ns/a\n--\n"), string(b)
	})
	if _, stderr := printWatch.output(); !strings.Contains(stderr, "reconnecting") {
		t.Errorf("verso watch said nothing of the lost connection; stderr %q", stderr)
	}
	printWatch.stop(t)
	execWatch.stop(t)
}

func TestCLI_WatchErrors(t *testing.T) {
	t.Parallel()
	url := startVerso(t)
	cl := newCLI(t, url)
	cl.fails(2, []string{"watch"}, "PATH")
	cl.fails(2, []string{"watch", "/ns", "--from", "x"}, "--from")
	cl.fails(2, []string{"watch", "/ns", "--debounce", "1s"}, "--exec")
	cl.fails(1, []string{"watch", "/ns", "--from", "7"}, "beyond the head")
}
