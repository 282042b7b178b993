package bolt

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/verso-config/verso"
	bbolt "go.etcd.io/bbolt"
)

// BenchmarkGroupCost measures the CPU of one group commit in bbolt, without
// any fsync, as loadgen's writers make them: each of 16 writers puts its
// own key again and again (so history and index grow under 16 paths), and
// a group holds one put of each of g writers. It reports per write the
// time planning and writing into bbolt's nodes (plan), the time of bbolt's
// commit (begin, spill, page writes, freelist) and the pages bbolt wrote
// per group, after a history of 20,000 revisions.
//
//	go test -run '^$' -bench GroupCost -benchtime 2000x ./bolt/
func BenchmarkGroupCost(b *testing.B) {
	for _, g := range []int{1, 4, 16, 64, 256} {
		b.Run(fmt.Sprintf("group=%d", g), func(b *testing.B) {
			s := mustOpenB(b)
			setNoSync(s, true)
			// The committer stays idle: this goroutine writes as it
			// would, and checkpoints as it does under load (every
			// second; here every 256 groups, untimed), which bounds
			// the pages the pin keeps pending.
			s.publishMu.Lock()
			defer s.publishMu.Unlock()
			var inside time.Duration
			group := func(n, g int) {
				err := s.db.Update(func(tx *bbolt.Tx) error {
					t0 := time.Now()
					defer func() { inside += time.Since(t0) }()
					head, err := readHead(tx)
					if err != nil {
						return err
					}
					w := newWriter(tx, true)
					for i := range g {
						txn := &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/w%d", i%16), fmt.Sprint(n))}}
						p, err := planTxn(tx, head, txn, time.Now())
						if err != nil {
							return err
						}
						if err := writePlan(w, p); err != nil {
							return err
						}
						head = p.Rev
					}
					return tx.Bucket(bucketMeta).Put(keyHead, revKey(head))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			checkpoint := func() {
				if err := s.checkpoint(); err != nil {
					b.Fatal(err)
				}
			}
			for n := range 20000 / 16 {
				group(n, 16)
				if n%256 == 255 {
					checkpoint()
				}
			}
			checkpoint()
			before := s.db.Stats().TxStats
			inside = 0
			var checkpoints time.Duration
			b.ResetTimer()
			t0 := time.Now()
			for n := range b.N {
				group(n, g)
				if n%256 == 255 {
					c0 := time.Now()
					checkpoint()
					checkpoints += time.Since(c0)
				}
			}
			total := time.Since(t0) - checkpoints
			b.StopTimer()
			st := s.db.Stats().TxStats
			writes := float64(b.N * g)
			b.ReportMetric(float64(total.Microseconds())/writes, "us/write")
			b.ReportMetric(float64(inside.Microseconds())/writes, "plan-us/write")
			b.ReportMetric(float64((total-inside).Microseconds())/writes, "commit-us/write")
			b.ReportMetric(float64(st.GetWrite()-before.GetWrite())/float64(b.N), "pages/group")
		})
	}
}

func mustOpenB(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.TempDir()+"/verso.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkCommitterCPU measures the CPU per write of the whole store
// (the committer and the callers of Commit) with 16 writers, each putting
// its own key again and again, the log's fsync off, by how long the
// committer keeps one bbolt transaction open across groups (0: one bbolt
// transaction per group, as before it kept them open).
//
//	go test -run '^$' -bench CommitterCPU -benchtime 20000x ./bolt/
func BenchmarkCommitterCPU(b *testing.B) {
	for _, age := range []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("txage=%v", age), func(b *testing.B) {
			s := mustOpenB(b)
			s.txMaxAge = age // before the first commit
			setNoSync(s, true)
			ctx := context.Background()
			const writers = 16
			run := func(n int) {
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := w; i < n; i += writers {
							txn := &verso.Txn{Ops: []verso.Op{put(fmt.Sprintf("/w%d", w), fmt.Sprint(i))}}
							if _, err := s.Commit(ctx, txn); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			}
			run(20000) // a history, as in BenchmarkGroupCost
			before := s.db.Stats().TxStats
			cpu0 := cpuTime()
			b.ResetTimer()
			run(b.N)
			b.StopTimer()
			cpu := cpuTime() - cpu0
			st := s.db.Stats().TxStats
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/write")
			b.ReportMetric(float64(st.GetWrite()-before.GetWrite())/float64(b.N), "pages/write")
		})
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
