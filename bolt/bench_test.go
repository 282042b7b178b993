package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
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
	setNoSync(s, fast)
	return s, func() {
		// Wait for the committer to be idle (it is: every Commit
		// returned) and turn fsync back on through it.
		s.publishMu.Lock()
		setNoSync(s, false)
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

// historyFixture returns the path of a data file holding revs revisions:
// r1 creates /keys/k0../keys/k{keys-1}, each later revision puts one of
// them in turn (so each key has about revs/keys versions), one second
// apart. The file is built once and kept in os.TempDir(), keyed by its
// size and the file format, so that reruns skip the build. The build
// writes whole plans straight into large bbolt transactions without fsync,
// which is safe only because nothing else uses the store meanwhile.
func historyFixture(b *testing.B, revs, keys int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("verso-bench-history-r%d-k%d-f%d.db", revs, keys, formatVersion))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".building"
	os.Remove(tmp)
	began := time.Now()
	s, err := Open(tmp, nil)
	if err != nil {
		b.Fatal(err)
	}
	setNoSync(s, true) // before any commit: the committer is idle
	ps := manyKeys(b, s, keys)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const perTx = 20000
	for head := verso.Revision(1); head < verso.Revision(revs); {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			h, err := readHead(tx)
			if err != nil {
				return err
			}
			for i := 0; i < perTx && h < verso.Revision(revs); i++ {
				txn := &verso.Txn{Author: "bench", Message: "put", Ops: []verso.Op{
					{Kind: verso.OpPut, Path: ps[int(h)%keys], Value: []byte(fmt.Sprintf("value %d", h+1))},
				}}
				p, err := planTxn(tx, h, txn, t0.Add(time.Duration(h)*time.Second))
				if err != nil {
					return err
				}
				if err := writePlan(newWriter(tx, false), p); err != nil {
					return err
				}
				h = p.Rev
			}
			head = h
			return tx.Bucket(bucketMeta).Put(keyHead, revKey(h))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.db.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.Logf("built %s (%d revisions, %d MB) in %v", path, revs, fi.Size()>>20, time.Since(began).Round(time.Second))
	return path
}

// BenchmarkHistory1M measures a key's log and a read at an old revision
// with 1,000,000 revisions in the store. The fixture takes a while to
// build the first time (see historyFixture); it is skipped under -short.
//
//	go test -run '^$' -bench History1M -benchtime 2s ./bolt/
func BenchmarkHistory1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1,000,000-revision fixture: not under -short")
	}
	const revs, keys = 1_000_000, 1000
	path := historyFixture(b, revs, keys)
	s, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if h, _ := s.Head(ctx); h != revs {
		b.Fatalf("fixture head = %d, want %d", h, revs)
	}
	key := verso.Path(fmt.Sprintf("/keys/k%d", keys/2))

	b.Run("LogKey", func(b *testing.B) {
		q := verso.LogQuery{Path: key, Limit: 10}
		b.ReportAllocs()
		for b.Loop() {
			cs, err := s.Log(ctx, q)
			if err != nil || len(cs) != 10 {
				b.Fatalf("Log(%+v) = %d commits, %v", q, len(cs), err)
			}
		}
	})
	b.Run("LogKeyOld", func(b *testing.B) {
		// Only r1 (which created the key) and r501 changed it by r1000.
		q := verso.LogQuery{Path: key, Limit: 10, Before: 1000}
		b.ReportAllocs()
		for b.Loop() {
			cs, err := s.Log(ctx, q)
			if err != nil || len(cs) != 2 {
				b.Fatalf("Log(%+v) = %d commits, %v", q, len(cs), err)
			}
		}
	})
	b.Run("LogRoot", func(b *testing.B) {
		q := verso.LogQuery{Limit: 10}
		b.ReportAllocs()
		for b.Loop() {
			if cs, err := s.Log(ctx, q); err != nil || len(cs) != 10 {
				b.Fatalf("Log(%+v) = %d commits, %v", q, len(cs), err)
			}
		}
	})
	b.Run("GetOld", func(b *testing.B) {
		const old = 1500 // the key's first change after r1 is r501
		b.ReportAllocs()
		for b.Loop() {
			e, err := s.Get(ctx, key, old)
			if err != nil || e.ModRev > old {
				b.Fatalf("Get(%s, r%d) = %v, %v", key, old, e, err)
			}
		}
	})
	b.Run("GetMid", func(b *testing.B) {
		const mid = revs / 2
		b.ReportAllocs()
		for b.Loop() {
			e, err := s.Get(ctx, key, mid)
			if err != nil || e.ModRev > mid {
				b.Fatalf("Get(%s, r%d) = %v, %v", key, mid, e, err)
			}
		}
	})
}
