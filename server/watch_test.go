package server_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// newWatchServer is newTestServer that also returns the verso server, so a
// test can Close it. Streams still open when the test ends are ended first.
func newWatchServer(t *testing.T, opts *server.Options) (*testServer, *server.Server) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	srv := server.New(st, opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testServer{Server: hs, store: st}, srv
}

// sseEvent is one server-sent event, or a comment line (Comment set).
type sseEvent struct {
	ID, Event, Data string
	Comment         string
}

// sseStream is an open watch.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent // closed at the end of the stream
}

// openWatch opens GET /api/v1/watch?query with the given headers and fails
// the test unless the answer is 200. Events are read in the background.
func (ts *testServer) openWatch(t *testing.T, query string, header ...string) *sseStream {
	t.Helper()
	resp := ts.watchResponse(t, query, header...)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /api/v1/watch?%s = %d %q, want 200", query, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("watch Content-Type = %q, want text/event-stream", ct)
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024)}
	go readSSE(resp.Body, s.events)
	t.Cleanup(s.close)
	return s
}

func (ts *testServer) watchResponse(t *testing.T, query string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+"/api/v1/watch?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/watch?%s: %v", query, err)
	}
	return resp
}

func (s *sseStream) close() { s.resp.Body.Close() }

// readSSE parses a text/event-stream into events until it ends.
func readSSE(r io.Reader, out chan<- sseEvent) {
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	var ev sseEvent
	fields := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if fields > 0 {
				out <- ev
			}
			ev, fields = sseEvent{}, 0
			continue
		case strings.HasPrefix(line, ":"):
			out <- sseEvent{Comment: strings.TrimSpace(line[1:])}
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			ev.Data += value
		}
		fields++
	}
}

// next returns the next event that is not a comment, failing the test if
// none comes within a few seconds or the stream ends.
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("watch stream ended; wanted another event")
			}
			if ev.Comment == "" {
				return ev
			}
		case <-timeout:
			t.Fatalf("no watch event within 10s")
		}
	}
}

// commit decodes the next event, which must be a commit.
func (s *sseStream) commit(t *testing.T) watchEvent {
	t.Helper()
	ev := s.next(t)
	if ev.Event != "commit" {
		t.Fatalf("watch event %+v, want a commit", ev)
	}
	var we watchEvent
	if err := json.Unmarshal([]byte(ev.Data), &we); err != nil {
		t.Fatalf("decode event data %q: %v", ev.Data, err)
	}
	if ev.ID != strconv.FormatInt(int64(we.Revision), 10) {
		t.Errorf("event id %q for revision %d, want them equal", ev.ID, we.Revision)
	}
	return we
}

type watchEvent struct {
	Revision verso.Revision `json:"revision"`
	Author   string         `json:"author"`
	Time     time.Time      `json:"time"`
	Message  string         `json:"message"`
	Changes  []watchChange  `json:"changes"`
}

type watchChange struct {
	Path        verso.Path   `json:"path"`
	Kind        verso.Kind   `json:"kind"`
	Action      verso.Action `json:"action"`
	From        verso.Path   `json:"from,omitempty"`
	ContentType string       `json:"content_type,omitempty"`
	Value       *string      `json:"value,omitempty"`
	Encoding    string       `json:"encoding,omitempty"`
}

