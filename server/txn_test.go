package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// txnError is the JSON body of a refused transaction.
type txnError struct {
	Status int
	Error  string
	Op     *int
	Path   verso.Path
	Paths  []verso.Path
}

// postTxn posts a transaction body and returns the status and raw answer.
func (ts *testServer) postTxn(t *testing.T, body string) (int, string) {
	t.Helper()
	code, b, _ := ts.do(t, "POST", "/api/v1/txn", strings.NewReader(body), "Content-Type", "application/json")
	return code, b
}

// mustTxn posts a transaction that must commit and returns its record.
func (ts *testServer) mustTxn(t *testing.T, body string) *verso.Commit {
	t.Helper()
	code, b := ts.postTxn(t, body)
	if code != http.StatusOK {
		t.Fatalf("POST /api/v1/txn %s = %d %s, want 200", body, code, b)
	}
	var c verso.Commit
	if err := json.Unmarshal([]byte(b), &c); err != nil {
		t.Fatalf("decode commit %q: %v", b, err)
	}
	return &c
}

// failTxn posts a transaction that must fail with status and returns the
// error body.
func (ts *testServer) failTxn(t *testing.T, status int, body string) txnError {
	t.Helper()
	code, b := ts.postTxn(t, body)
	if code != status {
		t.Fatalf("POST /api/v1/txn %.300s = %d %s, want %d", body, code, b, status)
	}
	var e txnError
	if err := json.Unmarshal([]byte(b), &e); err != nil {
		t.Fatalf("decode error %q: %v", b, err)
	}
	if e.Status != status || e.Error == "" {
		t.Errorf("error body %s: want status %d and a message", b, status)
	}
	return e
}

func (ts *testServer) value(t *testing.T, path string) string {
	t.Helper()
	e, err := ts.store.Get(context.Background(), verso.MustPath(path), verso.Head)
	if err != nil {
		t.Fatalf("Get(%q): %v", path, err)
	}
	return string(e.Value)
}

func TestTxn_Commit(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/app", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/app/old", "o")
	ts.must(t, http.StatusCreated, "PUT", "/config/app/gone", "g")
	head := ts.head(t)

	c := ts.mustTxn(t, `{"message": "set up the db", "base": 3, "ops": [
		{"op": "mkcol", "path": "/app/db"},
		{"op": "put", "path": "/app/db/host", "value": "db1", "if": {"absent": true}},
		{"op": "put", "path": "/app/db/bin", "value_base64": "AAEC", "content_type": "application/octet-stream"},
		{"op": "copy", "from": "/app/db", "path": "/app/db2", "depth": "infinity"},
		{"op": "move", "from": "/app/old", "path": "/app/new", "if": {"absent": true}},
		{"op": "delete", "path": "/app/gone", "if": {"revision": 3}},
		{"op": "check", "path": "/app", "if": {"exists": true}},
		{"op": "put", "path": "/app/db/port", "value": "5432", "if": {"absent": true}}
	]}`)
	if c.Rev != head+1 || c.Message != "set up the db" {
		t.Errorf("commit = r%d %q, want r%d %q", c.Rev, c.Message, head+1, "set up the db")
	}
	var got []string
	for _, ch := range c.Changes {
		got = append(got, string(ch.Action)+" "+string(ch.Path))
	}
	want := []string{
		"added /app/db", "added /app/db/bin", "added /app/db/host", "added /app/db/port",
		"copied /app/db2", "copied /app/db2/bin", "copied /app/db2/host",
		"deleted /app/gone", "moved /app/new", "deleted /app/old",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if v := ts.value(t, "/app/db2/host"); v != "db1" {
		t.Errorf("/app/db2/host = %q, want db1", v)
	}
	if v := ts.value(t, "/app/db/bin"); v != "\x00\x01\x02" {
		t.Errorf("/app/db/bin = %q, want the decoded base64", v)
	}
	e, _ := ts.store.Get(context.Background(), "/app/db/bin", verso.Head)
	if e.ContentType != "application/octet-stream" {
		t.Errorf("/app/db/bin content type = %q", e.ContentType)
	}

	// Without a message, one is generated; the etag form of "if" works.
	c2 := ts.mustTxn(t, fmt.Sprintf(`{"ops": [{"op": "put", "path": "/app/db/host", "value": "db2", "if": {"etag": "\"%d\""}}]}`, c.Rev))
	if c2.Message != "TXN 1 operation" {
		t.Errorf("generated message = %q", c2.Message)
	}
}

