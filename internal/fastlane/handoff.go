package fastlane

import (
	"net"
	"sync"
	"time"
)

// handedConn is a connection handed over to net/http: it reads the bytes
// the fast lane had read first.
type handedConn struct {
	net.Conn
	pending []byte
	headBy  time.Time // when the head being read was due in the fast lane; zero: none
	once    sync.Once
}

// SetReadDeadline sets the read deadline; the first, net/http's for the
// head of the request the fast lane began, is kept to the deadline the
// fast lane had for it, so that a head trickled into both lanes gets the
// header timeout once, not twice.
func (c *handedConn) SetReadDeadline(t time.Time) error {
	c.once.Do(func() {
		if !c.headBy.IsZero() && (t.IsZero() || t.After(c.headBy)) {
			t = c.headBy
		}
	})
	return c.Conn.SetReadDeadline(t)
}

// NetConn returns the connection handed over, for code that looks through
// wrappers (as it does through TLS) to find the one it accepted.
func (c *handedConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection, as net/http does before closing
// one whose request body it did not read, so that the client sees the
// answer before the end.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the net.Listener the http.Server serves: its Accept
// returns the connections the fast lane hands over.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands c to Accept; false if the listener is closed.
func (l *handoffListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
