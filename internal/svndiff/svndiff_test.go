package svndiff

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// TestSvndiffFull checks the svndiff0 encoding against texts svn encodes
// the same way: header, one window of new data per 100 KiB.
func TestSvndiffFull(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(Full([]byte("host2\n"))); got != "U1ZOAAAABgEGhmhvc3QyCg==" {
		t.Errorf("svndiff of host2 = %s", got)
	}
	if got := Full(nil); !bytes.Equal(got, []byte("SVN\x00")) {
		t.Errorf("svndiff of nothing = %q, want the header alone", got)
	}
	// 200 bytes: the instruction's length needs its own integer.
	d := Full(bytes.Repeat([]byte("x"), 200))
	if want := []byte("SVN\x00\x00\x00\x81\x48\x03\x81\x48\x80\x81\x48"); !bytes.HasPrefix(d, want) || len(d) != len(want)+200 {
		t.Errorf("svndiff of 200 bytes starts % x, want % x", d[:min(len(d), 16)], want)
	}
	// 250 KiB: three windows.
	if n := bytes.Count(Full(make([]byte, 250*1024)), []byte{0x00, 0x00, 0x86, 0xa0, 0x00}); n != 2 {
		t.Errorf("a 250 KiB text has %d full windows, want 2", n)
	}
}

// TestSvndiffRoundTrip checks that deltas the client sends apply: copies
// from the source, from the target (overlapping) and new data, in
// svndiff0, 1 (zlib) and 2 (LZ4).
func TestSvndiffRoundTrip(t *testing.T) {
	if out, err := Apply(Full([]byte("hello\n")), nil, 100); err != nil || string(out) != "hello\n" {
		t.Fatalf("full text: %q %v", out, err)
	}
	// source "abcdef": copy 3 from source at 2 ("cde"), new "X", copy 4 from target at 0 ("cdeX")
	ins := []byte{0x03, 0x02, 0x81, 0x44, 0x00}
	d := append([]byte("SVN\x00"), 0x00, 0x06, 0x08, byte(len(ins)), 0x01)
	d = append(d, ins...)
	d = append(d, 'X')
	if out, err := Apply(d, []byte("abcdef"), 100); err != nil || string(out) != "cdeXcdeX" {
		t.Fatalf("svndiff0 with copies = %q, %v", out, err)
	}
	if _, err := Apply(d, []byte("abc"), 100); err == nil {
		t.Errorf("a source view past the base applied")
	}
	if _, err := Apply(d, []byte("abcdef"), 4); err == nil {
		t.Errorf("a target past the cap applied")
	}
	// svndiff1: sections stored uncompressed (length prefix equals size)
	d1 := append([]byte("SVN\x01"), 0x00, 0x00, 0x05, 0x02, 0x06, 0x01, 0x85, 0x05)
	d1 = append(d1, "hello"...)
	if out, err := Apply(d1, nil, 100); err != nil || string(out) != "hello" {
		t.Fatalf("svndiff1 = %q, %v", out, err)
	}
	// svndiff2: new data LZ4-compressed: "aaaaaaaaaa" = literal "a", match offset 1 length 9
	lz := []byte{0x15, 'a', 0x01, 0x00}
	d2 := append([]byte("SVN\x02"), 0x00, 0x00, 0x0a, 0x02, byte(1+len(lz)), 0x01, 0x8a, 0x0a)
	d2 = append(d2, lz...)
	if out, err := Apply(d2, nil, 100); err != nil || !bytes.Equal(out, bytes.Repeat([]byte("a"), 10)) {
		t.Fatalf("svndiff2 = %q, %v", out, err)
	}
}
