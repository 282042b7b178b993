package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/server"
)

// watchServer is a verso server that a test can stop and start again on
// the same address and store, as a restart would.
type watchServer struct {
	t     *testing.T
	store *bolt.Store
	addr  string
	srv   *server.Server
	hs    *httptest.Server
}

func newWatchServer(t *testing.T) *watchServer {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	ws := &watchServer{t: t, store: st}
	ws.start()
	t.Cleanup(func() {
		ws.stop()
		st.Close()
	})
	return ws
}

func (ws *watchServer) start() {
	ws.t.Helper()
	addr := ws.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		ws.t.Fatalf("listen %s: %v", addr, err)
	}
	ws.addr = ln.Addr().String()
	ws.srv = server.New(ws.store, &server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ws.hs = &httptest.Server{Listener: ln, Config: &http.Server{Handler: ws.srv}}
	ws.hs.Start()
}

func (ws *watchServer) stop() {
	if ws.hs != nil {
		ws.srv.Close() // ends the streams, so Close need not wait for them
		ws.hs.Close()
		ws.hs = nil
	}
}

func (ws *watchServer) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New("http://"+ws.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nextEvent calls Next with a deadline.
func nextEvent(t *testing.T, w *client.Watcher) *client.Event {
	t.Helper()
	type result struct {
		ev  *client.Event
		err error
	}
	c := make(chan result, 1)
	go func() {
		ev, err := w.Next()
		c <- result{ev, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatalf("Next: %v", r.err)
		}
		return r.ev
	case <-time.After(10 * time.Second):
		t.Fatal("Next: no event within 10s")
	}
	return nil
}

func TestWatcher_Events(t *testing.T) {
	ctx := t.Context()
	ws := newWatchServer(t)
	c := ws.client(t)
	mustMkdir(t, c, "/ns") // r1
	w, err := c.Watch(ctx, "/ns", verso.Head, &client.WatchOptions{Values: true})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Close()
	if w.Last() != 1 {
		t.Errorf("Last() of a new watch = %d, want 1 (the head)", w.Last())
	}
	mustPut(t, c, "/ns/text", "hello")                                           // r2
	if _, _, err := c.Put(ctx, "/ns/bin", []byte{0xff, 0, 1}, nil); err != nil { // r3
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "/ns/text", nil); err != nil { // r4
		t.Fatal(err)
	}
	var got []client.EventChange
	for want := verso.Revision(2); want <= 4; want++ {
		ev := nextEvent(t, w)
		if ev.Rev != want || ev.Time.IsZero() || ev.Message == "" {
			t.Errorf("event %+v, want revision %d with a time and a message", ev, want)
		}
		got = append(got, ev.Changes...)
	}
	for i := range got {
		got[i].ContentType = "" // detected by the server; not the point here
	}
	want := []client.EventChange{
		{Change: verso.Change{Path: "/ns/text", Kind: verso.KindKey, Action: verso.Added}, Value: []byte("hello")},
		{Change: verso.Change{Path: "/ns/bin", Kind: verso.KindKey, Action: verso.Added}, Value: []byte{0xff, 0, 1}},
		{Change: verso.Change{Path: "/ns/text", Kind: verso.KindKey, Action: verso.Deleted}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if w.Last() != 4 {
		t.Errorf("Last() = %d, want 4", w.Last())
	}
}

func TestWatcher_ResumesAcrossRestart(t *testing.T) {
	ctx := t.Context()
	ws := newWatchServer(t)
	c := ws.client(t)
	mustMkdir(t, c, "/ns") // r1
	disconnects := make(chan error, 100)
	w, err := c.Watch(ctx, "/ns", 0, &client.WatchOptions{OnDisconnect: func(err error) { disconnects <- err }})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Close()
	if ev := nextEvent(t, w); ev.Rev != 1 {
		t.Fatalf("first event r%d, want r1", ev.Rev)
	}
	mustPut(t, c, "/ns/a", "1") // r2
	if ev := nextEvent(t, w); ev.Rev != 2 {
		t.Fatalf("event r%d, want r2", ev.Rev)
	}

	// The server goes away; commits happen meanwhile; it comes back.
	ws.stop()
	for _, k := range []verso.Path{"/ns/b", "/ns/c"} { // r3, r4
		txn := &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: k, Value: []byte("v")}}}
		if _, err := ws.store.Commit(ctx, txn); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan []verso.Revision, 1)
	go func() {
		var revs []verso.Revision
		for len(revs) < 3 {
			ev, err := w.Next()
			if err != nil {
				t.Errorf("Next after the restart: %v", err)
				break
			}
			revs = append(revs, ev.Rev)
		}
		done <- revs
	}()
	select {
	case err := <-disconnects:
		t.Logf("disconnected: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("OnDisconnect not called within 10s of the server stopping")
	}
	ws.start()
	mustPut(t, c, "/ns/d", "v") // r5
	select {
	case revs := <-done:
		if diff := cmp.Diff([]verso.Revision{3, 4, 5}, revs); diff != "" {
			t.Errorf("events after the restart (-want +got):\n%s", diff)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no events within 15s of the restart")
	}
}

func TestWatcher_Gone(t *testing.T) {
	ctx := t.Context()
	ws := newWatchServer(t)
	c := ws.client(t)
	mustMkdir(t, c, "/ns")
	mustPut(t, c, "/ns/a", "1")
	mustPut(t, c, "/ns/a", "2")
	var st any = ws.store
	pruner, ok := st.(verso.Pruner)
	if !ok {
		t.Skip("the bolt store does not implement verso.Pruner: no revision can be gone")
	}
	if _, err := pruner.Prune(ctx, verso.Retention{KeepFor: time.Second}, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	_, err := c.Watch(ctx, "/ns", 0, nil)
	if !errors.Is(err, verso.ErrGone) {
		t.Errorf("Watch from 0 after pruning: %v, want verso.ErrGone", err)
	}
}

func TestWatcher_CloseEndsNext(t *testing.T) {
	ws := newWatchServer(t)
	c := ws.client(t)
	w, err := c.Watch(context.Background(), "/", verso.Head, nil)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	w.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after Close: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still blocked 5s after Close")
	}
}
