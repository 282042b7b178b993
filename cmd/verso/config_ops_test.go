package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig_Limits(t *testing.T) {
	c := DefaultConfig()
	if c.MaxConns != 16384 || c.MaxRequests != 512 || c.AccessLog != "" {
		t.Errorf("DefaultConfig() limits = %d conns, %d requests, access log %q; want 16384, 512, none", c.MaxConns, c.MaxRequests, c.AccessLog)
	}
	env := map[string]string{"VERSO_MAX_CONNS": "10", "VERSO_MAX_REQUESTS": "0", "VERSO_ACCESS_LOG": "-"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatalf("ApplyEnv: %v", err)
	}
	if c.MaxConns != 10 || c.MaxRequests != 0 || c.AccessLog != "-" {
		t.Errorf("after ApplyEnv: %d conns, %d requests, access log %q; want 10, 0, -", c.MaxConns, c.MaxRequests, c.AccessLog)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	for _, bad := range []map[string]string{{"VERSO_MAX_CONNS": "-1"}, {"VERSO_MAX_REQUESTS": "many"}} {
		var ce *ConfigError
		err := DefaultConfig().ApplyEnv(func(k string) string { return bad[k] })
		if !errors.As(err, &ce) || !errors.Is(err, errInvalidCount) {
			t.Errorf("ApplyEnv(%v) = %v, want a ConfigError for a count", bad, err)
		}
	}
}

func TestOpenAccessLog(t *testing.T) {
	var stdout bytes.Buffer
	if w, closeFn, err := openAccessLog("", &stdout); err != nil || w != nil || closeFn() != nil {
		t.Errorf(`openAccessLog("") = %v, %v; want no log`, w, err)
	}
	if w, _, err := openAccessLog("-", &stdout); err != nil || w != &stdout {
		t.Errorf(`openAccessLog("-") = %v, %v; want stdout`, w, err)
	}
	name := filepath.Join(t.TempDir(), "access.log")
	os.WriteFile(name, []byte("earlier line\n"), 0o640)
	w, closeFn, err := openAccessLog(name, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("new line\n"))
	closeFn()
	if b, _ := os.ReadFile(name); string(b) != "earlier line\nnew line\n" {
		t.Errorf("access log file = %q, want the new line appended", b)
	}
	if _, _, err := openAccessLog(filepath.Join(t.TempDir(), "no", "such", "dir", "log"), &stdout); err == nil {
		t.Errorf("openAccessLog in a missing directory: no error")
	}
}

// TestServe_AccessLog: verso serve --access-log FILE writes a line per
// request, and serves /metrics.
func TestServe_AccessLog(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "access.log")
	p := launchVerso(t, "--access-log", logFile, "--max-conns", "8", "--max-requests", "4")
	curl(t, p.Addr, mkcolNamespace)
	curl(t, p.Addr, putKey)
	curl(t, p.Addr, getKey)
	if out, status := curl(t, p.Addr, "curl -s http://HOST/metrics"); status != 200 || !strings.Contains(out, "verso_commits_total 2") {
		t.Errorf("GET /metrics = %d, want 200 with verso_commits_total 2:\n%s", status, out)
	}
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ = os.ReadFile(logFile); strings.Count(string(b), "\n") >= 4 {
			break
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{`"MKCOL /config/namespace HTTP/1.1" 201`, `"PUT /config/namespace/key HTTP/1.1" 201`, `"GET /config/namespace/key HTTP/1.1" 200 6`, `"GET /metrics HTTP/1.1" 200`}
	if len(lines) != len(want) {
		t.Fatalf("access log has %d lines, want %d:\n%s", len(lines), len(want), b)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "127.0.0.1 - - [") || !strings.Contains(lines[i], w) || !strings.HasSuffix(lines[i], `"-" "curl/`+curlVersion(lines[i])+`"`) {
			t.Errorf("access log line %d = %q, want a combined-format line with %s", i+1, lines[i], w)
		}
	}
}

// curlVersion returns the version in a log line's curl/VERSION user agent.
func curlVersion(line string) string {
	_, v, _ := strings.Cut(line, `"curl/`)
	return strings.TrimSuffix(v, `"`)
}

// TestServe_Timeouts: --header-timeout and --body-timeout reach both
// lanes: a silent connection, and a PUT whose body stalls, are closed at
// their timeout, with the fast lane's loops and with net/http alone.
func TestServe_Timeouts(t *testing.T) {
	t.Parallel()
	for _, lane := range [][]string{{"--fast-lane=true"}, {"--fast-lane=false"}} {
		p := launchVerso(t, append(lane, "--header-timeout", "1s", "--body-timeout", "1s")...)
		for _, first := range []string{"", "PUT /config/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nx"} {
			start := time.Now()
			c, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, first)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c)
			c.Close()
			if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
				t.Errorf("%v, sending %q: connection closed after %v, want about 1s", lane, first, d.Round(time.Millisecond))
			}
		}
	}
}

// TestConnCap: --max-conns is lowered to leave verso's own files room
// below the limit on open files, and left alone when it fits, is 0 (no
// cap) or the limit is unknown.
func TestConnCap(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct{ n, nofile, want int }{
		{16384, 20000, 16384},
		{16384, 1024, 1024 - fileReserve},
		{16384, 0, 16384},
		{0, 1024, 0},
		{100, 1024, 100},
		{16384, 100, 1},
	} {
		if got := connCap(c.n, c.nofile, log); got != c.want {
			t.Errorf("connCap(%d, %d) = %d, want %d", c.n, c.nofile, got, c.want)
		}
	}
}
