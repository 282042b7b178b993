package server

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

// TestSameOrigin checks which Origin values are the server's own, for a
// server reached directly, over TLS, and through a proxy that ends TLS.
func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		host, origin string
		tls          bool
		proto        string // X-Forwarded-Proto
		want         bool
	}{
		{"verso.example:8080", "http://verso.example:8080", false, "", true},
		{"verso.example:8080", "http://VERSO.example:8080", false, "", true},
		{"verso.example", "http://verso.example:80", false, "", true},
		{"verso.example:80", "http://verso.example", false, "", true},
		{"verso.example", "https://verso.example", false, "", true}, // a proxy ends TLS
		{"verso.example", "https://verso.example", true, "", true},
		{"verso.example:443", "https://verso.example", true, "", true},
		{"verso.example", "https://verso.example", false, "https", true},
		{"[::1]:8080", "http://[::1]:8080", false, "", true},
		{"verso.example", "http://verso.example/ui/page?x=1", false, "", true}, // a Referer
		{"verso.example", "http://verso.example", true, "", false},             // http page, https server
		{"verso.example", "http://verso.example", false, "https", false},
		{"verso.example:8080", "http://verso.example:8081", false, "", false},
		{"verso.example:8080", "http://verso.example", false, "", false},
		{"verso.example", "http://evil.example", false, "", false},
		{"verso.example", "http://verso.example.evil.example", false, "", false},
		{"verso.example", "http://user@verso.example", false, "", false},
		{"verso.example", "null", false, "", false},
		{"verso.example", "", false, "", false},
		{"verso.example", "file:///etc/passwd", false, "", false},
		{"verso.example", "ftp://verso.example", false, "", false},
		{"verso.example", "verso.example", false, "", false},
		{"verso.example", "http://%zz", false, "", false},
	} {
		r := httptest.NewRequest("POST", "/config/x", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if got := sameOrigin(r, c.origin); got != c.want {
			t.Errorf("sameOrigin(Host %s, tls %v, X-Forwarded-Proto %q, %q) = %v, want %v", c.host, c.tls, c.proto, c.origin, got, c.want)
		}
	}
}
