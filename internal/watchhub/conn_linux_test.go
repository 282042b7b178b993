package watchhub

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/verso-config/verso"
)

// segmentsIn returns how many TCP segments conn has received
// (tcpi_segs_in of Linux's struct tcp_info).
func segmentsIn(t *testing.T, conn net.Conn) uint32 {
	t.Helper()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info [256]byte
	size := uint32(len(info))
	var errno syscall.Errno
	raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	})
	if errno != 0 {
		t.Fatal(errno)
	}
	const segsIn = 140 // after the fields up to tcpi_segs_out
	if size < segsIn+4 {
		t.Skipf("tcp_info of %d bytes has no tcpi_segs_in", size)
	}
	return binary.NativeEndian.Uint32(info[segsIn:])
}

// TestConn_EndIsOneSegment: End sends the last bytes and the end of the
// stream together, in one segment, so that the client is woken once for
// both; the socket is let go of later (Close) without sending anything.
func TestConn_EndIsOneSegment(t *testing.T) {
	server, client := pair(t)
	answer := bytes.Repeat([]byte("a"), 300)
	before := segmentsIn(t, client)
	c := New(server, 1, nil)
	if c.End(answer) != Sent {
		t.Fatal("End did not send")
	}
	got, err := io.ReadAll(client)
	if err != nil || !bytes.Equal(got, answer) {
		t.Fatalf("client read %q, %v before the server let go of the socket; want the answer, then the end of the stream", got, err)
	}
	c.Close(nil)
	if n := segmentsIn(t, client) - before; n != 1 {
		t.Errorf("the answer and the end of the stream came in %d segments, want 1", n)
	}
}

// TestHub_PollAnswerIsOneSegment: a long-poll's answer and the end of its
// connection reach the client together, in one segment.
func TestHub_PollAnswerIsOneSegment(t *testing.T) {
	h, st := newTestHub(t)
	ctx := context.Background()
	sub, _, err := h.Subscribe(ctx, verso.Root)
	if err != nil {
		t.Fatal(err)
	}
	server, client := pair(t)
	before := segmentsIn(t, client)
	h.ParkPoll(sub, PollSpec{User: "u", Wait: time.Minute, Req: httptest.NewRequest("GET", "/config/a?index=0&wait=1m", nil), Header: http.Header{}, Conn: server})
	if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/x"}}}); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil || !bytes.HasPrefix(got, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(got, []byte("\r\n\r\nok")) {
		t.Fatalf("long-poll answered %q, %v", got, err)
	}
	if n := segmentsIn(t, client) - before; n != 1 {
		t.Errorf("the answer and the end of the connection came in %d segments, want 1", n)
	}
}
