package main

// The crash harness: the real binary, concurrent writers, SIGKILL at random
// moments, restart, and proof that nothing acknowledged was lost.
//
// In a normal `go test` it runs a short round (crashShortCycles cycles);
// VERSO_CRASH_CYCLES=N runs N (scripts/crash.sh runs the full round and
// prints the figures that docs/OPERATIONS.md quotes).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

const (
	crashShortCycles = 10
	crashWriters     = 4
	crashKeys        = 8 // keys per writer, so that deletes find something
)

// ackedWrite is a write the server acknowledged with a revision.
type ackedWrite struct {
	rev    verso.Revision
	kind   verso.OpKind // put, delete, mkcol; a transaction is several
	path   verso.Path
	value  string // of a put
	second *ackedWrite
}

// crashStats are the figures of a run.
type crashStats struct {
	cycles, acked, failedInFlight, txns, deletes, mkcols, checks int
	revisions                                                    verso.Revision
	killedAfter                                                  []time.Duration
	recovery                                                     []time.Duration
}

func TestCrash(t *testing.T) {
	cycles := crashShortCycles
	if v := os.Getenv("VERSO_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("VERSO_CRASH_CYCLES=%q: want a number of cycles", v)
		}
		cycles = n
	}
	data := t.TempDir()
	p := launchVerso(t, "--data", data)
	c := crashClient(t, p.URL)
	ctx := context.Background()
	for w := range crashWriters {
		if _, err := c.Mkdir(ctx, writerNS(w), nil); err != nil {
			t.Fatalf("Mkdir(%s): %v", writerNS(w), err)
		}
	}

	var st crashStats
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	for cycle := range cycles {
		before, err := c.Revision(ctx, verso.Head)
		if err != nil {
			t.Fatalf("cycle %d: head: %v", cycle, err)
		}
		acked, failed := crashCycle(t, p, cycle, rng, &st)
		st.failedInFlight += failed

		// The store opens cleanly and verso check passes. Every other
		// cycle leaves the recovery (the write-ahead log) to verso
		// serve itself instead.
		if cycle%2 == 1 {
			if out, stderr, code := runVerso(t, "check", "--data", data); code != 0 {
				t.Fatalf("cycle %d: verso check after SIGKILL: status %d\n%s%s", cycle, code, out, stderr)
			}
			st.checks++
		}
		start := time.Now()
		p = launchVerso(t, "--data", data)
		st.recovery = append(st.recovery, time.Since(start))
		c = crashClient(t, p.URL)
		verifyCrashCycle(t, c, cycle, before.Rev, acked)
		st.cycles++
		st.acked += len(acked)
		if t.Failed() {
			break
		}
	}
	head, err := c.Revision(ctx, verso.Head)
	if err != nil {
		t.Fatal(err)
	}
	st.revisions = head.Rev
	slices.Sort(st.recovery)
	t.Logf("crash harness: %d kill/restart cycles, %d writers; %d acknowledged writes (%d transactions, %d deletes, %d mkcols) all found at their revisions; %d writes in flight at the kills (not acknowledged); %d revisions, no gaps; verso check passed %d times (the other restarts recovered in verso serve); restart to listening: median %v, max %v",
		st.cycles, crashWriters, st.acked, st.txns, st.deletes, st.mkcols, st.failedInFlight, st.revisions, st.checks,
		st.recovery[len(st.recovery)/2].Round(time.Millisecond), st.recovery[len(st.recovery)-1].Round(time.Millisecond))
}

func writerNS(w int) verso.Path { return verso.Path(fmt.Sprintf("/w%d", w)) }

// crashClient returns a client of url with its own connections.
func crashClient(t *testing.T, url string) *client.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: crashWriters}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(url, &client.Options{HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// crashCycle runs the writers against p, kills p with SIGKILL at a random
// moment while they write, and returns the writes it acknowledged and the
// number of requests that failed (those in flight at the kill).
func crashCycle(t *testing.T, p *versoProc, cycle int, rng *rand.Rand, st *crashStats) ([]*ackedWrite, int) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var mu sync.Mutex
	var acked []*ackedWrite
	failed := 0
	var wg sync.WaitGroup
	for w := range crashWriters {
		seed := rng.Uint64()
		c := crashClient(t, p.URL)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for seq := 0; ctx.Err() == nil; seq++ {
				a, err := crashWrite(ctx, c, r, w, cycle, seq)
				mu.Lock()
				switch {
				case err == nil && a != nil:
					acked = append(acked, a)
				case err != nil && !errors.Is(err, verso.ErrNotFound):
					failed++ // the server died under it
				}
				mu.Unlock()
				if err != nil && !errors.Is(err, verso.ErrNotFound) {
					return
				}
			}
		}()
	}
	after := time.Duration(20+rng.IntN(400)) * time.Millisecond
	time.Sleep(after)
	p.cmd.Process.Kill() // SIGKILL: no shutdown, no final fsync
	<-p.done
	stop()
	wg.Wait()
	st.killedAfter = append(st.killedAfter, after)
	for _, a := range acked {
		switch {
		case a.second != nil:
			st.txns++
		case a.kind == verso.OpDelete:
			st.deletes++
		case a.kind == verso.OpMkcol:
			st.mkcols++
		}
	}
	return acked, failed
}