func TestTxn_Refused(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")    // r1
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/a", "1")   // r2
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/b", "1")   // r3
	ts.must(t, http.StatusNoContent, "PUT", "/config/ns/a", "2") // r4
	head := ts.head(t)

	t.Run("Precondition", func(t *testing.T) {
		e := ts.failTxn(t, http.StatusPreconditionFailed, `{"ops": [
			{"op": "put", "path": "/ns/b", "value": "x", "if": {"revision": 3}},
			{"op": "put", "path": "/ns/c", "value": "x"},
			{"op": "put", "path": "/ns/a", "value": "x", "if": {"revision": 2}}]}`)
		if e.Op == nil || *e.Op != 2 || e.Path != "/ns/a" {
			t.Errorf("412 body = %+v, want op 2, path /ns/a", e)
		}
	})
	t.Run("CheckPrecondition", func(t *testing.T) {
		e := ts.failTxn(t, http.StatusPreconditionFailed, `{"ops": [
			{"op": "check", "path": "/ns/a", "if": {"etag": "\"2\""}},
			{"op": "put", "path": "/ns/b", "value": "x"}]}`)
		if e.Op == nil || *e.Op != 0 || e.Path != "/ns/a" {
			t.Errorf("412 body = %+v, want op 0, path /ns/a", e)
		}
	})
	t.Run("StaleBase", func(t *testing.T) {
		e := ts.failTxn(t, http.StatusConflict, `{"base": 3, "ops": [
			{"op": "put", "path": "/ns/b", "value": "x"},
			{"op": "put", "path": "/ns/a", "value": "x"}]}`)
		if diff := cmp.Diff([]verso.Path{"/ns/a"}, e.Paths); diff != "" {
			t.Errorf("409 paths (-want +got):\n%s", diff)
		}
	})
	t.Run("Conflict", func(t *testing.T) {
		e := ts.failTxn(t, http.StatusConflict, `{"ops": [
			{"op": "put", "path": "/ns/b", "value": "x"},
			{"op": "delete", "path": "/ns/nothing"}]}`)
		if e.Op == nil || *e.Op != 1 || e.Path != "/ns/nothing" {
			t.Errorf("409 body = %+v, want op 1, path /ns/nothing", e)
		}
		ts.failTxn(t, http.StatusConflict, `{"ops": [{"op": "mkcol", "path": "/ns"}]}`)
		ts.failTxn(t, http.StatusConflict, `{"ops": [{"op": "put", "path": "/none/k", "value": ""}]}`)
	})
	t.Run("BaseBeyondHead", func(t *testing.T) {
		ts.failTxn(t, http.StatusBadRequest, `{"base": 99, "ops": [{"op": "put", "path": "/ns/b", "value": "x"}]}`)
	})
	if got := ts.head(t); got != head {
		t.Errorf("head = %d after refused transactions, want %d", got, head)
	}
	if v := ts.value(t, "/ns/b"); v != "1" {
		t.Errorf("/ns/b = %q after refused transactions, want 1", v)
	}
}

