package etcd

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// goldenFile holds entries and commit records with the bytes the stores
// keep for them (written by package bolt's test; the records carrying a
// group id by this one), so that a later encoder can be checked against it
// byte for byte.
const goldenFile = "../internal/codec/testdata/encoding.golden"

var updateGolden = flag.Bool("update-golden", false, "fill in the records of "+goldenFile+" that carry a group id")

type goldenCase struct {
	Name   string        `json:"name"`
	Entry  *verso.Entry  `json:"entry,omitempty"`
	Commit *verso.Commit `json:"commit,omitempty"`
	Group  string        `json:"group,omitempty"`
	Hex    string        `json:"hex"`
}

// TestEncoding_Golden checks that this store encodes entries and commit
// records to the same bytes as package bolt, and decodes them back.
func TestEncoding_Golden(t *testing.T) {
	cases := readGolden(t)
	if *updateGolden {
		var buf bytes.Buffer
		for _, c := range cases {
			if c.Group != "" && c.Hex == "" {
				b, err := encodeCommit(c.Commit, c.Group)
				if err != nil {
					t.Fatal(err)
				}
				c.Hex = hex.EncodeToString(b)
			}
			line, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(line, '\n'))
		}
		if err := os.WriteFile(goldenFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		cases = readGolden(t)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, err := hex.DecodeString(c.Hex)
			if err != nil || len(want) == 0 {
				t.Fatalf("hex %q: %v", c.Hex, err)
			}
			if c.Entry != nil {
				if got := encodeEntry(c.Entry); !bytes.Equal(got, want) {
					t.Errorf("encodeEntry() = %x, want %x", got, want)
				}
				got, err := decodeEntry(c.Entry.Path, want)
				if err != nil {
					t.Fatalf("decodeEntry() error: %v", err)
				}
				if diff := cmp.Diff(c.Entry, got); diff != "" {
					t.Errorf("decodeEntry() mismatch (-want +got):\n%s", diff)
				}
				return
			}
			got, err := encodeCommit(c.Commit, c.Group)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encodeCommit() = %s, want %s", got, want)
			}
			dc, group, err := decodeCommit(want)
			if err != nil {
				t.Fatalf("decodeCommit() error: %v", err)
			}
			if diff := cmp.Diff(c.Commit, dc); diff != "" {
				t.Errorf("decodeCommit() mismatch (-want +got):\n%s", diff)
			}
			if group != c.Group {
				t.Errorf("decodeCommit() group = %q, want %q", group, c.Group)
			}
		})
	}
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
	return out
}
