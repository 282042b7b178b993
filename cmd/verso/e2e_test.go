package main

// End-to-end tests: the real verso binary, built once in TestMain, run as a
// process on a free loopback port, driven by the real curl with the
// commands of verso's ancestor exactly as they were published:
//
//	curl -XMKCOL http://HOST/config/namespace
//	echo "value" | curl -T- http://HOST/config/namespace/key
//	curl -s http://HOST/config/namespace/key

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The ancestor's commands, word for word; HOST becomes the listen address.
const (
	mkcolNamespace = `curl -XMKCOL http://HOST/config/namespace`
	putKey         = `echo "value" | curl -T- http://HOST/config/namespace/key`
	getKey         = `curl -s http://HOST/config/namespace/key`
)

const curlPath = "/usr/bin/curl"

// versoBin is the binary under test, built by TestMain.
var versoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "verso-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "make temp dir: %v\n", err)
		os.Exit(1)
	}
	versoBin = filepath.Join(dir, "verso")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", versoBin, ".") // no VCS stamp: git may be missing or refuse the checkout
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s .: %v\n%s", versoBin, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv returns the environment for processes the tests start: this
// process's, without VERSO_* settings or proxies that would change what is
// being tested, plus extra.
func testEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VERSO_"),
			strings.EqualFold(name, "http_proxy"), strings.EqualFold(name, "https_proxy"),
			strings.EqualFold(name, "all_proxy"), strings.EqualFold(name, "no_proxy"),
			name == "CURL_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// versoProc is a running verso binary.
type versoProc struct {
	Addr string // host:port it listens on
	URL  string // http://Addr

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	mu     sync.Mutex
	stderr bytes.Buffer
	code   int  // exit status, once done
	signal bool // a signal was sent: verso takes a second one as "die now"
}

// Signal sends sig to the process (once: a second signal would kill it).
func (p *versoProc) Signal(sig os.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.signal {
		p.signal = true
		p.cmd.Process.Signal(sig)
	}
}

// Stderr returns what the process has written to stderr so far.
func (p *versoProc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Stop sends SIGTERM (unless a signal was sent already) and waits for the
// process to exit, returning its exit status and stderr.
func (p *versoProc) Stop(t *testing.T) (code int, stderr string) {
	t.Helper()
	select {
	case <-p.done:
	default:
		p.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("verso did not exit within 20s of SIGTERM; stderr:\n%s", p.Stderr())
	}
	return p.code, p.Stderr()
}

var listeningRE = regexp.MustCompile(`msg=listening .*\baddr=(\S+)`)

// launchVerso starts `verso serve` on a free loopback port with a fresh data
// directory, unless args say otherwise (later flags win), and waits until it
// logs that it is listening. The process is stopped when the test ends.
func launchVerso(t *testing.T, args ...string) *versoProc {
	t.Helper()
	full := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...)
	p := &versoProc{cmd: exec.Command(versoBin, full...), done: make(chan struct{})}
	p.cmd.Env = testEnv()
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatalf("stderr pipe: %v", err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start verso %q: %v", full, err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		err := p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if err != nil && p.code == 0 {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("verso %q stderr:\n%s", full, p.Stderr())
		}
	})
	select {
	case p.Addr = <-addrc:
	case <-p.done:
		t.Fatalf("verso %q exited with status %d before listening; stderr:\n%s", full, p.code, p.Stderr())
	case <-time.After(15 * time.Second):
		t.Fatalf("verso %q logged no listening line within 15s; stderr:\n%s", full, p.Stderr())
	}
	p.URL = "http://" + p.Addr
	return p
}

// startVerso starts verso (see launchVerso) and returns its base URL.
func startVerso(t *testing.T, args ...string) (baseURL string) {
	t.Helper()
	return launchVerso(t, args...).URL
}

// runVerso runs the verso binary with args to completion and returns its
// output and exit status.
func runVerso(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, versoBin, args...)
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

var statusRE = regexp.MustCompile(`verso-test-status:(\d{3})`)

