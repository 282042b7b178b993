package svn

import (
	"bytes"
	"encoding/base64"
	"net/http/httptest"
	"testing"
)

// TestSvndiffFull checks the svndiff0 encoding against texts svn encodes
// the same way: header, one window of new data per 100 KiB.
func TestSvndiffFull(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(svndiffFull([]byte("host2\n"))); got != "U1ZOAAAABgEGhmhvc3QyCg==" {
		t.Errorf("svndiff of host2 = %s", got)
	}
	if got := svndiffFull(nil); !bytes.Equal(got, []byte("SVN\x00")) {
		t.Errorf("svndiff of nothing = %q, want the header alone", got)
	}
	// 200 bytes: the instruction's length needs its own integer.
	d := svndiffFull(bytes.Repeat([]byte("x"), 200))
	if want := []byte("SVN\x00\x00\x00\x81\x48\x03\x81\x48\x80\x81\x48"); !bytes.HasPrefix(d, want) || len(d) != len(want)+200 {
		t.Errorf("svndiff of 200 bytes starts % x, want % x", d[:min(len(d), 16)], want)
	}
	// 250 KiB: three windows.
	if n := bytes.Count(svndiffFull(make([]byte, 250*1024)), []byte{0x00, 0x00, 0x86, 0xa0, 0x00}); n != 2 {
		t.Errorf("a 250 KiB text has %d full windows, want 2", n)
	}
}

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
