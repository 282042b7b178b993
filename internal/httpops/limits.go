package httpops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Listener caps the number of open client connections of an http.Server
// without letting clients that send nothing useful keep others out (a
// slowloris client opens many connections and trickles header bytes into
// each, or a byte of a body). A connection that is idle between requests,
// still reading the header of its first request, or still reading the
// part of a request body BodyLimits.Read reads before the request takes a
// slot (set the http.Server's ConnContext for it), is evictable; one
// whose request is being answered is not. When a new connection arrives and max are open, the
// oldest evictable connection is closed to make room; when none is
// evictable (max requests are being answered), the new connection waits
// until one closes or becomes evictable. A connection is evictable only after evictGrace, so a
// client that sends its request at once is never cut before it could, and
// a client that floods new connections cannot churn through the others
// faster than max per evictGrace. Each slow connection also ends by itself at the
// http.Server's ReadHeaderTimeout or IdleTimeout, or the body limits
// (BodyLimits).
//
// Get one from NewListener and set the http.Server's ConnState and
// ConnContext to its methods of those names, which tell it what each
// connection is doing.
type Listener struct {
	net.Listener
	max int
	ops *Metrics

	mu     sync.Mutex
	conns  map[net.Conn]*limitedConn // open connections, by the conn the server sees
	room   chan struct{}             // signalled when a connection closes or becomes evictable
	closed chan struct{}             // closed by Close
	once   sync.Once
}

// NewListener wraps ln so that at most max client connections are open at
// once (max <= 0: no cap, but connections are still counted in m). See the
// Listener type.
func NewListener(ln net.Listener, max int, m *Metrics) *Listener {
	return &Listener{
		Listener: ln,
		max:      max,
		ops:      m,
		conns:    make(map[net.Conn]*limitedConn),
		room:     make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
}

// evictGrace is how long a connection is safe from eviction after it got
// in (Accept returned it, having waited for room if it had to) or became
// idle.
const evictGrace = 200 * time.Millisecond

// limitedConn is a connection counted by a Listener.
type limitedConn struct {
	net.Conn
	l         *Listener
	evictable bool      // idle, or reading its first request's header
	since     time.Time // when it last became evictable
	once      sync.Once
}

// InnerConn returns the connection counted, for the fast lane's event
// loops, which look through it for the one they accepted. (Not NetConn:
// ConnState and ConnContext look through NetConn for the limitedConn.)
func (c *limitedConn) InnerConn() net.Conn { return c.Conn }

// Inner returns the listener l wraps; SetInner replaces it, before anything
// accepts from l (the fast lane's event loops accept in their own way:
// fastlane.InnerListener).
func (l *Listener) Inner() net.Listener { return l.Listener }

// SetInner replaces the listener l wraps (see Inner).
func (l *Listener) SetInner(ln net.Listener) { l.Listener = ln }

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
// closing the oldest evictable one, or waits until one closes or becomes
// evictable.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
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
		case <-l.room:
		case <-wait:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	// Its grace runs from now, when it gets in, not from its arrival: one
	// that waited for room is not to be the oldest at once, and cut before
	// the server has even read its request.
	lc := &limitedConn{Conn: c, l: l, evictable: true, since: time.Now()}
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
	l.signal()
}

// signal wakes an Accept waiting for room: a connection closed, or became
// evictable. (One that waits with no victim would otherwise wait for a
// close, which may come only at the body or header timeout.)
func (l *Listener) signal() {
	select {
	case l.room <- struct{}{}:
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
	if lc != nil && (state == http.StateNew || state == http.StateIdle) {
		l.signal()
	}
	if lc != nil && state == http.StateClosed {
		lc.once.Do(func() { l.release(lc) })
	}
}

// Close stops accepting connections; open ones are left to the server.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// ConnContext is the http.Server's ConnContext hook (set it with
// ConnState): it lets BodyLimits.Read tell the Listener when a request is
// still reading its body, during which its connection is evictable as one
// reading its header is.
func (l *Listener) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS, or handed over by a Front
		c = nc.NetConn()
	}
	l.mu.Lock()
	lc := l.conns[c]
	l.mu.Unlock()
	if lc == nil {
		return ctx
	}
	return context.WithValue(ctx, limitedConnKey{}, lc)
}

type limitedConnKey struct{}