func TestWatch_Events(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/app", "")    // r1
	ts.must(t, 201, "PUT", "/config/app/a", "one") // r2

	s := ts.openWatch(t, "path=/app&values=1")
	if ev := s.next(t); ev.ID != "2" || ev.Data != "" {
		t.Errorf("first event of a watch from the head = %+v, want only id 2", ev)
	}
	ts.must(t, 201, "MKCOL", "/config/other", "")                                          // r3: not below /app
	ts.must(t, 204, "PUT", "/config/app/a", "two", "Content-Type", "text/plain")           // r4
	ts.must(t, 201, "PUT", "/config/app/bin", "\xff\x00", "Content-Type", "application/x") // r5
	ts.must(t, 201, "COPY", "/config/app", "", "Destination", "/config/other/app")         // r6: not below /app
	ts.must(t, 204, "DELETE", "/config/app/a", "")                                         // r7

	str := func(s string) *string { return &s }
	want := []watchEvent{
		{Revision: 4, Message: "PUT /app/a", Changes: []watchChange{
			{Path: "/app/a", Kind: verso.KindKey, Action: verso.Modified, ContentType: "text/plain", Value: str("two"), Encoding: "utf-8"}}},
		{Revision: 5, Message: "PUT /app/bin", Changes: []watchChange{
			{Path: "/app/bin", Kind: verso.KindKey, Action: verso.Added, ContentType: "application/x",
				Value: str(base64.StdEncoding.EncodeToString([]byte("\xff\x00"))), Encoding: "base64"}}},
		{Revision: 7, Message: "DELETE /app/a", Changes: []watchChange{
			{Path: "/app/a", Kind: verso.KindKey, Action: verso.Deleted}}},
	}
	var got []watchEvent
	for range want {
		ev := s.commit(t)
		if ev.Time.IsZero() {
			t.Errorf("event r%d has no time", ev.Revision)
		}
		ev.Time = time.Time{}
		got = append(got, ev)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("watch of /app (-want +got):\n%s", diff)
	}

	// From revision 0: the whole history of /app/a, without values.
	s2 := ts.openWatch(t, "path=/app/a&from=0")
	s2.next(t) // id 0
	var revs []verso.Revision
	for range 3 {
		ev := s2.commit(t)
		revs = append(revs, ev.Revision)
		for _, c := range ev.Changes {
			if c.Value != nil || c.Path != "/app/a" {
				t.Errorf("watch of /app/a without values: change %+v", c)
			}
		}
	}
	if diff := cmp.Diff([]verso.Revision{2, 4, 7}, revs); diff != "" {
		t.Errorf("watch of /app/a from 0 (-want +got):\n%s", diff)
	}
}

func TestWatch_LastEventIDResumes(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	for i := range 5 {
		ts.must(t, 201, "PUT", fmt.Sprintf("/config/ns/k%d", i), "v") // r2..r6
	}
	// Last-Event-ID wins over from.
	s := ts.openWatch(t, "path=/ns&from=0", "Last-Event-ID", "4")
	if ev := s.next(t); ev.ID != "4" {
		t.Errorf("first event = %+v, want id 4", ev)
	}
	for _, want := range []verso.Revision{5, 6} {
		if ev := s.commit(t); ev.Revision != want {
			t.Errorf("event r%d, want r%d", ev.Revision, want)
		}
	}
}

func TestWatch_BadRequests(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	tests := []struct {
		name, query string
		header      []string
		want        int
	}{
		{"bad from", "path=/ns&from=abc", nil, 400},
		{"negative from", "path=/ns&from=-1", nil, 400},
		{"from beyond the head", "path=/ns&from=9", nil, 404},
		{"bad Last-Event-ID", "path=/ns", []string{"Last-Event-ID", "x"}, 400},
		{"bad path", "path=/ns/../x", nil, 400},
		{"bad values", "path=/ns&values=yes", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ts.watchResponse(t, tt.query, tt.header...)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !strings.Contains(string(b), `"error"`) {
				t.Errorf("GET /api/v1/watch?%s = %d %q, want %d with a JSON error", tt.query, resp.StatusCode, b, tt.want)
			}
		})
	}
	ts.must(t, http.StatusMethodNotAllowed, "POST", "/api/v1/watch?path=/ns", "")
}

