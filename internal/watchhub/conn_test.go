package watchhub

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestConn_ClientThatDoesNotRead: Send never waits, queues at most max
// writes, then says Full; what was sent arrives whole and in order once the
// client reads, and Close ends the stream after it.
func TestConn_ClientThatDoesNotRead(t *testing.T) {
	server, client := pair(t)
	const max = 4
	done := make(chan error, 1)
	c := New(server, max, func(err error) { done <- err })
	if c.raw == nil {
		t.Fatal("a TCP connection is written without waiting, but New found no socket")
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var sent int
	start := time.Now()
	for c.Send(chunk) == Sent {
		sent++
		if sent > 10000 {
			t.Fatal("Send never said Full to a client that does not read")
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send waited %v for a client that does not read", d)
	}
	if p := c.Pending(); p != max {
		t.Errorf("%d writes pending when full, want %d", p, max)
	}
	c.Close([]byte("end"))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Repeat(chunk, sent), "end"...)
	if !bytes.Equal(got, want) {
		t.Errorf("client read %d bytes, want %d (%d sends and the final bytes)", len(got), len(want), sent)
	}
	if err := <-done; err != nil {
		t.Errorf("done(%v) after Close, want nil", err)
	}
}

// TestConn_Alive: a connection whose client has closed is seen as gone.
func TestConn_Alive(t *testing.T) {
	server, client := pair(t)
	c := New(server, 4, nil)
	if !c.Alive() {
		t.Fatal("Alive = false with the client there")
	}
	client.Close()
	for deadline := time.Now().Add(5 * time.Second); c.Alive(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Alive = true long after the client closed")
		}
	}
}

// TestConn_TLSIsNotBypassed: writes to a TLS connection go through TLS,
// never straight to its socket.
func TestConn_TLSIsNotBypassed(t *testing.T) {
	server, _ := pair(t)
	if rawOf(tls.Server(server, &tls.Config{}), true) != nil {
		t.Error("rawOf sees through TLS to write")
	}
	if rawOf(tls.Server(server, &tls.Config{}), false) == nil {
		t.Error("rawOf does not see through TLS to check the socket")
	}
}
