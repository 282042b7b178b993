package server

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Listener caps the number of open client connections of an http.Server
// without letting clients that send nothing useful keep others out (a
// slowloris client opens many connections and trickles header bytes into
// each). A connection that is idle between requests, or still reading the
// header of its first request, is evictable; one whose request is being
// answered is not. When a new connection arrives and max are open, the
// oldest evictable connection is closed to make room; when none is
// evictable (max requests are being answered), the new connection waits
// until one closes. A connection is evictable only after evictGrace, so a
// client that sends its request at once is never cut before it could, and
// a client that floods new connections cannot churn through the others
// faster than max per evictGrace. Each slow connection also ends by itself at the
// http.Server's ReadHeaderTimeout or IdleTimeout.
//
// Get one from Server.Listener and set the http.Server's ConnState to its
// ConnState method, which tells it what each connection is doing.
type Listener struct {
	net.Listener
	max int
	ops *operations

	mu     sync.Mutex
	conns  map[net.Conn]*limitedConn // open connections, by the conn the server sees
	freed  chan struct{}             // signalled when a connection closes
	closed chan struct{}             // closed by Close
	once   sync.Once
}

// Listener wraps ln so that at most max client connections are open at
// once (max <= 0: no cap, but connections are still counted in the
// metrics). See the Listener type.
func (s *Server) Listener(ln net.Listener, max int) *Listener {
	return &Listener{
		Listener: ln,
		max:      max,
		ops:      s.ops,
		conns:    make(map[net.Conn]*limitedConn),
		freed:    make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
}

// evictGrace is how long a connection is safe from eviction after it was
// accepted or became idle.
const evictGrace = 200 * time.Millisecond

// limitedConn is a connection counted by a Listener.
type limitedConn struct {
	net.Conn
	l         *Listener
	evictable bool      // idle, or reading its first request's header
	since     time.Time // when it last became evictable
	once      sync.Once
}

// Close closes the connection and frees its place.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// SyscallConn gives the socket itself, so that a watcher parked in the
// watch hub is written without waiting (internal/watchhub).
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite half-closes the connection, as net/http does before closing
// one whose request body it did not read, so that the client reads the
// answer rather than a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Accept waits for a connection; when max are open, it makes room by
// closing the oldest evictable one, or waits until one closes.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l, evictable: true, since: time.Now()}
	for l.max > 0 {
		l.mu.Lock()
		if len(l.conns) < l.max {
			l.mu.Unlock()
			break
		}
		victim := l.oldestEvictable()
		var since time.Time
		if victim != nil {
			since = victim.since // ConnState changes it under l.mu
		}
		l.mu.Unlock()
		var wait <-chan time.Time
		if victim != nil {
			if d := evictGrace - time.Since(since); d > 0 {
				wait = time.After(d)
			} else {
				l.ops.connsEvicted.Inc()
				victim.Close()
				continue
			}
		}
		select {
		case <-l.freed:
		case <-wait:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	l.mu.Lock()
	l.conns[lc] = lc
	l.mu.Unlock()
	l.ops.conns.Inc()
	l.ops.connsAccepted.Inc()
	return lc, nil
}

// oldestEvictable returns the connection that has been evictable longest,
// or nil. l.mu is held.
func (l *Listener) oldestEvictable() *limitedConn {
	var old *limitedConn
	for _, c := range l.conns {
		if c.evictable && (old == nil || c.since.Before(old.since)) {
			old = c
		}
	}
	return old
}

func (l *Listener) release(c *limitedConn) {
	l.mu.Lock()
	_, ok := l.conns[c]
	delete(l.conns, c)
	l.mu.Unlock()
	if !ok {
		return
	}
	l.ops.conns.Dec()
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

// ConnState is the http.Server's ConnState hook: it learns which
// connections are evictable. net/http reports a connection active once it
// has read a whole request header, so one still trickling its header stays
// new, and evictable.
func (l *Listener) ConnState(c net.Conn, state http.ConnState) {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = nc.NetConn()
	}
	l.mu.Lock()
	lc := l.conns[c]
	if lc != nil {
		switch state {
		case http.StateNew, http.StateIdle:
			lc.evictable, lc.since = true, time.Now()
		default:
			lc.evictable = false
		}
	}
	l.mu.Unlock()
	if lc != nil && state == http.StateClosed {
		lc.once.Do(func() { l.release(lc) })
	}
}

// Close stops accepting connections; open ones are left to the server.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}