// curl runs shellCommand with sh -c, with the literal HOST replaced by
// host, and returns its stdout and the HTTP status of its (last) response
// (0 if the command sets its own -w).
// The command itself is run as written: the status comes from a curlrc that
// makes curl write it to stderr, so stdout is exactly what a user would see.
func curl(t *testing.T, host, shellCommand string) (stdout string, status int) {
	t.Helper()
	if _, err := os.Stat(curlPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: %v (bash .ci/run installs it)", curlPath, err)
		}
		t.Skipf("%s is missing (apt-get install curl): %v", curlPath, err)
	}
	home := t.TempDir()
	rc := "write-out = \"%{stderr}verso-test-status:%{http_code}\\n\"\nmax-time = 20\n"
	if err := os.WriteFile(filepath.Join(home, ".curlrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	command := strings.ReplaceAll(shellCommand, "HOST", host)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = testEnv("CURL_HOME="+home, "PATH=/usr/bin:/bin")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v; stderr:\n%s", command, err, errOut.String())
	}
	if m := statusRE.FindAllStringSubmatch(errOut.String(), -1); m != nil {
		status, _ = strconv.Atoi(m[len(m)-1][1])
	}
	return out.String(), status
}

func TestServe_AncestorCommands(t *testing.T) {
	t.Parallel()
	host := launchVerso(t).Addr

	if _, status := curl(t, host, mkcolNamespace); status != 201 {
		t.Errorf("%s: status %d, want 201", mkcolNamespace, status)
	}
	if _, status := curl(t, host, putKey); status != 201 {
		t.Errorf("%s (new key): status %d, want 201", putKey, status)
	}
	if out, _ := curl(t, host, getKey); out != "value\n" {
		t.Errorf("%s printed %q, want %q", getKey, out, "value\n")
	}

	// Writing again changes the key (one more revision): 204 or 200.
	if _, status := curl(t, host, putKey); status != 204 && status != 200 {
		t.Errorf("%s (existing key): status %d, want 204 or 200", putKey, status)
	}
	changed := strings.Replace(putKey, `"value"`, `"other value"`, 1)
	if _, status := curl(t, host, changed); status != 204 && status != 200 {
		t.Errorf("%s: status %d, want 204 or 200", changed, status)
	}
	if out, status := curl(t, host, getKey); out != "other value\n" || status != 200 {
		t.Errorf("%s = %q, status %d, want %q, 200", getKey, out, status, "other value\n")
	}
}

func TestServe_StatusWithWriteOut(t *testing.T) {
	t.Parallel()
	host := launchVerso(t).Addr
	cmd := `curl -s -o /dev/null -w '%{http_code}' -XMKCOL http://HOST/config/ns`
	if out, _ := curl(t, host, cmd); out != "201" {
		t.Errorf("%s printed %q, want 201", cmd, out)
	}
}

func TestServe_PutIntoMissingNamespace(t *testing.T) {
	t.Parallel()
	host := launchVerso(t).Addr
	cmd := `echo "value" | curl -s -T- http://HOST/config/missing/key`
	out, status := curl(t, host, cmd)
	if status != 409 {
		t.Errorf("%s: status %d, want 409", cmd, status)
	}
	lower := strings.ToLower(out)
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") ||
		!strings.Contains(lower, "namespace") || !(strings.Contains(lower, "mkcol") || strings.Contains(lower, "create")) {
		t.Errorf("%s printed %q, want one line telling to create the namespace first", cmd, out)
	}
	if _, status := curl(t, host, getKey); status != 404 {
		t.Errorf("%s after the failed put: status %d, want 404", getKey, status)
	}
}

func TestServe_MkcolExisting(t *testing.T) {
	t.Parallel()
	host := launchVerso(t).Addr
	if _, status := curl(t, host, mkcolNamespace); status != 201 {
		t.Fatalf("%s: status %d, want 201", mkcolNamespace, status)
	}
	if _, status := curl(t, host, mkcolNamespace); status != 405 {
		t.Errorf("%s again: status %d, want 405", mkcolNamespace, status)
	}
}

func TestServe_GetMissingKey(t *testing.T) {
	t.Parallel()
	host := launchVerso(t).Addr
	if _, status := curl(t, host, getKey); status != 404 {
		t.Errorf("%s with nothing stored: status %d, want 404", getKey, status)
	}
	curl(t, host, mkcolNamespace)
	if _, status := curl(t, host, getKey); status != 404 {
		t.Errorf("%s in an empty namespace: status %d, want 404", getKey, status)
	}
}

func TestServe_RestartKeepsData(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	curl(t, p.Addr, mkcolNamespace)
	if _, status := curl(t, p.Addr, putKey); status != 201 {
		t.Fatalf("%s: status %d, want 201", putKey, status)
	}

	code, stderr := p.Stop(t)
	if code != 0 {
		t.Errorf("verso exited with status %d after SIGTERM, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"msg=stopping", `msg="stopped cleanly"`, "revision=2"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr after SIGTERM has no %q:\n%s", want, stderr)
		}
	}

	p2 := launchVerso(t, "--data", data)
	if !strings.Contains(p2.Stderr(), "revision=2") {
		t.Errorf("restarted verso logged no revision=2:\n%s", p2.Stderr())
	}
	if out, status := curl(t, p2.Addr, getKey); out != "value\n" || status != 200 {
		t.Errorf("%s after restart = %q, status %d, want %q, 200", getKey, out, status, "value\n")
	}
}