// readingBody tells the Listener of the request whose context is ctx, if
// any, that its connection is reading the request's body (evictable) or
// has read it (busy).
func readingBody(ctx context.Context, reading bool) {
	lc, _ := ctx.Value(limitedConnKey{}).(*limitedConn)
	if lc == nil {
		return
	}
	lc.l.mu.Lock()
	lc.evictable = reading
	if reading {
		lc.since = time.Now()
	}
	lc.l.mu.Unlock()
	if reading {
		lc.l.signal()
	}
}

// bodyBuffered is how much of a request body BodyLimits.Read reads before
// the request takes a slot of the cap on concurrent requests: every body verso's
// WebDAV and JSON requests carry in practice (XML documents, transactions,
// values of a few KiB) is read in full, so that a client trickling its
// body holds no slot; the rest of a larger body is read by the handler,
// with its slot, under the same deadline and rate.
const bodyBuffered = 64 << 10

// BodyLimits bound how long a request body may take to arrive: all of it
// within Timeout of the end of the request's head, and, after Grace, at
// least Rate bytes a second on average since then. Zero disables a limit.
type BodyLimits struct {
	Timeout time.Duration
	Rate    int64
	Grace   time.Duration
}

// Begin returns the moment from which a body whose head ended now is
// timed: now plus a random part of half the grace, so that the bodies of
// many connections that stalled together are not all ended together (and
// their clients do not all come back at once).
func (b BodyLimits) Begin() time.Time {
	now := time.Now()
	if b.Rate <= 0 || b.Grace < 2 {
		return now
	}
	return now.Add(rand.N(b.Grace / 2))
}

// Deadline returns when the body timed from start (Begin) must have sent
// more than n bytes (zero: never).
func (b BodyLimits) Deadline(start time.Time, n int64) time.Time {
	var d time.Time
	if b.Timeout > 0 {
		d = start.Add(b.Timeout)
	}
	if b.Rate > 0 {
		r := start.Add(b.Grace + time.Duration(float64(n)/float64(b.Rate)*float64(time.Second)))
		if d.IsZero() || r.Before(d) {
			d = r
		}
	}
	return d
}

// ErrBodyTimeout is the error of a request body that missed its deadline:
// its request is answered 408 Request Timeout.
var ErrBodyTimeout = errors.New("request body too slow: it must arrive in full within the body timeout, and at the minimum rate after the grace period")

// timedBody reads a request body under BodyLimits, by moving the
// connection's read deadline as the body arrives.
type timedBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	limits BodyLimits
	start  time.Time
	n      int64
	set    time.Time // the deadline last set
	done   bool      // the body is read, and the deadline cleared
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.done {
		return b.body.Read(p)
	}
	if d := b.limits.Deadline(b.start, b.n); !d.Equal(b.set) {
		b.set = d
		b.rc.SetReadDeadline(d)
	}
	n, err := b.body.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.finish()
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline stays: net/http, finishing the request, must
		// not wait for the rest of the body either.
		return n, ErrBodyTimeout
	}
	return n, err
}

// finish clears the read deadline the body set: net/http reads on after
// the body (to see the client go away) and sets its own deadlines for the
// next request.
func (b *timedBody) finish() {
	if !b.done {
		b.done = true
		if !b.set.IsZero() {
			b.rc.SetReadDeadline(time.Time{})
		}
	}
}

func (b *timedBody) Close() error { return b.body.Close() }

// Read puts r's body under the limits b and, unless it is announced
// larger than max (the largest value a write may carry), reads up to 64 KiB
// of it, with the connection evictable meanwhile (see Listener), so that
// the request takes no slot of the cap on concurrent requests while its
// client is slow to send it. It returns ErrBodyTimeout, or the error
// reading it, for the request to be refused.
func (b BodyLimits) Read(w http.ResponseWriter, r *http.Request, max int64) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	br := &timedBody{
		body:   r.Body,
		rc:     http.NewResponseController(w),
		limits: b,
		start:  b.Begin(),
	}
	if r.ContentLength > max {
		// Larger than any value: refused by its length at once (a PUT
		// of a key) or an import or a transaction, whose handler reads
		// it with its slot, under the same limits.
		r.Body = br
		return nil
	}
	readingBody(r.Context(), true)
	defer readingBody(r.Context(), false)
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, bodyBuffered)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(br, bodyBuffered))
	if err != nil {
		return err
	}
	var rest io.Reader = bytes.NewReader(buf.Bytes())
	if buf.Len() == bodyBuffered {
		rest = io.MultiReader(rest, br) // perhaps more
	} else {
		br.finish()
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{rest, br}
	return nil
}
