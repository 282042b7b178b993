package svndump

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso/bolt"
)

// benchDump returns a dump stream of revs revisions, each changing three
// of 500 files (svnadmin dump's format 2, full texts).
func benchDump(revs int) []byte {
	var b strings.Builder
	props := func(kv ...string) string {
		var s strings.Builder
		for i := 0; i+1 < len(kv); i += 2 {
			fmt.Fprintf(&s, "K %d\n%s\nV %d\n%s\n", len(kv[i]), kv[i], len(kv[i+1]), kv[i+1])
		}
		return s.String() + "PROPS-END\n"
	}
	b.WriteString("SVN-fs-dump-format-version: 2\n\n")
	for r := 1; r <= revs; r++ {
		p := props("svn:author", "alice", "svn:date", "2020-01-01T00:00:00.000000Z", "svn:log", fmt.Sprintf("commit %d", r))
		fmt.Fprintf(&b, "Revision-number: %d\nProp-content-length: %d\nContent-length: %d\n\n%s\n", r, len(p), len(p), p)
		if r == 1 {
			b.WriteString("Node-path: ns\nNode-kind: dir\nNode-action: add\n\n")
		}
		for f := range 3 {
			i := r*3 + f
			action := "change"
			if i < 503 {
				action = "add"
			}
			text := strings.Repeat(fmt.Sprintf("value %d %d\n", r, f), 5)
			fmt.Fprintf(&b, "Node-path: ns/k%d\nNode-kind: file\nNode-action: %s\nText-content-length: %d\nContent-length: %d\n\n%s\n",
				i%500, action, len(text), len(text), text)
		}
	}
	return []byte(b.String())
}

// BenchmarkLoad measures verso load: a dump of 500 revisions (three files
// each) into a new bolt store, one commit a revision.
func BenchmarkLoad(b *testing.B) {
	dump := benchDump(500)
	b.SetBytes(int64(len(dump)))
	for b.Loop() {
		st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), &bolt.Options{MaxBatch: 1})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Load(context.Background(), st, strings.NewReader(string(dump)), LoadOptions{}); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
}
