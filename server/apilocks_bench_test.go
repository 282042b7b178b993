package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/internal/dav"
)

// BenchmarkConfirmOps measures the lock check of a transaction of 10,000
// puts of new keys (the most a transaction holds), with no lock at all and
// with one lock elsewhere in the tree: neither reads the store.
func BenchmarkConfirmOps(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(st, nil)
	ops := make([]verso.Op, 10000)
	for i := range ops {
		ops[i] = verso.Op{Kind: verso.OpPut, Path: verso.MustPath(fmt.Sprintf("/big/k%05d", i)), Value: []byte("v")}
	}
	r := httptest.NewRequest("POST", "/api/v1/txn", nil)
	run := func(b *testing.B) {
		for b.Loop() {
			if err := s.confirmOps(r, ops, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("nolock", run)
	if _, err := s.locks.Create(context.Background(), dav.Lock{Root: "/elsewhere", Infinite: true}); err != nil {
		b.Fatal(err)
	}
	b.Run("onelock", run)
}
