package codec

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// goldenFile holds entries and commit records with the bytes the stores
// wrote for them before this package existed (bolt's encoder wrote the
// entries and records without a group, etcd's those with one). Existing
// data files and clusters hold these bytes: never regenerate the file.
const goldenFile = "testdata/encoding.golden"

type goldenCase struct {
	Name   string        `json:"name"`
	Entry  *verso.Entry  `json:"entry,omitempty"`
	Commit *verso.Commit `json:"commit,omitempty"`
	Group  string        `json:"group,omitempty"`
	Hex    string        `json:"hex"`
}

func readGolden(t *testing.T) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenCase
	for line := range bytes.Lines(b) {
		var c goldenCase
		if err := json.Unmarshal(line, &c); err != nil {
			t.Fatalf("%s: %v", goldenFile, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no cases", goldenFile)
	}
	return out
}

// TestEncoding_Golden checks that entries and commit records encode to the
// bytes the stores have always written, and decode back to what was
// encoded.
func TestEncoding_Golden(t *testing.T) {
	for _, c := range readGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			want, err := hex.DecodeString(c.Hex)
			if err != nil || len(want) == 0 {
				t.Fatalf("hex %q: %v", c.Hex, err)
			}
			if c.Entry != nil {
				if got := EncodeEntry(c.Entry); !bytes.Equal(got, want) {
					t.Errorf("EncodeEntry() = %x, want %x", got, want)
				}
				got, err := DecodeEntry(c.Entry.Path, want)
				if err != nil {
					t.Fatalf("DecodeEntry() error: %v", err)
				}
				if diff := cmp.Diff(c.Entry, got); diff != "" {
					t.Errorf("DecodeEntry() mismatch (-want +got):\n%s", diff)
				}
				return
			}
			got, err := EncodeCommit(c.Commit, c.Group)
			if err != nil {
				t.Fatalf("EncodeCommit() error: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("EncodeCommit() = %s, want %s", got, want)
			}
			dc, group, err := DecodeCommit(want)
			if err != nil {
				t.Fatalf("DecodeCommit() error: %v", err)
			}
			if diff := cmp.Diff(c.Commit, dc); diff != "" {
				t.Errorf("DecodeCommit() mismatch (-want +got):\n%s", diff)
			}
			if group != c.Group {
				t.Errorf("DecodeCommit() group = %q, want %q", group, c.Group)
			}
		})
	}
}

// TestMarkers checks the one-byte history records, which stores hold
// already.
func TestMarkers(t *testing.T) {
	if !IsTombstone([]byte{0}) || IsTombstone([]byte{2}) || IsTombstone([]byte{0, 0}) || IsTombstone(nil) {
		t.Error("IsTombstone accepts other than the single byte 0x00")
	}
	if !IsGone([]byte{2}) || IsGone([]byte{0}) || IsGone([]byte{2, 0}) || IsGone(nil) {
		t.Error("IsGone accepts other than the single byte 0x02")
	}
}

func TestDecodeEntry_Corrupt(t *testing.T) {
	good := EncodeEntry(&verso.Entry{Path: "/k", Kind: verso.KindKey, Value: []byte("v"), Props: map[string]string{"a": "b"}, Version: 1})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"tombstone", []byte{Tombstone}},
		{"gone", []byte{Gone}},
		{"unknown version", append([]byte{9}, good[1:]...)},
		{"unknown kind", append([]byte{entryV1, 7}, good[2:]...)},
		{"trailing byte", append(bytes.Clone(good), 0)},
	}
	for n := 1; n < len(good); n++ {
		tests = append(tests, struct {
			name string
			b    []byte
		}{"truncated", good[:n]})
	}
	for _, tt := range tests {
		if e, err := DecodeEntry("/k", tt.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeEntry(%s %x) = %v, %v; want ErrCorrupt", tt.name, tt.b, e, err)
		}
		if r, err := DecodeRaw(tt.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeRaw(%s %x) = %+v, %v; want ErrCorrupt", tt.name, tt.b, r, err)
		}
	}
}

