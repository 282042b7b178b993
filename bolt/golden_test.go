package bolt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// goldenFile holds entries and commit records with the bytes this package
// stores for them, written once by the encoder that wrote existing data
// files, so that a later encoder can be checked against it byte for byte.
const goldenFile = "../internal/codec/testdata/encoding.golden"

var updateGolden = flag.Bool("update-golden", false, "rewrite "+goldenFile)

// goldenCase is one line of goldenFile: an entry or a commit record, and
// its encoding in hex.
type goldenCase struct {
	Name   string        `json:"name"`
	Entry  *verso.Entry  `json:"entry,omitempty"`
	Commit *verso.Commit `json:"commit,omitempty"`
	Group  string        `json:"group,omitempty"`
	Hex    string        `json:"hex"`
}

func goldenCases() []goldenCase {
	t0 := time.Date(2026, 11, 26, 12, 36, 33, 123456789, time.UTC)
	big := verso.Revision(1<<40 + 7)
	return []goldenCase{
		{Name: "key", Entry: &verso.Entry{Path: "/app/db/host", Kind: verso.KindKey, Value: []byte("db.example.org"), ContentType: "text/plain",
			CreateRev: 3, ModRev: 9, TreeRev: 9, Version: 4, ModTime: t0, ModBy: "alice"}},
		{Name: "empty key", Entry: &verso.Entry{Path: "/e", Kind: verso.KindKey, Value: []byte{},
			CreateRev: 1, ModRev: 1, TreeRev: 1, Version: 1, ModTime: t0}},
		{Name: "key with props", Entry: &verso.Entry{Path: "/p", Kind: verso.KindKey, Value: []byte{0, 1, 2, 0xff, 0xfe}, ContentType: "application/octet-stream",
			Props: map[string]string{"{DAV:}displayname": "Pé", "{urn:x}z": "<a>1</a>", "local": "", "{urn:x}a": "v"},
			CreateRev: 200, ModRev: 300, TreeRev: 300, Version: 100, ModTime: t0.Add(-time.Hour), ModBy: "bob"}},
		{Name: "long value", Entry: &verso.Entry{Path: "/big", Kind: verso.KindKey, Value: []byte(strings.Repeat("0123456789", 40)), ContentType: "text/plain; charset=utf-8",
			CreateRev: big, ModRev: big, TreeRev: big, Version: 1 << 33, ModTime: time.Unix(1<<33, 999999999).UTC(), ModBy: strings.Repeat("u", 200)}},
		{Name: "namespace", Entry: &verso.Entry{Path: "/app/db", Kind: verso.KindNamespace,
			CreateRev: 2, ModRev: 2, TreeRev: 9, Version: 1, ModTime: t0, ModBy: "carol"}},
		{Name: "root with props", Entry: &verso.Entry{Path: verso.Root, Kind: verso.KindNamespace, Props: map[string]string{"{urn:verso}owner": "ops"},
			ModRev: 5, TreeRev: 12, Version: 2, ModTime: t0}},
		{Name: "zero time", Entry: &verso.Entry{Path: "/ü/ß", Kind: verso.KindKey, Value: []byte("ünïcode"), CreateRev: 1, ModRev: 1, TreeRev: 1, Version: 1, ModTime: time.Unix(-62135596800, 0).UTC()}},
		{Name: "before 1970", Entry: &verso.Entry{Path: "/old", Kind: verso.KindKey, Value: []byte("x"), CreateRev: 1, ModRev: 1, TreeRev: 1, Version: 1, ModTime: time.Unix(-1000, 5).UTC()}},

		{Name: "commit", Commit: &verso.Commit{Rev: 9, Author: "alice", Time: t0, Message: "PUT /app/db/host",
			Changes: []verso.Change{{Path: "/app/db/host", Kind: verso.KindKey, Action: verso.Modified}}}},
		{Name: "commit without author or changes", Commit: &verso.Commit{Rev: 1, Time: time.Unix(1700000000, 0).UTC()}},
		{Name: "commit of every action", Commit: &verso.Commit{Rev: big, Author: "bob", Time: t0, Message: "several\nlines \"quoted\" <&>",
			Changes: []verso.Change{
				{Path: "/a", Kind: verso.KindNamespace, Action: verso.Added},
				{Path: "/a/k", Kind: verso.KindKey, Action: verso.Copied, From: "/b/k", FromRev: 8},
				{Path: "/b", Kind: verso.KindNamespace, Action: verso.Deleted},
				{Path: "/c", Kind: verso.KindKey, Action: verso.Moved, From: "/d", FromRev: big - 1},
				{Path: "/d", Kind: verso.KindKey, Action: verso.Deleted},
			}}},
		// The etcd store writes the id of its group into each record;
		// this package writes none.
		{Name: "commit of a group", Group: "5f0c2a9e41d7b38c6a0e9f12", Commit: &verso.Commit{Rev: 12, Author: "carol", Time: t0, Message: "MKCOL /x",
			Changes: []verso.Change{{Path: "/x", Kind: verso.KindNamespace, Action: verso.Added}}}},
	}
}

// TestEncoding_Golden checks that entries and commit records encode to the
// bytes in goldenFile, and decode back to what was encoded.
func TestEncoding_Golden(t *testing.T) {
	if *updateGolden {
		var buf bytes.Buffer
		for _, c := range goldenCases() {
			switch {
			case c.Entry != nil:
				c.Hex = hex.EncodeToString(encodeEntry(c.Entry))
			case c.Group != "":
				// Written by the etcd store's test with -update-golden.
			default:
				b, err := encodeCommit(c.Commit)
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
	}
	for _, c := range readGolden(t) {
		if c.Group != "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			want, err := hex.DecodeString(c.Hex)
			if err != nil {
				t.Fatal(err)
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
			got, err := encodeCommit(c.Commit)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encodeCommit() = %s, want %s", got, want)
			}
			dc, err := decodeCommit(want)
			if err != nil {
				t.Fatalf("decodeCommit() error: %v", err)
			}
			if diff := cmp.Diff(c.Commit, dc); diff != "" {
				t.Errorf("decodeCommit() mismatch (-want +got):\n%s", diff)
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
