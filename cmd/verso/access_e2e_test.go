package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDenyAnonymousWrites(t *testing.T) {
	tests := []struct {
		listen string
		users  string
		allow  bool
		want   bool
	}{
		{"127.0.0.1:8080", "", false, false},
		{"[::1]:8080", "", false, false},
		{"localhost:8080", "", false, false},
		{"0.0.0.0:8080", "", false, true},
		{":8080", "", false, true},
		{"192.0.2.1:8080", "", false, true},
		{"example.org:8080", "", false, true},
		{"0.0.0.0:8080", "", true, false},
		{"0.0.0.0:8080", "/etc/verso/users", false, false}, // writes need a user anyway
	}
	for _, tt := range tests {
		cfg := &Config{Users: tt.users, AllowAnonymousWrites: tt.allow}
		if got := denyAnonymousWrites(cfg, tt.listen); got != tt.want {
			t.Errorf("denyAnonymousWrites(listen %q, users %q, allow %t) = %t, want %t", tt.listen, tt.users, tt.allow, got, tt.want)
		}
	}
}

func TestAccessWarnings(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		addr string
		want []string // a word of each warning
	}{
		{"loopback", Config{}, "127.0.0.1:8080", nil},
		{"loopback with users over HTTP", Config{Users: "u"}, "127.0.0.1:8080", nil},
		{"beyond, no users", Config{}, "0.0.0.0:8080", []string{"anonymous writes are refused"}},
		{"beyond, anonymous writes allowed", Config{AllowAnonymousWrites: true}, "0.0.0.0:8080", []string{"anyone who can reach it"}},
		{"beyond, users over HTTP", Config{Users: "u"}, "[::]:8080", []string{"plain HTTP"}},
		{"beyond, users over HTTPS", Config{Users: "u", TLSCert: "c", TLSKey: "k"}, "[::]:8080", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := accessWarnings(&tt.cfg, tt.addr)
			if len(got) != len(tt.want) {
				t.Fatalf("accessWarnings = %q, want %d warnings", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want it to say %q", got[i], w)
				}
			}
		})
	}
}

