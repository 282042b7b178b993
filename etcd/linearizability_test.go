package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/verso-config/verso/server"
)

// The linearizability check: clients write and read a few keys over real
// HTTP through two verso servers sharing the test cluster, while an etcd
// member (the leader) is stopped and restarted and a verso server is
// killed and started again. Every operation is recorded with its call and
// return times, and porcupine must find a linearization of the whole
// history: writes (PUT), compare-and-set (PUT with If-Match) and
// consistent reads (GET ?consistent) behave as on one copy of the tree.
//
// The short mode runs by default, in a few seconds. The full mode runs for
// VERSO_LINEARIZABILITY seconds (for example VERSO_LINEARIZABILITY=120),
// with more clients and a fault every few seconds; docs/CLUSTER.md has its
// figures.

// linInput is an operation on one key.
type linInput struct {
	op    string // "get", "put" or "cas"
	key   string
	value string // put, cas
	ifRev int64  // cas: the ModRev the key must have
}

// linOutput is what the operation returned.
type linOutput struct {
	unknown bool   // a write whose outcome is unknown (error, timeout)
	ok      bool   // put, cas: applied; get: the key exists
	value   string // get
	rev     int64  // get: the key's ModRev; put, cas: the revision made
}

// linState is one key's state: its value and ModRev (0: absent; -1: a
// write of unknown outcome set it, at a revision nobody saw).
type linState struct {
	value string
	rev   int64
}

var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(linState), input.(linInput), output.(linOutput)
		switch in.op {
		case "get":
			if !out.ok {
				return st.rev == 0, st
			}
			if st.rev == 0 || out.value != st.value || (st.rev > 0 && out.rev != st.rev) {
				return false, st
			}
			return true, linState{value: st.value, rev: out.rev}
		case "put":
			if out.unknown {
				return true, linState{value: in.value, rev: -1}
			}
			return out.ok && (st.rev < 0 || out.rev > st.rev), linState{value: in.value, rev: out.rev}
		case "cas":
			match := st.rev == in.ifRev || st.rev < 0
			if out.unknown {
				// Placed where it applies, or after everything else.
				if match {
					return true, linState{value: in.value, rev: -1}
				}
				return true, st
			}
			if !out.ok {
				return st.rev != in.ifRev, st
			}
			return match && (st.rev < 0 || out.rev > st.rev), linState{value: in.value, rev: out.rev}
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		res := fmt.Sprintf("ok=%v rev=%d", out.ok, out.rev)
		if out.unknown {
			res = "unknown"
		}
		switch in.op {
		case "get":
			return fmt.Sprintf("get(%s) -> %q %s", in.key, out.value, res)
		case "cas":
			return fmt.Sprintf("cas(%s, if %d, %q) -> %s", in.key, in.ifRev, in.value, res)
		}
		return fmt.Sprintf("put(%s, %q) -> %s", in.key, in.value, res)
	},
	DescribeState: func(state any) string {
		st := state.(linState)
		return fmt.Sprintf("%q@%d", st.value, st.rev)
	},
}

// versoServer is one verso server over the test cluster that the test
// can kill and start again; clients find its current URL through url.
type versoServer struct {
	prefix string
	mu     sync.Mutex
	store  *Store
	hs     *httptest.Server
	url    atomic.Pointer[string]
}

func (v *versoServer) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, &Options{
		Endpoints: cluster.Endpoints(), Prefix: v.prefix, MaxTxnOps: testMaxTxnOps,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	hs := httptest.NewServer(server.New(s, &server.Options{Logger: slog.New(slog.DiscardHandler)}))
	v.mu.Lock()
	v.store, v.hs = s, hs
	v.mu.Unlock()
	u := hs.URL
	v.url.Store(&u)
	return nil
}

// kill stops the server as a crash would: connections are cut, requests
// in flight get no answer.
func (v *versoServer) kill() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.hs == nil {
		return
	}
	v.hs.CloseClientConnections()
	v.hs.Close()
	v.store.Close()
	v.hs, v.store = nil, nil
}

// linRecorder collects the history.
type linRecorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (r *linRecorder) now() int64 { return int64(time.Since(r.start)) }