// TestTxn_BadInput checks that malformed input anywhere in the list is 400
// naming the operation, and writes nothing.
func TestTxn_BadInput(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	ts.must(t, http.StatusCreated, "PUT", "/config/ns/a", "1")
	head := ts.head(t)
	before := walk(t, ts.store)

	put := func(path string) string { return fmt.Sprintf(`{"op": "put", "path": %q, "value": "v"}`, path) }
	ops := func(list ...string) string { return `{"ops": [` + strings.Join(list, ", ") + `]}` }
	noOp := -1
	tests := []struct {
		name string
		body string
		op   int
	}{
		{"malformed JSON", `{"ops": [`, noOp},
		{"not an object", `[]`, noOp},
		{"trailing data", ops(put("/ns/x")) + ` {}`, noOp},
		{"unknown field", `{"ops": [], "author": "me"}`, noOp},
		{"no ops", `{"message": "m"}`, noOp},
		{"empty ops", `{"ops": []}`, noOp},
		{"ops not a list", `{"ops": {}}`, noOp},
		{"negative base", `{"base": -1, "ops": [` + put("/ns/x") + `]}`, noOp},
		{"malformed op", `{"ops": [` + put("/ns/x") + `, {"op": "put", "path": "/ns/y", "value": }]}`, 1},
		{"op not an object", ops(put("/ns/x"), `"put"`), 1},
		{"unknown op", ops(put("/ns/x"), put("/ns/y"), `{"op": "patch", "path": "/ns/z"}`), 2},
		{"missing op", ops(`{"path": "/ns/z"}`), 0},
		{"unknown op field", ops(put("/ns/x"), `{"op": "delete", "path": "/ns/a", "recursive": true}`), 1},
		{"duplicate paths", ops(put("/ns/x"), put("/ns/y"), put("/ns/x")), 2},
		{"duplicate paths, spelled apart", ops(put("/ns/x"), put("ns/x/")), 1},
		{"invalid path first", ops(put("/ns/../a"), put("/ns/y")), 0},
		{"invalid path middle", ops(put("/ns/x"), put("/ns//y"), put("/ns/z")), 1},
		{"invalid path last", ops(put("/ns/x"), put("/ns/y"), put("/ns/\x01")), 2},
		{"invalid from", ops(put("/ns/x"), `{"op": "copy", "from": "/a/./b", "path": "/ns/c"}`), 1},
		{"missing path", ops(put("/ns/x"), `{"op": "delete"}`), 1},
		{"missing value", ops(`{"op": "put", "path": "/ns/x"}`), 0},
		{"value and value_base64", ops(`{"op": "put", "path": "/ns/x", "value": "a", "value_base64": "YQ=="}`), 0},
		{"bad base64", ops(`{"op": "put", "path": "/ns/x", "value_base64": "!!"}`), 0},
		{"missing from", ops(put("/ns/x"), `{"op": "move", "path": "/ns/m"}`), 1},
		{"bad depth", ops(`{"op": "copy", "from": "/ns/a", "path": "/ns/c", "depth": "1"}`), 0},
		{"move depth 0", ops(`{"op": "move", "from": "/ns/a", "path": "/ns/c", "depth": "0"}`), 0},
		{"from on put", ops(`{"op": "put", "path": "/ns/x", "value": "v", "from": "/ns/a"}`), 0},
		{"value on delete", ops(`{"op": "delete", "path": "/ns/a", "value": "v"}`), 0},
		{"check without if", ops(put("/ns/x"), `{"op": "check", "path": "/ns/a"}`), 1},
		{"empty if", ops(`{"op": "put", "path": "/ns/x", "value": "v", "if": {}}`), 0},
		{"absent and revision", ops(`{"op": "put", "path": "/ns/x", "value": "v", "if": {"absent": true, "revision": 2}}`), 0},
		{"absent and tree_revision", ops(`{"op": "delete", "path": "/ns/a", "if": {"absent": true, "tree_revision": 2}}`), 0},
		{"negative tree_revision", ops(`{"op": "delete", "path": "/ns/a", "if": {"tree_revision": -1}}`), 0},
		{"bad etag", ops(`{"op": "put", "path": "/ns/x", "value": "v", "if": {"etag": "\"abc\""}}`), 0},
		{"unknown if field", ops(`{"op": "put", "path": "/ns/x", "value": "v", "if": {"modrev": 2}}`), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ts.failTxn(t, http.StatusBadRequest, tt.body)
			switch {
			case tt.op == noOp && e.Op != nil:
				t.Errorf("error names op %d, want none: %+v", *e.Op, e)
			case tt.op != noOp && (e.Op == nil || *e.Op != tt.op):
				t.Errorf("error = %+v, want it to name op %d", e, tt.op)
			case tt.op != noOp && !strings.Contains(e.Error, fmt.Sprintf("operation %d", tt.op)):
				t.Errorf("error message %q does not say operation %d", e.Error, tt.op)
			}
		})
	}
	if got := ts.head(t); got != head {
		t.Errorf("head = %d after bad input, want %d", got, head)
	}
	if diff := cmp.Diff(before, walk(t, ts.store)); diff != "" {
		t.Errorf("tree changed by bad input (-before +after):\n%s", diff)
	}
}

