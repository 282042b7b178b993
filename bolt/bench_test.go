package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/verso-config/verso"
)

// benchStore opens a store in b.TempDir(). With fast set, commits skip
// fsync until setup is done, so that building large fixtures is quick; the
// benchmark itself always runs with fsync.
func benchStore(b *testing.B, fast bool) (s *Store, done func()) {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	// No Commit is running: the channel to the committer orders these
	// writes before its reads.
	s.db.NoSync = fast
	return s, func() {
		// Wait for the committer to be idle (it is: every Commit
		// returned) and turn fsync back on through it.
		s.publishMu.Lock()
		s.db.NoSync = false
		s.publishMu.Unlock()
	}
}

// commitAll commits txns from a few goroutines, so that setup uses group
// commit.
func commitAll(b *testing.B, s *Store, txns []*verso.Txn) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(txns) {
					return
				}
				if _, err := s.Commit(context.Background(), txns[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// manyKeys commits n keys /keys/k0.. in one revision.
func manyKeys(b *testing.B, s *Store, n int) []verso.Path {
	b.Helper()
	ops := []verso.Op{{Kind: verso.OpMkcol, Path: "/keys"}}
	var ps []verso.Path
	for i := range n {
		p := verso.Path(fmt.Sprintf("/keys/k%d", i))
		ps = append(ps, p)
		ops = append(ops, verso.Op{Kind: verso.OpPut, Path: p, Value: []byte(fmt.Sprintf("value %d", i))})
	}
	if _, err := s.Commit(context.Background(), &verso.Txn{Ops: ops}); err != nil {
		b.Fatal(err)
	}
	return ps
}

func BenchmarkGetHead(b *testing.B) {
	s, done := benchStore(b, true)
	ps := manyKeys(b, s, 1000)
	done()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var worker atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(worker.Add(1)) * 7919
		for pb.Next() {
			if _, err := s.Get(ctx, ps[i%len(ps)], verso.Head); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkGetAtRevision(b *testing.B) {
	const revisions = 10000
	s, done := benchStore(b, true)
	manyKeys(b, s, 1000)
	txns := make([]*verso.Txn, revisions)
	for i := range txns {
		txns[i] = &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/hot", Value: []byte(fmt.Sprint(i))}}}
	}
	commitAll(b, s, txns)
	done()
	ctx := context.Background()
	old := verso.Revision(revisions / 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e, err := s.Get(ctx, "/hot", old)
		if err != nil || e.ModRev > old {
			b.Fatalf("Get(/hot, %d) = %v, %v", old, e, err)
		}
	}
}

func BenchmarkLogKey(b *testing.B) {
	const revisions, keys = 5000, 100
	s, done := benchStore(b, true)
	ps := manyKeys(b, s, keys)
	txns := make([]*verso.Txn, revisions)
	for i := range txns {
		txns[i] = &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: ps[i%keys], Value: []byte(fmt.Sprint(i))}}}
	}
	commitAll(b, s, txns)
	done()
	ctx := context.Background()
	q := verso.LogQuery{Path: ps[keys/2], Limit: 10}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cs, err := s.Log(ctx, q)
		if err != nil || len(cs) != 10 {
			b.Fatalf("Log(%+v) = %d commits, %v", q, len(cs), err)
		}
	}
}

func BenchmarkCommitSerial(b *testing.B) {
	s, _ := benchStore(b, false)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		txn := &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: verso.Path(fmt.Sprintf("/k%d", i%100)), Value: []byte("value")}}}
		if _, err := s.Commit(ctx, txn); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCommitParallel measures group commit: many goroutines commit at
// once and share fsyncs.
func BenchmarkCommitParallel(b *testing.B) {
	s, _ := benchStore(b, false)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			txn := &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: verso.Path(fmt.Sprintf("/k%d", i%100)), Value: []byte("value")}}}
			if _, err := s.Commit(ctx, txn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
