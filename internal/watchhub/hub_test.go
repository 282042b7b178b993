package watchhub

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

// newTestHub returns a hub on a fresh bolt store in which every commit
// wakes every long-poll, and long-polls are answered "ok".
func newTestHub(t *testing.T) (*Hub, verso.Store) {
	t.Helper()
	return newTestHubBeat(t, 50*time.Millisecond)
}

// newTestHubBeat is newTestHub with the given heartbeat.
func newTestHubBeat(t *testing.T, heartbeat time.Duration) (*Hub, verso.Store) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHub(Config{
		Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Buffer: 4, Heartbeat: heartbeat,
		Event: func(context.Context, string, verso.Path, bool, *verso.Commit) ([]byte, error) {
			return []byte("event\n\n"), nil
		},
		Wakes: func(string, verso.Path, *verso.Commit) bool { return true },
		Answer: func(v *PollView) *Response {
			w := NewResponse(false)
			io.WriteString(w, "ok")
			return w
		},
	})
	t.Cleanup(func() {
		h.Close()
		st.Close()
	})
	return h, st
}

// viewCount returns how many poll views the hub keeps.
func (h *Hub) viewCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.views)
}

// TestHub_PollViewsAreLetGo: long-polls that asked the same share one view;
// the hub lets go of a view once none of its polls waits any more, whether
// they were answered, their wait ended or their client went away, so the
// views never grow without bound.
func TestHub_PollViewsAreLetGo(t *testing.T) {
	h, st := newTestHub(t)
	ctx := context.Background()
	park := func(url string, wait time.Duration) *bufio.Reader {
		t.Helper()
		sub, _, err := h.Subscribe(ctx, verso.Root)
		if err != nil {
			t.Fatal(err)
		}
		server, client := pair(t)
		h.ParkPoll(sub, PollSpec{User: "u", Wait: wait, Req: httptest.NewRequest("GET", url, nil), Header: http.Header{}, Conn: server})
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		return bufio.NewReader(client)
	}
	answered := func(rd *bufio.Reader) {
		t.Helper()
		if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
			t.Fatalf("long-poll answered %q, %v", line, err)
		}
	}
	settled := func(why string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); h.viewCount() > 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the hub still keeps %d poll views", why, h.viewCount())
			}
		}
	}

	a := park("/config/a?index=0&wait=1m", time.Minute)
	b := park("/config/a?index=0&wait=1m", time.Minute)
	c := park("/config/b?index=0&wait=1m", time.Minute)
	if n := h.viewCount(); n != 2 {
		t.Fatalf("3 long-polls, 2 of them alike, make %d views, want 2", n)
	}
	if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/x"}}}); err != nil {
		t.Fatal(err)
	}
	for _, rd := range []*bufio.Reader{a, b, c} {
		answered(rd)
	}
	settled("after a commit answered every poll")

	answered(park("/config/a?index=0&wait=10ms", 10*time.Millisecond))
	settled("after a poll's wait ended")

	sub, _, err := h.Subscribe(ctx, verso.Root)
	if err != nil {
		t.Fatal(err)
	}
	server, client := pair(t)
	h.ParkPoll(sub, PollSpec{User: "u", Wait: time.Minute, Req: httptest.NewRequest("GET", "/config/a", nil), Header: http.Header{}, Conn: server})
	client.Close()
	settled("after a poll's client went away")
}

// TestHub_TinyHeartbeat: a heartbeat shorter than the sweep's ten slices
// can divide (here 5 ns) still runs the sweep, on a floor of a
// millisecond, rather than ending the process with a zero-length ticker.
func TestHub_TinyHeartbeat(t *testing.T) {
	h, _ := newTestHubBeat(t, 5*time.Nanosecond)
	sub, _, err := h.Subscribe(context.Background(), verso.Root) // starts the hub
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unsubscribe(sub)
	time.Sleep(20 * time.Millisecond)
}