// walk lists every path and value of the head tree.
func walk(t *testing.T, s verso.Store) []string {
	t.Helper()
	var out []string
	err := s.Walk(context.Background(), verso.Root, verso.Head, verso.Infinite, func(e *verso.Entry) error {
		out = append(out, fmt.Sprintf("%s=%q@%d", e.Path, e.Value, e.ModRev))
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return out
}

func TestTxn_Limits(t *testing.T) {
	ts := newTestServer(t, &server.Options{MaxValueSize: 16})
	ts.must(t, http.StatusCreated, "MKCOL", "/config/ns", "")
	head := ts.head(t)

	e := ts.failTxn(t, http.StatusRequestEntityTooLarge, `{"ops": [
		{"op": "put", "path": "/ns/small", "value": "fits"},
		{"op": "put", "path": "/ns/big", "value": "seventeen bytes!!"}]}`)
	if e.Op == nil || *e.Op != 1 || e.Path != "/ns/big" {
		t.Errorf("413 body = %+v, want op 1, path /ns/big", e)
	}

	var b strings.Builder
	b.WriteString(`{"ops": [`)
	for i := range server.MaxTxnOps + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"op":"put","path":"/ns/k%d","value":""}`, i)
	}
	b.WriteString("]}")
	ts.failTxn(t, http.StatusRequestEntityTooLarge, b.String())

	// A body past MaxTxnBody is refused: at once when its length is
	// declared, and once the limit is reached when it comes chunked.
	for _, declared := range []bool{true, false} {
		if !declared && raceEnabled {
			continue // reading 64 MiB of JSON takes ten seconds under the race detector
		}
		big := io.MultiReader(strings.NewReader(`{"ops": [{"op": "put", "path": "/ns/k", "value": "`),
			io.LimitReader(repeatReader('a'), server.MaxTxnBody), strings.NewReader(`"}]}`))
		req, err := http.NewRequest("POST", ts.URL+"/api/v1/txn", big)
		if err != nil {
			t.Fatal(err)
		}
		if declared {
			req.ContentLength = server.MaxTxnBody + 50
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("POST of a body past %d bytes (declared %v): %v", server.MaxTxnBody, declared, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST of a body past %d bytes (declared %v) = %d, want 413", server.MaxTxnBody, declared, resp.StatusCode)
		}
	}
	if got := ts.head(t); got != head {
		t.Errorf("head = %d after refused transactions, want %d", got, head)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// putsBody is the body of a transaction of n puts below /big.
func putsBody(n int, value string) string {
	var b strings.Builder
	b.WriteString(`{"message": "many", "ops": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"op":"put","path":"/big/k%05d","value":%q}`, i, value)
	}
	b.WriteString("]}")
	return b.String()
}

func TestTxn_TenThousandPuts(t *testing.T) {
	onlyOnBolt(t, "one etcd transaction cannot hold a commit of 10,000 puts (docs/CLUSTER.md, Limits); TestTxn_TooLargeForEtcd checks the 413")
	ts := newTestServer(t, nil)
	ts.must(t, http.StatusCreated, "MKCOL", "/config/big", "")
	head := ts.head(t)
	c := ts.mustTxn(t, putsBody(server.MaxTxnOps, "v"))
	if c.Rev != head+1 || len(c.Changes) != server.MaxTxnOps {
		t.Fatalf("10,000 puts = r%d with %d changes, want r%d with %d", c.Rev, len(c.Changes), head+1, server.MaxTxnOps)
	}
	if got := ts.head(t); got != head+1 {
		t.Errorf("head = %d, want %d", got, head+1)
	}
	if v := ts.value(t, "/big/k09999"); v != "v" {
		t.Errorf("/big/k09999 = %q, want v", v)
	}
}

func BenchmarkTxn10k(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(server.New(st, nil))
	defer ts.Close()
	if _, err := st.Commit(context.Background(), &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/big"}}}); err != nil {
		b.Fatal(err)
	}
	body := []byte(putsBody(10000, "value of a config key"))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := http.Post(ts.URL+"/api/v1/txn", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// TestTxn_ConcurrentConflicts runs many transactions at once, each guarded
// by the revisions it read, on keys the others write too. Exactly those
// whose reads were still true when they applied may commit, and replaying
// the committed ones in revision order gives the store's final state.
func TestTxn_ConcurrentConflicts(t *testing.T) {
	ts := newTestServer(t, nil)
	const keys = 6
	setup := `{"ops": [{"op": "mkcol", "path": "/c"}`
	for k := range keys {
		setup += fmt.Sprintf(`, {"op": "put", "path": "/c/k%d", "value": "init"}`, k)
	}
	ts.mustTxn(t, setup+"]}")

	type attempt struct {
		worker, n int
		readAt    verso.Revision            // the head when the worker read
		reads     map[string]verso.Revision // ModRev it read, per key
		useBase   bool
		writes    map[string]string
		rev       verso.Revision // the revision made, or 0
		failed    verso.Path     // the path named by a 412 or 409
	}
	const workers, rounds = 16, 12
	var mu sync.Mutex
	var all []*attempt
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := range rounds {
				a := &attempt{worker: w, n: n, reads: map[string]verso.Revision{}, writes: map[string]string{}, useBase: n%3 == 0}
				head, err := ts.store.Head(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				a.readAt = head
				var ops []string
				for _, k := range rng.Perm(keys)[:2] {
					key := fmt.Sprintf("/c/k%d", k)
					e, err := ts.store.Get(ctx, verso.Path(key), head)
					if err != nil {
						t.Error(err)
						return
					}
					a.reads[key] = e.ModRev
					a.writes[key] = fmt.Sprintf("w%d-n%d", w, n)
					if a.useBase {
						ops = append(ops, fmt.Sprintf(`{"op":"put","path":%q,"value":%q}`, key, a.writes[key]))
					} else {
						ops = append(ops, fmt.Sprintf(`{"op":"put","path":%q,"value":%q,"if":{"revision":%d}}`, key, a.writes[key], e.ModRev))
					}
				}
				body := `{"ops": [` + strings.Join(ops, ",") + `]}`
				if a.useBase {
					body = fmt.Sprintf(`{"base": %d, "ops": [%s]}`, head, strings.Join(ops, ","))
				}
				req, _ := http.NewRequest("POST", ts.URL+"/api/v1/txn", strings.NewReader(body))
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					var c verso.Commit
					if err := json.Unmarshal(raw, &c); err != nil {
						t.Error(err)
						return
					}
					a.rev = c.Rev
				case http.StatusPreconditionFailed, http.StatusConflict:
					var e txnError
					json.Unmarshal(raw, &e)
					a.failed = e.Path
					if len(e.Paths) > 0 {
						a.failed = e.Paths[0]
					}
				default:
					t.Errorf("txn %s = %d %s", body, resp.StatusCode, raw)
					return
				}
				mu.Lock()
				all = append(all, a)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	// Replay the committed transactions in revision order against a model
	// of the keys: each one's reads must hold at its turn.
	committed := slices.DeleteFunc(slices.Clone(all), func(a *attempt) bool { return a.rev == 0 })
	slices.SortFunc(committed, func(a, b *attempt) int { return int(a.rev - b.rev) })
	type state struct {
		value  string
		modRev verso.Revision
	}
	model := map[string]state{}
	for k := range keys {
		model[fmt.Sprintf("/c/k%d", k)] = state{"init", 1}
	}
	changedAt := map[string][]verso.Revision{} // revisions that wrote each key
	next := verso.Revision(2)
	for _, a := range committed {
		if a.rev != next {
			t.Fatalf("committed revisions jump from %d to %d", next-1, a.rev)
		}
		next++
		for key, read := range a.reads {
			if model[key].modRev != read {
				t.Errorf("r%d (worker %d) committed though %s was at r%d, not the r%d it read", a.rev, a.worker, key, model[key].modRev, read)
			}
		}
		for key, v := range a.writes {
			model[key] = state{v, a.rev}
			changedAt[key] = append(changedAt[key], a.rev)
		}
	}
	if head := ts.head(t); head != next-1 {
		t.Errorf("head = %d, want %d: a revision is not accounted for", head, next-1)
	}
	// A refused transaction was refused rightly: some commit after its read
	// wrote the path the refusal names, which it had read.
	refused := 0
	for _, a := range all {
		if a.rev != 0 {
			continue
		}
		refused++
		if _, ok := a.reads[string(a.failed)]; !ok {
			t.Errorf("worker %d round %d refused naming %q, which it did not touch", a.worker, a.n, a.failed)
			continue
		}
		if !slices.ContainsFunc(changedAt[string(a.failed)], func(r verso.Revision) bool { return r > a.readAt }) {
			t.Errorf("worker %d round %d refused on %s, which no commit after r%d changed", a.worker, a.n, a.failed, a.readAt)
		}
	}
	t.Logf("%d transactions committed, %d refused", len(committed), refused)
	if len(committed) == 0 || refused == 0 {
		t.Errorf("committed %d, refused %d: the test did not exercise both", len(committed), refused)
	}
	for key, st := range model {
		e, err := ts.store.Get(ctx, verso.Path(key), verso.Head)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if string(e.Value) != st.value || e.ModRev != st.modRev {
			t.Errorf("%s = %q@r%d, want %q@r%d as the replay says", key, e.Value, e.ModRev, st.value, st.modRev)
		}
	}
	// Each commit holds exactly the writes of its transaction.
	for _, a := range committed {
		c, err := ts.store.Revision(ctx, a.rev)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ch := range c.Changes {
			got = append(got, string(ch.Path))
		}
		want := slices.Sorted(func(yield func(string) bool) {
			for k := range a.writes {
				if !yield(k) {
					return
				}
			}
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("r%d changes (-want +got):\n%s", a.rev, diff)
		}
	}
}