func TestWatch_Gone(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	pruner, ok := any(ts.store).(verso.Pruner)
	if !ok {
		t.Skip("the bolt store does not implement verso.Pruner: no revision can be gone")
	}
	ts.must(t, 201, "MKCOL", "/config/ns", "") // r1
	for i := range 3 {
		ts.must(t, 201, "PUT", fmt.Sprintf("/config/ns/k%d", i), "v") // r2..r4
	}
	// Keep one second back from an hour ahead: history starts at the head.
	st, err := pruner.Prune(context.Background(), verso.Retention{KeepFor: time.Second}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if st.Start != 4 {
		t.Fatalf("Prune: history starts at %d, want 4", st.Start)
	}
	for _, q := range []string{"path=/ns&from=0", "path=/ns&from=2"} {
		resp := ts.watchResponse(t, q)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Errorf("watch?%s after pruning = %d %q, want 410", q, resp.StatusCode, b)
		}
	}
	// From the revision just before the start of history: nothing is lost.
	s := ts.openWatch(t, "path=/ns&from=3")
	s.next(t)
	if ev := s.commit(t); ev.Revision != 4 {
		t.Errorf("watch from 3 = r%d, want r4", ev.Revision)
	}
}

func TestWatch_Heartbeat(t *testing.T) {
	ts, _ := newWatchServer(t, &server.Options{WatchHeartbeat: 20 * time.Millisecond})
	s := ts.openWatch(t, "path=/")
	timeout := time.After(5 * time.Second)
	for beats := 0; beats < 2; {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended before two heartbeats")
			}
			if ev.Comment == "keepalive" {
				beats++
			}
		case <-timeout:
			t.Fatal("no two heartbeats within 5s at a 20ms interval")
		}
	}
}

func TestWatch_Overflow(t *testing.T) {
	const n, size = 12, 1 << 20
	ts, _ := newWatchServer(t, &server.Options{WatchBuffer: 2, MaxValueSize: 2 * size})
	ts.must(t, 201, "MKCOL", "/config/ns", "") // r1
	// A watcher that reads nothing: its socket buffers fill with values,
	// then its two slots, and the hub drops it.
	resp := ts.watchResponse(t, "path=/ns&values=1")
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch = %d, want 200", resp.StatusCode)
	}
	other := ts.openWatch(t, "path=/ns") // a watcher that keeps up
	other.next(t)
	value := strings.Repeat("x", size)
	for i := range n {
		ts.must(t, 201, "PUT", fmt.Sprintf("/config/ns/k%d", i), value) // r2..r13
	}
	for i := range n {
		if ev := other.commit(t); ev.Revision != verso.Revision(i+2) {
			t.Fatalf("the watcher that keeps up got r%d, want r%d", ev.Revision, i+2)
		}
	}

	events := make(chan sseEvent, 64)
	go readSSE(resp.Body, events)
	var revs []verso.Revision
	var overflow *sseEvent
	timeout := time.After(10 * time.Second)
	for overflow == nil {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("slow watcher's stream ended without an overflow event after %v", revs)
			}
			switch ev.Event {
			case "commit":
				r, _ := strconv.ParseInt(ev.ID, 10, 64)
				revs = append(revs, verso.Revision(r))
			case "overflow":
				overflow = &ev
			}
		case <-timeout:
			t.Fatalf("no overflow event within 10s; got %v", revs)
		}
	}
	var o struct {
		ResumeFrom verso.Revision `json:"resume_from"`
	}
	if err := json.Unmarshal([]byte(overflow.Data), &o); err != nil {
		t.Fatalf("overflow data %q: %v", overflow.Data, err)
	}
	last := verso.Revision(1)
	if len(revs) > 0 {
		last = revs[len(revs)-1]
	}
	if o.ResumeFrom != last || len(revs) >= n {
		t.Fatalf("overflow after %v says resume_from %d, want %d and fewer than %d events", revs, o.ResumeFrom, last, n)
	}
	if _, ok := <-events; ok {
		t.Errorf("stream goes on after the overflow event")
	}
	// Resuming gets the rest, no gap, no duplicate.
	s := ts.openWatch(t, "path=/ns", "Last-Event-ID", strconv.FormatInt(int64(o.ResumeFrom), 10))
	s.next(t)
	for len(revs) < n {
		ev := s.commit(t)
		revs = append(revs, ev.Revision)
	}
	for i, r := range revs {
		if r != verso.Revision(i+2) {
			t.Fatalf("events before and after resuming = %v, want r2..r%d", revs, n+1)
		}
	}
}

