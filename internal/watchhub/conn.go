// Package watchhub holds the connections of verso's watchers once they
// wait: a watch stream or a long-poll whose request has been read,
// authenticated and checked is taken over from net/http and parked here, as
// a small struct with no goroutine and no buffers of its own. Events are
// written to it without waiting; a connection that cannot take them at once
// queues them (up to a bound) and only then gets a goroutine, for as long as
// it is behind.
//
// The Hub follows the store, reads each commit once and hands it to its
// watchers; what a user may see of a commit, and the answer to a
// long-poll, it asks of the server (Config). The HTTP surface (parsing,
// authentication, catching up with history) stays in package server.
package watchhub

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// WriteTimeout bounds one write to a connection that is behind; a client
// that does not read for this long is cut off.
const WriteTimeout = time.Minute

// Sink is where a Conn's bytes go: a connection taken over from net/http,
// or anything that writes with a deadline.
type Sink interface {
	Write(b []byte) (int, error)
	SetWriteDeadline(t time.Time) error
	Close() error
}

// Status is what became of a Send.
type Status int

const (
	// Sent: written, or queued behind what is pending.
	Sent Status = iota
	// Full: the bound of pending writes is reached; nothing was queued.
	Full
	// Gone: the connection is closed (the client went away, or Close).
	Gone
)

// Conn is one parked connection.
type Conn struct {
	sink Sink
	raw  syscall.RawConn // non-nil when the sink is a socket: writes without waiting
	max  int
	done func(error) // called once when the connection closes, with why

	mu       sync.Mutex
	pend     [][]byte // what is not yet written, oldest first
	flushing bool     // a goroutine is writing pend
	closing  bool     // close once pend is written
	closed   bool
}

// New parks sink. At most max writes may be pending at once. done, if not
// nil, is called once when the connection closes (from the goroutine that
// closes it), with nil after Close or the write error that ended it.
func New(sink Sink, max int, done func(error)) *Conn {
	c := &Conn{sink: sink, max: max, done: done, raw: rawOf(sink, true)}
	// net/http may have left deadlines on a connection it hands over.
	sink.SetWriteDeadline(time.Time{})
	if nc, ok := sink.(net.Conn); ok {
		nc.SetReadDeadline(time.Time{})
	}
	return c
}

// Pending returns how many writes are queued.
func (c *Conn) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pend)
}

// Send writes b after what is pending, without waiting: what the socket
// does not take now is queued, and written by a goroutine that exists
// while the connection is behind. b must not change afterwards (it may be
// shared by many connections).
func (c *Conn) Send(b []byte) Status {
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		return Gone
	}
	if len(c.pend) > 0 {
		if len(c.pend) >= c.max {
			c.mu.Unlock()
			return Full
		}
		c.pend = append(c.pend, b)
		c.mu.Unlock()
		return Sent
	}
	n, err := c.try(b)
	if err != nil {
		c.mu.Unlock()
		c.shut(err)
		return Gone
	}
	if n < len(b) {
		c.pend = append(c.pend, b[n:])
		c.flushing = true
		go c.flush()
	}
	c.mu.Unlock()
	return Sent
}

// Close writes final (if any) after what is pending, then closes the
// connection. It does not wait for the writes.
func (c *Conn) Close(final []byte) {
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	if len(final) > 0 {
		c.pend = append(c.pend, final)
	}
	if len(c.pend) > 0 && !c.flushing {
		c.flushing = true
		go c.flush()
	}
	flushing := c.flushing
	c.mu.Unlock()
	if !flushing {
		c.shut(nil)
	}
}

// Abort closes the connection at once, dropping what is pending.
func (c *Conn) Abort() {
	c.shut(nil)
}

// shut closes the sink once.
func (c *Conn) shut(why error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.pend = nil
	c.mu.Unlock()
	c.sink.Close()
	if c.done != nil {
		c.done(why)
	}
}

// flush writes what is pending, waiting for the client up to WriteTimeout
// a write, then closes the connection if it is closing.
func (c *Conn) flush() {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		if len(c.pend) == 0 {
			c.flushing = false
			closing := c.closing
			c.mu.Unlock()
			if closing {
				c.shut(nil)
			}
			return
		}
		b := c.pend[0]
		c.mu.Unlock()
		c.sink.SetWriteDeadline(time.Now().Add(WriteTimeout))
		_, err := c.sink.Write(b)
		if err != nil {
			c.shut(err)
			return
		}
		c.mu.Lock()
		c.pend[0] = nil
		c.pend = c.pend[1:]
		if len(c.pend) == 0 {
			c.pend = nil
		}
		c.mu.Unlock()
	}
}

// errAgain is a write the socket could not take at all.
var errAgain = errors.New("would block")

// try writes what the socket takes of b now. The caller holds c.mu.
func (c *Conn) try(b []byte) (int, error) {
	if c.raw == nil {
		return 0, nil // no socket: everything goes through flush
	}
	n, err := tryWrite(c.raw, b)
	if err == errAgain {
		return n, nil
	}
	return n, err
}

// Alive reports whether the client may still be there: false once it has
// closed the connection (or the connection is closed).
func (c *Conn) Alive() bool {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return false
	}
	if nc, ok := c.sink.(net.Conn); ok {
		return Alive(nc)
	}
	return true
}

// Alive reports whether the client of conn, taken over from net/http, may
// still be there: false once it has closed its side or the connection
// failed. It reads without waiting, discarding anything the client sent.
// A connection that is not a socket is taken to be alive.
func Alive(conn net.Conn) bool {
	raw := rawOf(conn, false)
	if raw == nil {
		return true
	}
	return alive(raw)
}

// rawOf returns the socket under w (a connection, or one that wraps
// another and says so with NetConn), or nil. To write, a TLS connection is
// not seen through: its bytes are not the socket's.
func rawOf(w any, write bool) syscall.RawConn {
	for {
		if _, ok := w.(*tls.Conn); ok && write {
			return nil
		}
		if sc, ok := w.(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				return raw
			}
		}
		nc, ok := w.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		w = nc.NetConn()
	}
}