// TestDecodeRaw checks that DecodeRaw reads the golden entries as
// DecodeEntry does, its slices pointing into the encoding and nothing
// allocated, and that AppendProps writes the properties DecodeProps reads.
func TestDecodeRaw(t *testing.T) {
	for _, c := range readGolden(t) {
		if c.Entry == nil {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			b, _ := hex.DecodeString(c.Hex)
			var r RawEntry
			var err error
			if allocs := testing.AllocsPerRun(10, func() { r, err = DecodeRaw(b) }); allocs != 0 {
				t.Errorf("DecodeRaw() allocates %v times, want 0", allocs)
			}
			if err != nil {
				t.Fatalf("DecodeRaw() error: %v", err)
			}
			e := c.Entry
			if r.Kind != e.Kind || r.CreateRev != e.CreateRev || r.ModRev != e.ModRev || r.TreeRev != e.TreeRev || r.Version != e.Version ||
				!time.Unix(r.Sec, r.Nsec).Equal(e.ModTime) || string(r.ModBy) != e.ModBy || string(r.ContentType) != e.ContentType {
				t.Errorf("DecodeRaw() = %+v, want the fields of %+v", r, e)
			}
			if e.Kind == verso.KindKey && !bytes.Equal(r.Value, e.Value) || e.Kind != verso.KindKey && r.Value != nil {
				t.Errorf("DecodeRaw() Value = %q, want %q", r.Value, e.Value)
			}
			if len(r.Value) > 0 && !inside(r.Value, b) {
				t.Error("DecodeRaw() Value is a copy, want a view of the encoding")
			}
			if len(e.Props) == 0 {
				if r.Props != nil {
					t.Errorf("DecodeRaw() Props = %x, want nil", r.Props)
				}
				return
			}
			if diff := cmp.Diff(e.Props, DecodeProps(r.Props)); diff != "" {
				t.Errorf("DecodeProps() mismatch (-want +got):\n%s", diff)
			}
			if got := AppendProps(nil, e.Props); !bytes.Equal(got, r.Props) {
				t.Errorf("AppendProps() = %x, want %x", got, r.Props)
			}
		})
	}
}

// inside reports whether sub lies within b's memory.
func inside(sub, b []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return start <= p && p+uintptr(len(sub)) <= start+uintptr(len(b))
}

func TestDecodeCommit_Corrupt(t *testing.T) {
	if c, _, err := DecodeCommit([]byte(`{"rev":`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeCommit(truncated) = %v, %v; want ErrCorrupt", c, err)
	}
}

// TestCommitMods checks that a change's Mods survive the record, and that
// records written before Mods were kept (the golden ones) decode with
// none: "not recorded", never "nothing changed".
func TestCommitMods(t *testing.T) {
	c := &verso.Commit{Rev: 3, Time: time.Unix(5, 0).UTC(), Changes: []verso.Change{
		{Path: "/a", Kind: verso.KindKey, Action: verso.Modified, Mods: verso.ModsRecorded | verso.ModProps},
		{Path: "/b", Kind: verso.KindKey, Action: verso.Modified, Mods: verso.ModsRecorded},
		{Path: "/c", Kind: verso.KindKey, Action: verso.Deleted},
	}}
	b, err := EncodeCommit(c, "")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := DecodeCommit(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("DecodeCommit(EncodeCommit()) mismatch (-want +got):\n%s", diff)
	}
	for _, g := range readGolden(t) {
		if g.Commit == nil {
			continue
		}
		b, _ := hex.DecodeString(g.Hex)
		dc, _, err := DecodeCommit(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range dc.Changes {
			if ch.Mods != 0 {
				t.Errorf("%s: an old record's change %s decodes with Mods %d, want none", g.Name, ch.Path, ch.Mods)
			}
		}
	}
}
