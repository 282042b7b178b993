package codec

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
)

// fastCommits are records as the stores write them: the fast decoder must
// take each (else it silently never runs).
var fastCommits = []struct {
	c     *verso.Commit
	group string
}{
	{&verso.Commit{Rev: 1, Time: time.Unix(1764000000, 123).UTC()}, ""},
	{&verso.Commit{Rev: 12, Author: "alice", Message: "PUT /ns/key", Time: time.Unix(1764000000, 0).UTC(), Changes: []verso.Change{
		{Path: "/ns/key", Kind: verso.KindKey, Action: verso.Modified, Mods: verso.ModsRecorded | verso.ModValue},
	}}, "g-1"},
	{&verso.Commit{Rev: 99, Author: "bob", Message: "a copy, unicode é 日本 and DEL \x7f", Time: time.Unix(1764000001, 999999999).UTC(), Changes: []verso.Change{
		{Path: "/a", Kind: verso.KindNamespace, Action: verso.Deleted},
		{Path: "/b", Kind: verso.KindNamespace, Action: verso.Copied, From: "/a", FromRev: 98, Mods: verso.ModsRecorded},
		{Path: "/b/k", Kind: verso.KindKey, Action: verso.Moved, From: "/a/k", FromRev: 98},
	}}, ""},
}

// TestDecodeCommitFast checks that the stores' records take the fast
// path and decode to what was encoded, and that records it declines
// (escapes, old field sets) still decode.
func TestDecodeCommitFast(t *testing.T) {
	for _, fc := range fastCommits {
		b, err := EncodeCommit(fc.c, fc.group)
		if err != nil {
			t.Fatal(err)
		}
		c, group, ok := decodeCommitFast(b)
		if !ok {
			t.Errorf("decodeCommitFast(%s) declined a record EncodeCommit wrote", b)
			continue
		}
		if diff := cmp.Diff(fc.c, c); diff != "" || group != fc.group {
			t.Errorf("decodeCommitFast(%s) mismatch (-want +got):\n%s group %q", b, diff, group)
		}
	}
	// A message with characters encoding/json escapes: declined, and
	// decoded all the same.
	esc := &verso.Commit{Rev: 3, Message: "line\n<b> & \"q\"", Time: time.Unix(5, 0).UTC()}
	b, _ := EncodeCommit(esc, "")
	if _, _, ok := decodeCommitFast(b); ok {
		t.Errorf("decodeCommitFast(%s) took a string with escapes", b)
	}
	if c, _, err := DecodeCommit(b); err != nil || c.Message != esc.Message {
		t.Errorf("DecodeCommit(%s) = %+v, %v", b, c, err)
	}
	for _, g := range readGolden(t) {
		if g.Commit == nil {
			continue
		}
		b, _ := hex.DecodeString(g.Hex)
		want, wg, err := decodeCommitJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if c, group, ok := decodeCommitFast(b); ok && (cmp.Diff(want, c) != "" || group != wg) {
			t.Errorf("%s: decodeCommitFast = %+v %q, want %+v %q", g.Name, c, group, want, wg)
		}
	}
}

// FuzzDecodeCommitFast: whatever the fast decoder accepts, encoding/json
// accepts too and decodes the same.
func FuzzDecodeCommitFast(f *testing.F) {
	for _, fc := range fastCommits {
		b, _ := EncodeCommit(fc.c, fc.group)
		f.Add(b)
	}
	f.Add([]byte(`{"rev":1,"sec":2,"changes":[{"path":"/a","kind":300,"action":"added"}]}`))
	f.Add([]byte(`{"rev":01,"sec":2}`))
	f.Add([]byte(`{"rev":1,"sec":2} `))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, group, ok := decodeCommitFast(b)
		if !ok {
			return
		}
		want, wg, err := decodeCommitJSON(b)
		if err != nil {
			t.Fatalf("decodeCommitFast(%q) accepted what encoding/json refuses: %v", b, err)
		}
		if diff := cmp.Diff(want, c); diff != "" || group != wg {
			t.Fatalf("decodeCommitFast(%q) mismatch (-json +fast):\n%s group %q, want %q", b, diff, group, wg)
		}
	})
}

// TestEncodeCommitFast checks that the fast encoder writes what
// encoding/json writes, byte for byte, and declines the strings it would
// escape.
func TestEncodeCommitFast(t *testing.T) {
	for _, fc := range fastCommits {
		checkEncodeCommitFast(t, fc.c, fc.group)
	}
	for _, s := range []string{"line\n", "<b>", "a & b", `"q"`, `back\slash`, "é", "\x7f", "\xff", "\u2028"} {
		c := &verso.Commit{Rev: 3, Message: s, Time: time.Unix(5, 0).UTC()}
		if _, ok := appendCommitFast(nil, c, ""); ok {
			t.Errorf("appendCommitFast took the message %q", s)
		}
		checkEncodeCommitFast(t, c, "")
		checkEncodeCommitFast(t, &verso.Commit{Rev: 4, Time: time.Unix(-5, 7), Changes: []verso.Change{{Path: verso.Path("/" + s), Action: verso.Added}}}, s)
	}
}

func checkEncodeCommitFast(t *testing.T, c *verso.Commit, group string) {
	t.Helper()
	want, err := encodeCommitJSON(c, group)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EncodeCommit(c, group)
	if err != nil || string(got) != string(want) {
		t.Errorf("EncodeCommit(%+v, %q) = %s, %v; encoding/json writes %s", c, group, got, err, want)
	}
}

// FuzzEncodeCommitFast: whatever record the fast encoder writes,
// encoding/json writes the same bytes.
func FuzzEncodeCommitFast(f *testing.F) {
	f.Add(int64(1), "alice", int64(1764000000), int64(123), "PUT /ns/key", "/ns/key", uint8(1), "modified", "", int64(0), uint8(3), "")
	f.Add(int64(99), "", int64(-1), int64(0), "a\n<b>", "/b", uint8(2), "copied", "/a", int64(98), uint8(0), "g-1")
	f.Fuzz(func(t *testing.T, rev int64, author string, sec, nsec int64, msg, path string, kind uint8, action, from string, fromRev int64, mods uint8, group string) {
		c := &verso.Commit{Rev: verso.Revision(rev), Author: author, Time: time.Unix(sec, nsec%1e9).UTC(), Message: msg}
		if path != "" {
			c.Changes = []verso.Change{{Path: verso.Path(path), Kind: verso.Kind(kind), Action: verso.Action(action), From: verso.Path(from), FromRev: verso.Revision(fromRev), Mods: verso.Mods(mods)}}
		}
		want, err := encodeCommitJSON(c, group)
		if err != nil {
			t.Skip()
		}
		if got, ok := appendCommitFast(nil, c, group); ok && string(got) != string(want) {
			t.Fatalf("appendCommitFast = %s, encoding/json writes %s", got, want)
		}
	})
}