func TestServe_SIGINTStopsCleanly(t *testing.T) {
	t.Parallel()
	p := launchVerso(t)
	p.Signal(syscall.SIGINT)
	code, stderr := p.Stop(t)
	if code != 0 || !strings.Contains(stderr, `msg="stopped cleanly"`) {
		t.Errorf("verso after SIGINT: status %d, want 0 and a clean stop; stderr:\n%s", code, stderr)
	}
}

func TestServe_DataInUse(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	launchVerso(t, "--data", data)

	_, stderr, code := runVerso(t, "serve", "--listen", "127.0.0.1:0", "--data", data)
	if code != 1 {
		t.Errorf("second verso on the same --data: status %d, want 1", code)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "in use by another verso") || !strings.Contains(stderr, data) {
		t.Errorf("second verso on the same --data wrote %q, want one line saying %s is in use", stderr, data)
	}
}

func TestServe_PortInUse(t *testing.T) {
	t.Parallel()
	p := launchVerso(t)
	_, stderr, code := runVerso(t, "serve", "--listen", p.Addr, "--data", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "address already in use") {
		t.Errorf("verso on a busy port: status %d, stderr %q, want 1 and 'address already in use'", code, stderr)
	}
}

func TestServe_Help(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		out, stderr, code := runVerso(t, args...)
		if code != 0 {
			t.Errorf("verso %q: status %d, want 0; stderr:\n%s", args, code, stderr)
		}
		want := []string{"versioned configuration service", "serve"}
		if args[0] == "serve" {
			want = []string{"--data", "--listen", "--mount", "--max-value-size", "--log-level", "--log-format", "VERSO_DATA", "Examples:"}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("verso %q printed no %q:\n%s", args, w, out)
			}
		}
	}
}

func TestServe_UsageErrorExits2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"nosuch"}, {"serve", "--nosuch"}, {"serve", "--mount", "config"}, {"serve", "--log-level", "loud"}} {
		_, stderr, code := runVerso(t, args...)
		if code != 2 {
			t.Errorf("verso %q: status %d, want 2; stderr:\n%s", args, code, stderr)
		}
		if !strings.HasPrefix(stderr, "verso: ") {
			t.Errorf("verso %q wrote %q, want a message starting with \"verso: \"", args, stderr)
		}
	}
}

func TestServe_EnvSettings(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cmd := exec.Command(versoBin, "serve")
	cmd.Env = testEnv("VERSO_DATA="+data, "VERSO_LISTEN=127.0.0.1:0", "VERSO_MOUNT=/kv", "VERSO_LOG_FORMAT=json")
	errOut := &logBuffer{} // written by exec's copying goroutine
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(errOut.String(), `"msg":"listening"`) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	out := errOut.String()
	for _, want := range []string{`"msg":"listening"`, `"mount":"/kv"`, filepath.Join(data, "verso.db"), `"msg":"stopped cleanly"`} {
		if !strings.Contains(out, want) {
			t.Errorf("verso serve with VERSO_* settings logged no %s:\n%s", want, out)
		}
	}
	if cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("verso exited with status %d, want 0", cmd.ProcessState.ExitCode())
	}
}

func TestServe_ShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	p := launchVerso(t)
	curl(t, p.Addr, mkcolNamespace)

	// A chunked PUT whose body is still arriving when SIGTERM comes.
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatalf("dial %s: %v", p.Addr, err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /config/namespace/key HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nvalue\n\r\n", p.Addr)
	time.Sleep(200 * time.Millisecond) // let the server take the request
	p.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-p.done:
		t.Fatalf("verso exited before the request in flight finished; stderr:\n%s", p.Stderr())
	default:
	}
	fmt.Fprintf(conn, "0\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the response to the PUT in flight: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("PUT in flight during shutdown: status %d, want 201", resp.StatusCode)
	}
	code, stderr := p.Stop(t)
	if code != 0 || !strings.Contains(stderr, `msg="stopped cleanly" revision=2`) {
		t.Errorf("verso after SIGTERM: status %d, want 0 and a clean stop at revision 2; stderr:\n%s", code, stderr)
	}
}