// crashWrite makes one random write of writer w and returns what the
// server acknowledged (nil, nil for a delete of a missing key, which is
// refused with ErrNotFound).
func crashWrite(ctx context.Context, c *client.Client, r *rand.Rand, w, cycle, seq int) (*ackedWrite, error) {
	ns := writerNS(w)
	key := func() verso.Path { return ns.Join(fmt.Sprintf("k%d", r.IntN(crashKeys))) }
	value := fmt.Sprintf("c%d-w%d-s%d", cycle, w, seq)
	switch n := r.IntN(10); {
	case n < 5:
		p := key()
		rev, _, err := c.Put(ctx, p, []byte(value), nil)
		if err != nil {
			return nil, err
		}
		return &ackedWrite{rev: rev, kind: verso.OpPut, path: p, value: value}, nil
	case n < 7:
		a, b := key(), key()
		if a == b {
			b = ns.Join("pair")
		}
		cm, err := c.Commit(ctx, (&client.Txn{Message: "pair " + value}).
			Put(a, []byte(value+"-a"), "", verso.Cond{}).
			Put(b, []byte(value+"-b"), "", verso.Cond{}))
		if err != nil {
			return nil, err
		}
		return &ackedWrite{rev: cm.Rev, kind: verso.OpPut, path: a, value: value + "-a",
			second: &ackedWrite{rev: cm.Rev, kind: verso.OpPut, path: b, value: value + "-b"}}, nil
	case n < 9:
		p := key()
		rev, err := c.Delete(ctx, p, nil)
		if errors.Is(err, verso.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &ackedWrite{rev: rev, kind: verso.OpDelete, path: p}, nil
	default:
		p := ns.Join(fmt.Sprintf("n%d-%d", cycle, seq))
		rev, err := c.Mkdir(ctx, p, nil)
		if err != nil {
			return nil, err
		}
		return &ackedWrite{rev: rev, kind: verso.OpMkcol, path: p}, nil
	}
}

// verifyCrashCycle checks, on the restarted server, that every write
// acknowledged in the cycle is there at its revision, and that the
// revisions the cycle made have no gaps.
func verifyCrashCycle(t *testing.T, c *client.Client, cycle int, before verso.Revision, acked []*ackedWrite) {
	t.Helper()
	ctx := context.Background()
	head, err := c.Revision(ctx, verso.Head)
	if err != nil {
		t.Fatalf("cycle %d: head after restart: %v", cycle, err)
	}
	newest := before
	for _, a := range acked {
		newest = max(newest, a.rev)
	}
	if head.Rev < newest {
		t.Fatalf("cycle %d: head after restart is r%d, but r%d was acknowledged", cycle, head.Rev, newest)
	}
	for rev := before + 1; rev <= head.Rev; rev++ {
		cm, err := c.Revision(ctx, rev)
		if err != nil || cm.Rev != rev {
			t.Errorf("cycle %d: revision %d (head %d): %v, %v", cycle, rev, head.Rev, cm, err)
		}
	}
	for _, a := range acked {
		for w := a; w != nil; w = w.second {
			verifyWrite(t, c, cycle, w)
		}
	}
}

func verifyWrite(t *testing.T, c *client.Client, cycle int, a *ackedWrite) {
	t.Helper()
	ctx := context.Background()
	switch a.kind {
	case verso.OpPut:
		v, err := c.Get(ctx, a.path, a.rev)
		if err != nil || string(v.Data) != a.value {
			t.Errorf("cycle %d: put of %s acknowledged at r%d: Get at r%d = %v, %v; want %q", cycle, a.path, a.rev, a.rev, v, err, a.value)
		}
	case verso.OpDelete:
		if _, err := c.Get(ctx, a.path, a.rev); !errors.Is(err, verso.ErrNotFound) {
			t.Errorf("cycle %d: delete of %s acknowledged at r%d: Get at r%d = %v, want not found", cycle, a.path, a.rev, a.rev, err)
		}
	case verso.OpMkcol:
		if _, err := c.List(ctx, a.path, a.rev); err != nil {
			t.Errorf("cycle %d: mkcol of %s acknowledged at r%d: List at r%d: %v", cycle, a.path, a.rev, a.rev, err)
		}
	}
	cm, err := c.Revision(ctx, a.rev)
	if err != nil {
		t.Errorf("cycle %d: Revision(%d): %v", cycle, a.rev, err)
		return
	}
	if !slices.ContainsFunc(cm.Changes, func(ch verso.Change) bool { return ch.Path == a.path }) {
		t.Errorf("cycle %d: the record of r%d does not list %s: %+v", cycle, a.rev, a.path, cm.Changes)
	}
}