func (r *linRecorder) add(op porcupine.Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// linClient runs operations against the servers until ctx ends.
func linClient(ctx context.Context, id int, servers []*versoServer, keys []string, hc *http.Client, rec *linRecorder) {
	rng := rand.New(rand.NewPCG(uint64(id), 42))
	seen := map[string]int64{} // the ModRev this client last read of each key
	for n := 0; ctx.Err() == nil; n++ {
		srv := servers[rng.IntN(len(servers))]
		base := *srv.url.Load()
		key := keys[rng.IntN(len(keys))]
		in := linInput{key: key, value: fmt.Sprintf("c%d-%d", id, n)}
		switch x := rng.IntN(10); {
		case x < 4:
			in.op = "get"
		case x < 7 || seen[key] == 0:
			in.op = "put"
		default:
			in.op, in.ifRev = "cas", seen[key]
		}
		call := rec.now()
		out, ok, sent := linDo(ctx, hc, base, in)
		ret := rec.now()
		if !sent {
			// The server was down: the request never left.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if !ok {
			if in.op == "get" {
				time.Sleep(5 * time.Millisecond) // a failed read tells nothing
				continue
			}
			out, ret = linOutput{unknown: true}, math.MaxInt64 // it may apply any time later
			time.Sleep(5 * time.Millisecond)
		}
		if in.op == "get" && out.ok {
			seen[key] = out.rev
		}
		rec.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
	}
}

// linDo runs one operation over HTTP; ok is false when its outcome is
// not known, sent false when the request could not even connect.
func linDo(ctx context.Context, hc *http.Client, base string, in linInput) (out linOutput, ok, sent bool) {
	out, ok = linDo1(ctx, hc, base, in, &sent)
	return out, ok, sent
}

func linDo1(ctx context.Context, hc *http.Client, base string, in linInput, sent *bool) (linOutput, bool) {
	*sent = true
	u := base + "/config/" + in.key
	var req *http.Request
	if in.op == "get" {
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, u+"?consistent", nil)
	} else {
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(in.value))
		if in.op == "cas" {
			req.Header.Set("If-Match", `"`+strconv.FormatInt(in.ifRev, 10)+`"`)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			*sent = false
		}
		return linOutput{}, false
	}
	if resp.StatusCode >= 500 {
		resp.Body.Close()
		return linOutput{}, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return linOutput{}, false
	}
	rev, _ := strconv.ParseInt(resp.Header.Get(server.HeaderRevision), 10, 64)
	switch {
	case in.op == "get" && resp.StatusCode == http.StatusOK:
		return linOutput{ok: true, value: string(body), rev: rev}, true
	case in.op == "get" && resp.StatusCode == http.StatusNotFound:
		return linOutput{}, true
	case in.op != "get" && (resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusNoContent):
		return linOutput{ok: true, rev: rev}, true
	case in.op == "cas" && resp.StatusCode == http.StatusPreconditionFailed:
		return linOutput{}, true
	}
	return linOutput{}, false
}

// linConfig sizes one run.
type linConfig struct {
	duration   time.Duration
	clients    int
	faultEvery time.Duration // one fault (member or server) per period
}

func TestLinearizability(t *testing.T) {
	cfg := linConfig{duration: 6 * time.Second, clients: 6, faultEvery: 1500 * time.Millisecond}
	if v := os.Getenv("VERSO_LINEARIZABILITY"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 {
			t.Fatalf("VERSO_LINEARIZABILITY=%q: want a number of seconds", v)
		}
		cfg = linConfig{duration: time.Duration(secs) * time.Second, clients: 12, faultEvery: 3 * time.Second}
	}
	runLinearizability(t, cfg)
}

