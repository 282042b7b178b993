package main

import (
	"strings"
	"testing"
)

// TestCLI_Locks: verso lock holds off other writers until verso unlock;
// a write that sends the token (--lock-token, VERSO_LOCK_TOKEN) goes
// through, and a token is no hindrance to a write of what its lock does
// not protect.
func TestCLI_Locks(t *testing.T) {
	t.Parallel()
	url := startVerso(t)
	c := newCLI(t, url)
	c.want("Committed revision 1.\n", "", "mkdir", "/app")
	c.want("Committed revision 2.\n", "h1\n", "put", "/app/host")
	c.want("Committed revision 3.\n", "x\n", "put", "/app/other")

	out, stderr, code := c.run("", "lock", "/app/host", "-m", "moving the database", "--timeout", "30m")
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "urn:uuid:") || strings.Count(out, "\n") != 1 {
		t.Fatalf("verso lock: status %d, stdout %q, stderr %q; want 0 and the token on one line", code, out, stderr)
	}
	c.fails(1, []string{"put", "/app/host", "/dev/null"}, "/config/app/host is locked", "--lock-token or VERSO_LOCK_TOKEN")
	c.fails(1, []string{"rm", "/app"}, "is locked")
	c.fails(1, []string{"lock", "/app/host"}, "locked by another lock")
	c.want("h1\n", "", "get", "/app/host")

	c.want("Committed revision 4.\n", "h2\n", "put", "/app/host", "--lock-token", tok)
	withToken := newCLI(t, url, "VERSO_LOCK_TOKEN="+tok)
	withToken.want("Committed revision 5.\n", "h3\n", "put", "/app/host")
	withToken.want("Committed revision 6.\n", "y\n", "put", "/app/other") // not locked: the token does not get in the way
	withToken.want("Committed revision 7.\n", "", "mkdir", "/app/sub")
	c.want("h3\n", "", "get", "/app/host")

	c.fails(1, []string{"unlock", "/app/other", tok}, "no lock with token")
	c.want("", "", "unlock", "/app/host", tok)
	c.want("Committed revision 8.\n", "h4\n", "put", "/app/host")
	c.fails(1, []string{"unlock", "/app/host", tok}, "no lock with token")

	// A namespace's lock protects everything below it; --shallow only
	// which keys it holds.
	out, _, _ = c.run("", "lock", "/app")
	ns := strings.TrimSpace(out)
	c.fails(1, []string{"put", "/app/host", "/dev/null"}, "is locked")
	c.want("", "", "unlock", "/app/host", ns) // any path the lock protects
	out, _, _ = c.run("", "lock", "/app", "--shallow")
	shallow := strings.TrimSpace(out)
	c.want("Committed revision 9.\n", "h5\n", "put", "/app/host")
	c.fails(1, []string{"put", "/app/new", "/dev/null"}, "is locked")
	c.want("Committed revision 10.\n", "n\n", "put", "/app/new", "--lock-token", shallow)

	c.fails(2, []string{"lock", "/app", "--timeout", "-5m"}, "invalid --timeout")
	c.fails(2, []string{"unlock", "/app"}, "PATH TOKEN")
}
