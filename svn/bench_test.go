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
