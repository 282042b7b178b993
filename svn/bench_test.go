package svn

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// BenchmarkCheckout measures the update report of a checkout of 10,000
// keys in 100 namespaces (the server's side of svn checkout), and of an
// update after one key changed.
func BenchmarkCheckout(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for i := range 100 {
		ops := []verso.Op{{Kind: verso.OpMkcol, Path: verso.MustPath(fmt.Sprintf("/ns%03d", i))}}
		for j := range 100 {
			ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(fmt.Sprintf("/ns%03d/key%03d", i, j)),
				Value: []byte(fmt.Sprintf("value %d %d\n", i, j))})
		}
		if _, err := st.Commit(ctx, &verso.Txn{Ops: ops}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/ns050/key050", Value: []byte("x\n")}}}); err != nil {
		b.Fatal(err)
	}
	h := New(st, Options{Mount: "/config"})
	run := func(b *testing.B, report string) {
		for b.Loop() {
			r := httptest.NewRequest("REPORT", "/config/!svn/me", strings.NewReader(report))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r, "/!svn/me")
			if w.Code != http.StatusOK {
				b.Fatalf("REPORT = %d %s", w.Code, w.Body)
			}
			b.SetBytes(int64(w.Body.Len()))
		}
	}
	b.Run("checkout", func(b *testing.B) {
		run(b, `<S:update-report xmlns:S="svn:" send-all="true"><S:src-path>/config</S:src-path><S:depth>unknown</S:depth><S:entry rev="101" depth="infinity" start-empty="true"></S:entry></S:update-report>`)
	})
	b.Run("update-one-key", func(b *testing.B) {
		run(b, `<S:update-report xmlns:S="svn:" send-all="true"><S:src-path>/config</S:src-path><S:depth>unknown</S:depth><S:entry rev="100" depth="infinity"></S:entry></S:update-report>`)
	})
}

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

// historyStore returns a bolt store of 1,000 keys in 10 namespaces (r1 to
// r10) and 1,000 more revisions that each change one key (the history
// bench/svn.sh --quick measures against Apache).
func historyStore(b *testing.B) verso.Store {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for i := range 10 {
		ops := []verso.Op{{Kind: verso.OpMkcol, Path: verso.MustPath(fmt.Sprintf("/ns%03d", i))}}
		for j := range 100 {
			ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.MustPath(fmt.Sprintf("/ns%03d/key%03d", i, j)),
				Value: []byte(strings.Repeat(fmt.Sprintf("value %d %d\n", i, j), 20))})
		}
		if _, err := st.Commit(ctx, &verso.Txn{Ops: ops}); err != nil {
			b.Fatal(err)
		}
	}
	for r := range 1000 {
		k := (r * 7919) % 1000
		op := verso.Op{Kind: verso.OpPut, Path: verso.MustPath(fmt.Sprintf("/ns%03d/key%03d", k/100, k%100)), Value: []byte(fmt.Sprintf("change %d\n", r))}
		if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{op}}); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkHistory measures the server's side of svn log -v of 1,010
// revisions and of svn update across the last 100 of them.
func BenchmarkHistory(b *testing.B) {
	h := New(historyStore(b), Options{Mount: "/config"})
	run := func(b *testing.B, report string) {
		for b.Loop() {
			r := httptest.NewRequest("REPORT", "/config/!svn/me", strings.NewReader(report))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r, "/!svn/me")
			if w.Code != http.StatusOK {
				b.Fatalf("REPORT = %d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("log-v", func(b *testing.B) {
		run(b, `<S:log-report xmlns:S="svn:"><S:start-revision>1010</S:start-revision><S:end-revision>0</S:end-revision><S:discover-changed-paths/><S:path></S:path></S:log-report>`)
	})
	b.Run("update-100", func(b *testing.B) {
		run(b, `<S:update-report xmlns:S="svn:" send-all="true"><S:src-path>/config</S:src-path><S:depth>unknown</S:depth><S:entry rev="910" depth="infinity"></S:entry></S:update-report>`)
	})
}