func TestConfig_AccessSettings(t *testing.T) {
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.bindFlags(fs)
	if err := fs.Parse([]string{"--allow-anonymous-writes", "--tls-cert", "c.pem"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	err := loadConfig(fs, cfg, envMap(map[string]string{"VERSO_USERS": "/etc/verso/users", "VERSO_AUTHZ": "/etc/verso/authz", "VERSO_TLS_KEY": "k.pem"}))
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if !cfg.AllowAnonymousWrites || cfg.Users != "/etc/verso/users" || cfg.Authz != "/etc/verso/authz" || cfg.TLSCert != "c.pem" || cfg.TLSKey != "k.pem" {
		t.Errorf("config = %+v, want the flags and VERSO_USERS, VERSO_AUTHZ, VERSO_TLS_KEY", cfg)
	}
	cfg = DefaultConfig()
	cfg.TLSCert = "c.pem"
	var ce *ConfigError
	if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != "tls-key" {
		t.Errorf("Validate with --tls-cert alone = %v, want a ConfigError for tls-key", err)
	}
	cfg = DefaultConfig()
	if err := cfg.ApplyEnv(envMap(map[string]string{"VERSO_ALLOW_ANONYMOUS_WRITES": "maybe"})); err == nil {
		t.Errorf("VERSO_ALLOW_ANONYMOUS_WRITES=maybe accepted, want an error")
	}
}

// TestPasswd_EndToEnd: verso passwd writes a user, a server started with
// that file accepts them through real curl -u, and refuses anonymous
// writes.
func TestPasswd_EndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	c := newCLI(t, "http://unused")
	c.want("Adding password for user alice\n", "s3cret pw\n", "passwd", users, "alice")
	c.want("Adding password for user bob\n", "bob-pw", "passwd", users, "bob")
	c.want("Updating password for user alice\n", "new pw\n", "passwd", users, "alice")
	text, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "alice:$2") || !strings.HasPrefix(lines[1], "bob:$2") {
		t.Errorf("users file = %q, want alice and bob with bcrypt hashes", text)
	}
	if fi, _ := os.Stat(users); fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, stderr, code := c.run("", "passwd", users, "carol"); code == 0 || !strings.Contains(stderr, "empty password") {
		t.Errorf("passwd with no password: status %d, stderr %q; want a failure saying so", code, stderr)
	}
	if _, _, code := c.run("pw\n", "passwd", users, "a:b"); code != 2 {
		t.Errorf("passwd with a ':' in the name: status %d, want 2", code)
	}

	p := launchVerso(t, "--users", users)
	host := p.Addr
	if _, status := curl(t, host, `curl -s -XMKCOL http://HOST/config/ns`); status != 401 {
		t.Errorf("anonymous MKCOL: status %d, want 401", status)
	}
	if _, status := curl(t, host, `curl -s -u 'alice:s3cret pw' -XMKCOL http://HOST/config/ns`); status != 401 {
		t.Errorf("MKCOL with alice's old password: status %d, want 401", status)
	}
	if _, status := curl(t, host, `curl -s -u 'alice:new pw' -XMKCOL http://HOST/config/ns`); status != 201 {
		t.Errorf("MKCOL as alice: status %d, want 201", status)
	}
	if _, status := curl(t, host, `echo "value" | curl -s -u 'alice:new pw' -T- http://HOST/config/ns/key`); status != 201 {
		t.Errorf("PUT as alice: status %d, want 201", status)
	}
	if out, status := curl(t, host, `curl -s http://HOST/config/ns/key`); out != "value\n" || status != 200 {
		t.Errorf("anonymous GET = %q, status %d; want value, 200", out, status)
	}
	if out, _ := curl(t, host, `curl -s http://HOST/api/v1/log`); !strings.Contains(out, `"author": "alice"`) {
		t.Errorf("log = %s, want alice as the author", out)
	}

	// A user added while verso runs can write after SIGHUP.
	c.want("Adding password for user carol\n", "carol-pw\n", "passwd", users, "carol")
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, status := curl(t, host, `echo "v" | curl -s -u 'carol:carol-pw' -T- http://HOST/config/ns/carol`)
		if status == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("carol's PUT after SIGHUP: status %d, want 201", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if stderr := p.Stderr(); strings.Contains(stderr, "new pw") || strings.Contains(stderr, "carol-pw") || strings.Contains(stderr, "Authorization") {
		t.Errorf("the log holds a password or Authorization header:\n%s", stderr)
	}
}

func TestServe_MalformedAccessFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	authz := filepath.Join(dir, "authz")
	os.WriteFile(authz, []byte("[/]\n* = r\nalice = rx\n"), 0o600)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("alice:plaintext\n"), 0o600)
	for _, tt := range []struct{ flag, file, want string }{
		{"--authz", authz, authz + ":3:"},
		{"--users", users, users + ":1:"},
	} {
		_, stderr, code := runVerso(t, "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), tt.flag, tt.file)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("serve %s with a malformed file: status %d, stderr %q; want 1 naming %s", tt.flag, code, stderr, tt.want)
		}
		if strings.Contains(stderr, "plaintext") {
			t.Errorf("serve %s: stderr quotes the password: %q", tt.flag, stderr)
		}
	}
}

// TestServe_AnonymousWritesBeyondLoopback listens on every interface (the
// test reaches it through loopback) without a users file.
func TestServe_AnonymousWritesBeyondLoopback(t *testing.T) {
	t.Parallel()
	p := launchVerso(t, "--listen", "0.0.0.0:0")
	_, port, _ := net.SplitHostPort(p.Addr)
	host := "127.0.0.1:" + port
	if _, status := curl(t, host, `curl -s -XMKCOL http://HOST/config/ns`); status != 401 {
		t.Errorf("anonymous MKCOL on 0.0.0.0: status %d, want 401", status)
	}
	if _, status := curl(t, host, `curl -s http://HOST/config/`); status != 200 {
		t.Errorf("anonymous GET on 0.0.0.0: status %d, want 200", status)
	}
	if !strings.Contains(p.Stderr(), "anonymous writes are refused") {
		t.Errorf("stderr does not say anonymous writes are refused:\n%s", p.Stderr())
	}

	p = launchVerso(t, "--listen", "0.0.0.0:0", "--allow-anonymous-writes")
	_, port, _ = net.SplitHostPort(p.Addr)
	if _, status := curl(t, "127.0.0.1:"+port, `curl -s -XMKCOL http://HOST/config/ns`); status != 201 {
		t.Errorf("anonymous MKCOL with --allow-anonymous-writes: status %d, want 201", status)
	}
}

func TestServe_TLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	p := launchVerso(t, "--tls-cert", certFile, "--tls-key", keyFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + p.Addr + "/healthz")
	if err != nil {
		t.Fatalf("GET over HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("GET over HTTPS = %d (TLS %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	if _, stderr, code := runVerso(t, "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--tls-cert", certFile, "--tls-key", filepath.Join(dir, "none.pem")); code == 0 || !strings.Contains(stderr, "none.pem") {
		t.Errorf("serve with a missing key: status %d, stderr %q; want a failure naming it", code, stderr)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "verso test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}