func TestWatch_CloseEndsStreams(t *testing.T) {
	ts, srv := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")
	s := ts.openWatch(t, "path=/")
	s.next(t)
	polled := make(chan int, 1)
	go func() {
		code, _, _ := ts.do(t, "GET", "/config/ns?index=1&wait=1m", nil)
		polled <- code
	}()
	time.Sleep(50 * time.Millisecond) // let the long-poll start waiting
	srv.Close()
	select {
	case ev, ok := <-s.events:
		if ok {
			t.Errorf("after Close the stream sent %+v, want its end", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5s after Close")
	}
	select {
	case code := <-polled:
		if code != 200 {
			t.Errorf("long-poll at Close = %d, want 200 (the current listing)", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll still waiting 5s after Close")
	}
	resp := ts.watchResponse(t, "path=/")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("watch after Close = %d, want 503", resp.StatusCode)
	}
}

func TestLongPoll(t *testing.T) {
	ts, _ := newWatchServer(t, nil)
	ts.must(t, 201, "MKCOL", "/config/ns", "")  // r1
	ts.must(t, 201, "PUT", "/config/ns/k", "a") // r2
	ts.must(t, 201, "MKCOL", "/config/x", "")   // r3

	t.Run("already newer", func(t *testing.T) {
		body, h := ts.must(t, 200, "GET", "/config/ns/k?index=1&wait=10s", "")
		if body != "a" || h.Get(server.HeaderRevision) != "2" {
			t.Errorf("long-poll with an old index = %q revision %s, want %q at once, revision 2", body, h.Get(server.HeaderRevision), "a")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		body, h := ts.must(t, 200, "GET", "/config/ns/k?index=2&wait=200ms", "")
		if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
			t.Errorf("long-poll with nothing new returned after %v, want about 200ms", d)
		}
		if body != "a" || h.Get(server.HeaderRevision) != "2" {
			t.Errorf("long-poll at the timeout = %q revision %s, want %q revision 2", body, h.Get(server.HeaderRevision), "a")
		}
	})
	t.Run("returns early on change", func(t *testing.T) {
		type answer struct {
			code int
			body string
			rev  string
			d    time.Duration
		}
		poll := func(path string) chan answer {
			c := make(chan answer, 1)
			go func() {
				start := time.Now()
				code, body, h := ts.do(t, "GET", path, nil)
				c <- answer{code, body, h.Get(server.HeaderRevision), time.Since(start)}
			}()
			return c
		}
		key := poll("/config/ns/k?index=2&wait=30s")
		ns := poll("/config/ns?index=2&wait=30s")
		other := poll("/config/x?index=3&wait=300ms")
		time.Sleep(100 * time.Millisecond)
		ts.must(t, 204, "PUT", "/config/ns/k", "b") // r4
		for name, c := range map[string]chan answer{"key": key, "namespace": ns} {
			select {
			case a := <-c:
				if a.code != 200 || a.rev != "4" || a.d > 10*time.Second {
					t.Errorf("%s long-poll after a change = %d %q revision %s after %v, want 200 at revision 4", name, a.code, a.body, a.rev, a.d)
				}
				if name == "key" && a.body != "b" {
					t.Errorf("key long-poll = %q, want the new value %q", a.body, "b")
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s long-poll still waiting 10s after a change", name)
			}
		}
		a := <-other
		if a.rev != "3" || a.d < 300*time.Millisecond {
			t.Errorf("long-poll of an unchanged namespace = revision %s after %v, want revision 3 at the timeout", a.rev, a.d)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		c := make(chan http.Header, 1)
		go func() {
			code, _, h := ts.do(t, "GET", "/config/ns/k?index=4&wait=30s", nil)
			if code != 404 {
				t.Errorf("long-poll of a key deleted meanwhile = %d, want 404", code)
			}
			c <- h
		}()
		time.Sleep(100 * time.Millisecond)
		ts.must(t, 204, "DELETE", "/config/ns/k", "") // r5
		if h := <-c; h.Get(server.HeaderRevision) != "5" {
			t.Errorf("404 of the long-poll has %s %q, want 5 (the deletion)", server.HeaderRevision, h.Get(server.HeaderRevision))
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, q := range []string{"index=x&wait=1s", "index=-1", "index=1&wait=forever", "index=1&wait=-5s", "wait=1s", "index=1&rev=1"} {
			ts.must(t, 400, "GET", "/config/ns?"+q, "")
		}
	})
	t.Run("wait is capped", func(t *testing.T) {
		// A wait above 10 minutes is accepted and cut (not tested for
		// length); with an old index it answers at once.
		ts.must(t, 200, "GET", "/config/ns?index=0&wait=1h", "")
		ts.must(t, 200, "GET", "/config/ns?index=0&wait=90", "")
	})
}

// TestWatch_Randomized runs writers and watchers that disconnect and resume
// at random (by Last-Event-ID or from=, or when dropped for falling behind)
// and checks that each watcher saw exactly the revisions that touched its
// path, in order, with no gap and no duplicate.
func TestWatch_Randomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ts, _ := newWatchServer(t, &server.Options{WatchBuffer: 4})
	for _, ns := range []string{"/a", "/b", "/a/x"} {
		ts.must(t, 201, "MKCOL", "/config"+ns, "")
	}
	paths := []verso.Path{"/", "/a", "/b", "/a/x", "/a/k1", "/c"}
	type watcher struct {
		path  verso.Path
		from  verso.Revision
		got   []verso.Revision
		err   error
		seed  uint64
		until chan verso.Revision
	}
	var watchers []*watcher
	for i := range 12 {
		w := &watcher{path: paths[i%len(paths)], seed: rng.Uint64(), until: make(chan verso.Revision, 1)}
		if rng.IntN(2) == 0 {
			w.from = verso.Revision(rng.IntN(4))
		} else {
			w.from = ts.head(t)
		}
		watchers = append(watchers, w)
	}
	var stats randomStats
	var wg sync.WaitGroup
	for _, w := range watchers {
		wg.Go(func() {
			w.got, w.err = watchRandomly(ts, &stats, w.path, w.from, rand.New(rand.NewPCG(w.seed, 2)), w.until)
		})
	}

	var writers sync.WaitGroup
	for i := range 6 {
		seed := rng.Uint64()
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(seed, 3))
			for j := range 40 {
				ns := []string{"/a", "/b", "/a/x", "/c"}[rng.IntN(4)]
				k := fmt.Sprintf("/config%s/k%d", ns, rng.IntN(3))
				var req *http.Request
				switch rng.IntN(6) {
				case 0:
					req, _ = http.NewRequest("DELETE", ts.URL+k, nil)
				case 1:
					req, _ = http.NewRequest("COPY", ts.URL+"/config/a/x", nil)
					req.Header.Set("Destination", fmt.Sprintf("/config/b/x%d", i))
					req.Header.Set("Overwrite", "T")
				default:
					req, _ = http.NewRequest("PUT", ts.URL+k, strings.NewReader(fmt.Sprint(i, j)))
				}
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Errorf("%s %s: %v", req.Method, req.URL, err)
					return
				}
				resp.Body.Close() // 404s and 409s (missing key, missing /c) are fine
			}
		})
	}
	writers.Wait()

	ctx := context.Background()
	want := map[verso.Path][]verso.Revision{}
	for _, p := range paths {
		log, err := ts.store.Log(ctx, verso.LogQuery{Path: p})
		if err != nil {
			t.Fatalf("Log(%s): %v", p, err)
		}
		for i := len(log) - 1; i >= 0; i-- {
			if len(log[i].Changes) > 0 {
				want[p] = append(want[p], log[i].Rev)
			}
		}
	}
	for _, w := range watchers {
		var exp []verso.Revision
		for _, r := range want[w.path] {
			if r > w.from {
				exp = append(exp, r)
			}
		}
		last := w.from
		if len(exp) > 0 {
			last = exp[len(exp)-1]
		}
		w.until <- last
	}
	wg.Wait()
	conns, overflows := stats.get()
	t.Logf("head %d; %d watchers connected %d times, %d overflows", ts.head(t), len(watchers), conns, overflows)
	for _, w := range watchers {
		var exp []verso.Revision
		for _, r := range want[w.path] {
			if r > w.from {
				exp = append(exp, r)
			}
		}
		if w.err != nil {
			t.Errorf("watcher of %s from %d: %v", w.path, w.from, w.err)
			continue
		}
		if diff := cmp.Diff(exp, w.got); diff != "" {
			t.Errorf("watcher of %s from %d saw (-want +got):\n%s", w.path, w.from, diff)
		}
	}
}

// randomStats counts the connections and overflows of watchRandomly.
type randomStats struct {
	mu               sync.Mutex
	conns, overflows int
}

func (s *randomStats) Add(conns, overflows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns += conns
	s.overflows += overflows
}

func (s *randomStats) get() (conns, overflows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.overflows
}

// watchRandomly watches p from rev from, dropping the connection at random
// and resuming, until it has seen revision until (sent once the writers are
// done). It returns the revisions of the events it saw.
func watchRandomly(ts *testServer, stats *randomStats, p verso.Path, from verso.Revision, rng *rand.Rand, until <-chan verso.Revision) ([]verso.Revision, error) {
	var got []verso.Revision
	var conns, overflows int
	defer func() { stats.Add(conns, overflows) }()
	last := from
	target := verso.Revision(-1)
	deadline := time.After(15 * time.Second)
	for ; ; conns++ {
		q := url.Values{"path": {string(p)}}
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/watch?"+q.Encode(), nil)
		if conns%2 == 0 {
			req.Header.Set("Last-Event-ID", strconv.FormatInt(int64(last), 10))
		} else {
			req.URL.RawQuery += "&from=" + strconv.FormatInt(int64(last), 10)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			return got, err
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			return got, fmt.Errorf("watch = %d", resp.StatusCode)
		}
		events := make(chan sseEvent, 16)
		go readSSE(resp.Body, events)
		reconnect := false
		for !reconnect {
			if target >= 0 && last >= target {
				resp.Body.Close()
				return got, nil
			}
			select {
			case ev, ok := <-events:
				switch {
				case !ok:
					reconnect = true
				case ev.Event == "commit":
					r, _ := strconv.ParseInt(ev.ID, 10, 64)
					if verso.Revision(r) <= last {
						return got, fmt.Errorf("event r%d after r%d", r, last)
					}
					last = verso.Revision(r)
					got = append(got, last)
					reconnect = rng.IntN(6) == 0
				case ev.Event == "overflow":
					overflows++
					if !strings.Contains(ev.Data, fmt.Sprintf(`"resume_from": %d}`, last)) {
						return got, fmt.Errorf("overflow %q after r%d", ev.Data, last)
					}
				case ev.Comment == "" && ev.ID != strconv.FormatInt(int64(last), 10):
					return got, fmt.Errorf("stream starts after %s, want %d", ev.ID, last)
				}
			case target = <-until:
			case <-deadline:
				resp.Body.Close()
				return got, fmt.Errorf("still waiting for r%d after 15s, at r%d", target, last)
			}
		}
		resp.Body.Close()
	}
}
