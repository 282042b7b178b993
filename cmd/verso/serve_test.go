package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects log output written from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// addrRE finds the address in the listening line, in text or JSON.
var addrRE = regexp.MustCompile(`(?:msg=listening|"msg":"listening").*?addr(?:=|":")([^\s"]+)`)

// serveInProcess runs `verso serve` with args in this process until the
// test ends or stop is called. It returns the address served on, stop
// (which cancels the command and returns its error) and the log.
func serveInProcess(t *testing.T, args ...string) (addr string, stop func() error, log *logBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	log = &logBuffer{}
	cmd := newRootCommand(envMap(nil))
	cmd.SetOut(io.Discard)
	cmd.SetErr(log)
	cmd.SetArgs(append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Errorf("verso serve did not stop within 15s after cancel; log:\n%s", log)
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrRE.FindStringSubmatch(log.String()); m != nil {
			return m[1], stop, log
		}
		select {
		case err := <-done:
			t.Fatalf("verso serve ended before listening: %v; log:\n%s", err, log)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("verso serve logged no listening line within 10s; log:\n%s", log)
	return "", nil, nil
}

func TestServe_InProcessStartStop(t *testing.T) {
	addr, stop, log := serveInProcess(t, "--mount", "/kv")
	resp, err := http.Get("http://" + addr + "/kv/")
	if err != nil {
		t.Fatalf("GET /kv/: %v", err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after cancel, want nil", err)
	}
	out := log.String()
	for _, want := range []string{"msg=listening", "mount=/kv", "data=", "verso.db", "revision=0", "msg=stopping", `msg="stopped cleanly"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q:\n%s", want, out)
		}
	}
	if _, err := http.Get("http://" + addr + "/kv/"); err == nil {
		t.Errorf("GET after stop succeeded, want the port closed")
	}
}

func TestServe_InProcessJSONLog(t *testing.T) {
	_, stop, log := serveInProcess(t, "--log-format", "json", "--log-level", "debug")
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after cancel, want nil", err)
	}
	if !strings.Contains(log.String(), `"msg":"stopped cleanly"`) {
		t.Errorf("JSON log has no stopped line:\n%s", log)
	}
}

func TestServe_InProcessDataInUse(t *testing.T) {
	dir := t.TempDir()
	serveInProcess(t, "--data", dir)
	_, _, err := execute(t, nil, "serve", "--listen", "127.0.0.1:0", "--data", dir)
	if err == nil || !strings.Contains(err.Error(), "in use by another verso") {
		t.Fatalf("second verso serve on %s: error %v, want one saying it is in use", dir, err)
	}
	if got := exitCode(err, io.Discard); got != 1 {
		t.Errorf("exitCode(%v) = %d, want 1", err, got)
	}
}

// verso serve serves the web console under /ui/, beside the tree and the
// API, and none when the tree is mounted at the root.
func TestServe_Console(t *testing.T) {
	addr, _, _ := serveInProcess(t, "--mount", "/kv")
	for path, want := range map[string]string{
		"/ui/":           `<meta name="verso-mount" content="/kv">`,
		"/ui/app.js":     "verso's web console",
		"/api/v1/access": `"write": true`,
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d, want 200 with %q:\n%s", path, resp.StatusCode, want, b)
		}
		if strings.HasPrefix(path, "/ui/") && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s has no Content-Security-Policy", path)
		}
	}
	root, _, _ := serveInProcess(t, "--mount", "/")
	resp, err := http.Get("http://" + root + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /ui/ with the tree at the root = %d, want 404 (no such namespace)", resp.StatusCode)
	}
}
