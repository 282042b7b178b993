package svn

import (
	"net/http/httptest"
	"testing"
)

// TestUUID checks that the repository UUID depends on the mount point
// alone: the same on every server, after every commit.
func TestUUID(t *testing.T) {
	a, b := New(nil, Options{Mount: "/config"}), New(nil, Options{Mount: "/config/"})
	ctx := httptest.NewRequest("GET", "/", nil).Context()
	if a.UUID(ctx) != b.UUID(ctx) || len(a.UUID(ctx)) != 36 {
		t.Errorf("UUIDs %q and %q", a.UUID(ctx), b.UUID(ctx))
	}
	if c := New(nil, Options{Mount: "/other"}); c.UUID(ctx) == a.UUID(ctx) {
		t.Errorf("two mount points share UUID %s", a.UUID(ctx))
	}
	if d := New(nil, Options{Mount: "/config", UUID: "x"}); d.UUID(ctx) != "x" {
		t.Errorf("Options.UUID ignored: %s", d.UUID(ctx))
	}
}
