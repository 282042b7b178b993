package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/verso-config/verso/etcd/etcdtest"
)

func TestConfig_Store(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		field string // of the *ConfigError
	}{
		{"unknown store", nil, []string{"--store", "zookeeper"}, "store"},
		{"etcd without endpoints", nil, []string{"--store", "etcd"}, "etcd-endpoints"},
		{"etcd from the environment without endpoints", map[string]string{"VERSO_STORE": "etcd"}, nil, "etcd-endpoints"},
		{"endpoint not a URL", nil, []string{"--store", "etcd", "--etcd-endpoints", "10.0.0.1:2379"}, "etcd-endpoints"},
		{"endpoint of another scheme", nil, []string{"--store", "etcd", "--etcd-endpoints", "http://a:2379,ftp://b"}, "etcd-endpoints"},
		{"certificate without key", nil, []string{"--store", "etcd", "--etcd-endpoints", "https://a:2379", "--etcd-cert", "c.pem"}, "etcd-cert"},
		{"endpoints for bolt", nil, []string{"--etcd-endpoints", "http://a:2379"}, "etcd-endpoints"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(t, tt.env, append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, tt.args...)...)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("serve %v = %v, want a *ConfigError for --%s", tt.args, err, tt.field)
			}
		})
	}
}

// startEtcd runs a one-member etcd cluster in this process and returns its
// client URL.
func startEtcd(t *testing.T) string {
	t.Helper()
	return etcdtest.Start(t)[0]
}

// TestServe_InProcessEtcd runs two verso servers on one etcd cluster, both
// pruning history: a write through one is read, consistently, through the
// other.
func TestServe_InProcessEtcd(t *testing.T) {
	endpoint := startEtcd(t)
	args := []string{"--store", "etcd", "--etcd-endpoints", endpoint, "--etcd-prefix", "/serve-test/"}
	args = append(args, "--keep-versions", "2", "--keep-for", "720h")
	addrA, stopA, logA := serveInProcess(t, args...)
	addrB, stopB, _ := serveInProcess(t, args...)

	req, _ := http.NewRequest(http.MethodPut, "http://"+addrA+"/config/k", strings.NewReader("v1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /config/k through A = %v, %v; want 201", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addrB + "/config/k?consistent")
	if err != nil {
		t.Fatalf("GET /config/k?consistent through B: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "v1" || resp.Header.Get("X-Verso-Revision") != "1" {
		t.Errorf("GET /config/k?consistent through B = %d %q (revision %s), want 200 %q (revision 1)", resp.StatusCode, body, resp.Header.Get("X-Verso-Revision"), "v1")
	}
	for _, stop := range []func() error{stopA, stopB} {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v after cancel, want nil", err)
		}
	}
	if out := logA.String(); !strings.Contains(out, "data=\"etcd "+endpoint) || !strings.Contains(out, "stopped cleanly") ||
		!strings.Contains(out, "pruning history in the background") || strings.Contains(out, "prune history") {
		t.Errorf("log of A does not name the etcd store, prune without errors or stop cleanly:\n%s", out)
	}
}