func runLinearizability(t *testing.T, cfg linConfig) {
	prefix := newPrefix()
	servers := []*versoServer{{prefix: prefix}, {prefix: prefix}}
	for i, v := range servers {
		if err := v.start(); err != nil {
			t.Fatalf("start verso server %d: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, v := range servers {
			v.kill()
		}
		for i := range cluster.Len() {
			if cluster.Down(i) {
				if err := cluster.Restart(i); err != nil {
					t.Errorf("restart etcd member %d: %v", i, err)
				}
			}
		}
	})
	keys := []string{"k0", "k1", "k2"}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	rec := &linRecorder{start: time.Now()}
	ctx, cancel := context.WithTimeout(t.Context(), cfg.duration)
	defer cancel()

	var faults []string
	var wg sync.WaitGroup
	wg.Go(func() { faults = injectFaults(ctx, t, cfg, servers) })
	for c := range cfg.clients {
		wg.Go(func() { linClient(ctx, c, servers, keys, hc, rec) })
	}
	wg.Wait()

	var gets, writes, unknown, failedCAS int
	for _, op := range rec.ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		switch {
		case out.unknown:
			unknown++
		case in.op == "get":
			gets++
		case in.op == "cas" && !out.ok:
			failedCAS++
		default:
			writes++
		}
	}
	t.Logf("%d operations in %v: %d consistent reads, %d writes, %d failed compare-and-set, %d of unknown outcome; faults: %s",
		len(rec.ops), cfg.duration, gets, writes, failedCAS, unknown, strings.Join(faults, ", "))
	if writes == 0 || gets == 0 {
		t.Fatalf("the history holds %d writes and %d reads: nothing to check", writes, gets)
	}

	checkRevisionOrder(t, rec.ops)
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel, rec.ops, time.Minute)
	t.Logf("porcupine: %s in %v", res, time.Since(began).Round(time.Millisecond))
	if res != porcupine.Ok {
		t.Log(describeFailure(rec.ops))
		path := filepath.Join(os.TempDir(), fmt.Sprintf("verso-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(linModel, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
		t.Fatalf("porcupine: history is %s, want Ok", res)
	}
}

// checkRevisionOrder checks what porcupine's per-key model cannot: across
// keys, writes that did not overlap in time got revisions in their order,
// and no revision was handed out twice.
func checkRevisionOrder(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	var ws []porcupine.Operation
	for _, op := range ops {
		if out := op.Output.(linOutput); op.Input.(linInput).op != "get" && out.ok && !out.unknown {
			ws = append(ws, op)
		}
	}
	slices.SortFunc(ws, func(a, b porcupine.Operation) int { return int(a.Output.(linOutput).rev - b.Output.(linOutput).rev) })
	for i := 1; i < len(ws); i++ {
		if ws[i].Output.(linOutput).rev == ws[i-1].Output.(linOutput).rev {
			t.Errorf("revision %d acknowledged to two writes: %v and %v", ws[i].Output.(linOutput).rev, ws[i-1].Input, ws[i].Input)
		}
	}
	// A write with a higher revision must not have returned before one
	// with a lower revision was called.
	earliestReturn := int64(math.MaxInt64) // over the writes with higher revisions
	for i := len(ws) - 1; i >= 0; i-- {
		if earliestReturn < ws[i].Call {
			t.Errorf("write %v got r%d, but a write with a higher revision returned before it was called", ws[i].Input, ws[i].Output.(linOutput).rev)
		}
		earliestReturn = min(earliestReturn, ws[i].Return)
	}
}

// injectFaults alternates the faults until ctx ends: stop the etcd leader
// and start it again; kill a verso server and start it again.
func injectFaults(ctx context.Context, t *testing.T, cfg linConfig, servers []*versoServer) []string {
	var done []string
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for round := 0; ; round++ {
		if !sleep(cfg.faultEvery / 2) {
			return done
		}
		if round%2 == 0 {
			i := cluster.Leader()
			cluster.Stop(i)
			done = append(done, fmt.Sprintf("etcd member %d (leader) stopped", i))
			sleep(cfg.faultEvery / 2)
			if err := cluster.Restart(i); err != nil {
				t.Errorf("restart etcd member %d: %v", i, err)
				return done
			}
			done = append(done, "restarted")
		} else {
			v := servers[round/2%len(servers)]
			v.kill()
			done = append(done, fmt.Sprintf("verso server %d killed", round/2%len(servers)))
			sleep(cfg.faultEvery / 4)
			if err := v.start(); err != nil {
				t.Errorf("start verso server again: %v", err)
				return done
			}
			done = append(done, "restarted")
		}
	}
}

// describeFailure returns, for the first key whose history porcupine
// refuses, the end of the longest linearization it found and the
// operations around it.
func describeFailure(ops []porcupine.Operation) string {
	for _, part := range linModel.Partition(ops) {
		if porcupine.CheckOperations(linModel, part) {
			continue
		}
		if len(part) == 0 {
			continue
		}
		_, info := porcupine.CheckOperationsVerbose(linModel, part, time.Minute)
		lins := info.PartialLinearizationsOperations()
		var best []porcupine.Operation
		for _, l := range lins[0] {
			if len(l) > len(best) {
				best = l
			}
		}
		sorted := slices.Clone(part)
		slices.SortFunc(sorted, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
		st := linModel.Init()
		for _, op := range best {
			_, st = linModel.Step(st, op.Input, op.Output)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "partition of %d ops, longest partial linearization %d, state after %s; last ops:\n", len(part), len(best), linModel.DescribeState(st))
		for _, op := range best[max(0, len(best)-5):] {
			fmt.Fprintf(&b, "  LIN c%d [%d, %d] %s\n", op.ClientId, op.Call/1e6, op.Return/1e6, linModel.DescribeOperation(op.Input, op.Output))
		}
		if len(best) == 0 {
			best = sorted[:1]
		}
		last := best[len(best)-1]
		for _, op := range sorted {
			if op.Call >= last.Call-200e6 && op.Call <= last.Return+500e6 {
				fmt.Fprintf(&b, "  c%d [%d, %d] %s\n", op.ClientId, op.Call/1e6, op.Return/1e6, linModel.DescribeOperation(op.Input, op.Output))
			}
		}
		return b.String()
	}
	return ""
}
