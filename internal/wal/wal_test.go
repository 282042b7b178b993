package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

func testHeader(pageSize int) *Header {
	metas := make([]byte, 2*pageSize)
	for i := range metas {
		metas[i] = byte(i)
	}
	return &Header{Version: Version, PageSize: pageSize, Head: 42, Inode: 7, PagesCRC: 9, Metas: metas}
}

func TestAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db.wal")
	h := testHeader(4096)
	w, err := Create(path, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.NoSync = true // this test is about the format
	var want []Record
	rev := verso.Revision(42)
	for i := range 50 {
		// Some records are larger than what the log was filled for.
		writes := bytes.Repeat([]byte{byte(i)}, 1+i*i*40)
		r := Record{First: rev + 1, Last: rev + verso.Revision(1+i%3), Writes: writes}
		if err := w.Append(r.First, r.Last, r.Writes); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want = append(want, r)
		rev = r.Last
	}
	if w.Records() != len(want) {
		t.Errorf("Records() = %d, want %d", w.Records(), len(want))
	}
	l, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, l.Header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	got := l.Records
	if len(got) != len(want) {
		t.Fatalf("Read: %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.First != want[i].First || r.Last != want[i].Last || !bytes.Equal(r.Writes, want[i].Writes) {
			t.Errorf("record %d = r%d-r%d, %d bytes; want r%d-r%d, %d bytes", i, r.First, r.Last, len(r.Writes), want[i].First, want[i].Last, len(want[i].Writes))
		}
	}
	if fi, _ := os.Stat(path); fi.Size() <= firstSize {
		t.Errorf("log size %d: want it grown past %d", fi.Size(), firstSize)
	}
}

// TestTornTail damages the last record as a crash during its write
// could, and checks that reading stops before it, keeping the others.
func TestTornTail(t *testing.T) {
	write := func(t *testing.T) (path string, ends []int64) {
		path = filepath.Join(t.TempDir(), "verso.db.wal")
		w, err := Create(path, testHeader(4096), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ends = append(ends, w.Offset())
		for i := range 3 {
			r := verso.Revision(43 + i)
			if err := w.Append(r, r, []byte(strings.Repeat("w", 100+i))); err != nil {
				t.Fatal(err)
			}
			ends = append(ends, w.Offset())
		}
		return path, ends
	}
	tests := []struct {
		name   string
		damage func(b []byte, ends []int64) []byte
	}{
		{"intact", func(b []byte, ends []int64) []byte { return b }},
		{"short payload", func(b []byte, ends []int64) []byte { return b[:ends[3]-10] }},
		{"short length", func(b []byte, ends []int64) []byte { return b[:ends[2]+3] }},
		{"bad checksum", func(b []byte, ends []int64) []byte { b[ends[3]-1] ^= 0xff; return b }},
		{"bad length", func(b []byte, ends []int64) []byte { b[ends[2]] = 0x7f; return b }},
		{"zeroed", func(b []byte, ends []int64) []byte { clear(b[ends[2]:ends[3]]); return b }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, ends := write(t)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b, ends), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			recs := l.Records
			want := 2
			if tt.name == "intact" {
				want = 3
			}
			if len(recs) != want {
				t.Fatalf("Read: %d records, want %d", len(recs), want)
			}
			for i, r := range recs {
				if r.First != verso.Revision(43+i) || len(r.Writes) != 100+i {
					t.Errorf("record %d = r%d, %d bytes; want r%d, %d bytes", i, r.First, len(r.Writes), 43+i, 100+i)
				}
			}
		})
	}
}

func TestBadHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verso.db.wal")
	w, err := Create(path, testHeader(4096), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, _ := os.ReadFile(path)
	b[100] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := Read(path); !errors.Is(err, errCorrupt) {
		t.Errorf("Read with a damaged header: %v, want errCorrupt", err)
	}
}

// TestVersion2 checks that a log of version 2, whose pages CRC covers the
// root and freelist pages only, is still read, and a version newer than
// Version is refused. (Package bolt checks what each version's CRC covers.)
func TestVersion2(t *testing.T) {
	b := testHeader(4096).encode()
	binary.BigEndian.PutUint32(b[8:], 2)
	end := len(b) - 4
	binary.BigEndian.PutUint32(b[end:], crc32.Checksum(b[:end], crc32c))
	h, _, err := DecodeHeader(b)
	if err != nil || h.Version != 2 {
		t.Fatalf("DecodeHeader of version 2: %+v, %v", h, err)
	}
	binary.BigEndian.PutUint32(b[8:], Version+1)
	binary.BigEndian.PutUint32(b[end:], crc32.Checksum(b[:end], crc32c))
	if _, _, err := DecodeHeader(b); !errors.Is(err, errCorrupt) {
		t.Errorf("DecodeHeader of version %d: %v, want errCorrupt", Version+1, err)
	}
}

// TestReplay checks that the writes AppendPut and AppendDelete record are
// replayed in order, and that malformed writes are refused as damage.
func TestReplay(t *testing.T) {
	var w []byte
	w = AppendPut(w, 2, []byte("k1"), []byte("v1"))
	w = AppendDelete(w, 0, []byte("k2"))
	w = AppendPut(w, 4, []byte{}, []byte{})
	w = AppendPut(w, 1, []byte("k3"), bytes.Repeat([]byte("x"), 300))
	var got []string
	put := func(b int, k, v []byte) error {
		got = append(got, fmt.Sprintf("put %d %q %d", b, k, len(v)))
		return nil
	}
	del := func(b int, k []byte) error {
		got = append(got, fmt.Sprintf("delete %d %q", b, k))
		return nil
	}
	if err := Replay(w, 5, put, del); err != nil {
		t.Fatal(err)
	}
	want := []string{`put 2 "k1" 2`, `delete 0 "k2"`, `put 4 "" 0`, `put 1 "k3" 300`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	for name, bad := range map[string][]byte{
		"unknown bucket": AppendPut(nil, 5, []byte("k"), []byte("v")),
		"unknown kind":   {9, 0, 1, 'k'},
		"short key":      {opDelete, 0, 5, 'k'},
		"no value":       {opPut, 0, 1, 'k'},
		"one byte":       {opPut},
	} {
		if err := Replay(bad, 5, put, del); !errors.Is(err, errCorrupt) {
			t.Errorf("Replay of %s: %v, want errCorrupt", name, err)
		}
	}
	sentinel := errors.New("stop")
	if err := Replay(w, 5, func(int, []byte, []byte) error { return sentinel }, del); err != sentinel {
		t.Errorf("Replay with a failing put: %v, want its error", err)
	}
}
