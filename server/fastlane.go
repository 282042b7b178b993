package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verso-config/verso"
)

// Front serves a Server's port with a fast lane in front of net/http.
//
// Reading a key is what verso does most, and net/http's per-request work
// (a goroutine-safe ResponseWriter, a header map, a context, a buffered
// reader per request) costs more than the read itself: a minimal net/http
// handler reaches about 0.6x of what nginx does serving a static file. Front
// accepts the connections itself and reads each request's head from its own
// buffer. A request that is a plain GET or HEAD of a key at head, readable
// without credentials, is answered directly, with exactly the status,
// headers and body that the Server's handler would give. So is the
// plainest PUT of a key, one whose body is in hand and that anonymous
// clients may make, with no condition, lock or message in the way
// (fastput.go). Anything else
// (another method or path, a query, a conditional or range request,
// credentials, a body, HTTP/1.0, anything the fast lane does not fully
// understand) hands the connection over to the http.Server: the bytes read
// so far, unparsed, are replayed in front of the connection, so net/http
// sees exactly what the client sent. From then on net/http owns that
// connection for the rest of its life, and every surface (WebDAV, the JSON
// API, watch streams, long-polls) behaves as it does without a front.
//
// The fast lane's answers are counted in the Server's metrics (requests
// and latency, as GET or HEAD with status 200, as PUT with 201 or 204, and
// the commits of PUTs). They are not written to an
// access log: with Options.AccessLog set, the fast lane is off and every
// request goes through net/http. Reads do not count against
// Options.MaxRequests, since each is answered from memory without waiting;
// a PUT takes a slot, and goes to net/http when there is none.
//
// Front serves plain TCP only: with TLS, serve the http.Server directly.
type Front struct {
	s  *Server
	hs *http.Server
	on bool // false: hand every connection over at once (an access log)

	// The metrics of the fast lane's answers, by method.
	getCount, headCount     prometheus.Counter
	getLatency, headLatency prometheus.Observer

	idleTimeout   time.Duration // between requests on a connection
	headerTimeout time.Duration // from a request's first byte to its whole head

	handoff *handoffListener
	served  atomic.Uint64 // requests the fast lane answered

	heads headEntries // the store, if it reads entries at head without allocating
	puts  fastPuts    // PUTs (fastput.go)

	closing atomic.Bool // set by Shutdown and Close

	// Loops is how many event loops serve the fast lane's connections
	// on Linux (fastloop_linux.go): 0 for half of GOMAXPROCS, at least
	// one; -1 for none, a goroutine per connection. Set it before Serve.
	Loops    int
	loops    []*fastLoop
	nextLoop int // the loop for the next connection

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*fastConn]struct{}
	shutOnce sync.Once
}

// NewFront returns a front for s, handing the requests it does not answer
// to hs, whose Handler serves them (usually s itself, perhaps wrapped). The
// front takes its idle and header timeouts from hs (IdleTimeout, then
// ReadTimeout; ReadHeaderTimeout, then ReadTimeout).
func NewFront(s *Server, hs *http.Server) *Front {
	f := &Front{
		s:             s,
		hs:            hs,
		idleTimeout:   hs.IdleTimeout,
		headerTimeout: hs.ReadHeaderTimeout,
		conns:         map[*fastConn]struct{}{},
		on:            s.ops.access == nil,
		getCount:      s.ops.httpRequests.WithLabelValues(http.MethodGet, "200"),
		headCount:     s.ops.httpRequests.WithLabelValues(http.MethodHead, "200"),
		getLatency:    s.ops.httpDuration.WithLabelValues(http.MethodGet, "200"),
		headLatency:   s.ops.httpDuration.WithLabelValues(http.MethodHead, "200"),
	}
	if f.idleTimeout <= 0 {
		f.idleTimeout = hs.ReadTimeout
	}
	if f.headerTimeout <= 0 {
		f.headerTimeout = hs.ReadTimeout
	}
	f.handoff = newHandoffListener()
	f.heads, _ = s.store.(headEntries)
	f.puts = newFastPuts(f)
	return f
}

// headEntries is a store that returns an entry at head as a value, without
// allocating, as Get(ctx, p, verso.Head) would (the bolt store's
// HeadEntry): at a million keys, a random key's entry built on the heap
// for every answer costs the fast lane a tenth of its rate.
type headEntries interface {
	HeadEntry(p verso.Path) (verso.Entry, bool)
}

// headPrefetcher is a store that can prepare the HeadEntry lookups of a
// batch of keys, so that their cache misses overlap (the bolt store).
type headPrefetcher interface {
	PrefetchHeads(ps []verso.Path)
}

// Served returns how many requests the fast lane has answered itself (the
// count is brought up to date as a connection writes its answers, before
// its client can read them).
func (f *Front) Served() uint64 { return f.served.Load() }

// Serve accepts connections on ln until Shutdown or Close, or until Accept
// fails; it returns http.ErrServerClosed after Shutdown or Close, like
// http.Server.Serve.
func (f *Front) Serve(ln net.Listener) error {
	f.handoff.addr = ln.Addr()
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	ln = f.startLoops(ln)
	f.ln = ln
	f.mu.Unlock()
	// It returns once Shutdown or Close closes the handoff listener.
	go f.hs.Serve(f.handoff)

	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as
				// net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		fc := &fastConn{f: f, c: c}
		if f.headerTimeout > 0 { // as net/http: the first head is due from the accept
			fc.headBy = time.Now().Add(f.headerTimeout)
		}
		f.mu.Lock()
		if f.closing.Load() {
			f.mu.Unlock()
			c.Close()
			return http.ErrServerClosed
		}
		f.conns[fc] = struct{}{}
		f.mu.Unlock()
		if !f.toLoop(fc) {
			go fc.serve()
		}
	}
}

// Shutdown stops accepting connections, closes the fast lane's idle ones,
// waits for its busy ones to finish their request (or to be handed over),
// and then shuts the http.Server down with ctx, which waits for the
// requests net/http is serving. If ctx ends first, it returns ctx's error;
// Close then ends what is left.
func (f *Front) Shutdown(ctx context.Context) error {
	f.stopAccepting()
	f.stopLoops() // their connections are all idle
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		for fc := range f.conns {
			if fc.idle.Load() {
				fc.c.SetReadDeadline(aLongTimeAgo)
			}
		}
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return f.hs.Shutdown(ctx)
}

// Close closes the listener and every connection at once, the fast lane's
// and net/http's.
func (f *Front) Close() error {
	f.stopAccepting()
	f.stopLoops()
	f.mu.Lock()
	for fc := range f.conns {
		fc.c.Close()
	}
	f.mu.Unlock()
	return f.hs.Close()
}

func (f *Front) stopAccepting() {
	f.shutOnce.Do(func() {
		f.mu.Lock()
		f.closing.Store(true)
		if f.ln != nil {
			f.ln.Close()
		}
		f.mu.Unlock()
	})
}

func (f *Front) forget(fc *fastConn) {
	f.mu.Lock()
	delete(f.conns, fc)
	f.mu.Unlock()
}

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// The sizes of a fast-lane connection's buffers. A request head that does
// not fit in readBufSize goes to net/http, which has its own limit.
const (
	readBufSize  = 4 << 10
	writeBufSize = 4 << 10
	flushAt      = 64 << 10 // write out pipelined answers beyond this
)

// fastConn is one connection while the fast lane serves it.
type fastConn struct {
	f    *Front
	c    net.Conn
	rbuf []byte // rbuf[r:w] is read and not yet served
	r, w int
	wbuf []byte // answers not yet written
	n    uint64 // answers in wbuf
	idle atomic.Bool

	// The Last-Modified value last formatted, by Unix second.
	lmSec int64
	lm    []byte

	// The request target last answered and its key: clients read the
	// same keys again and again, and this saves making a string of each.
	lastTarget []byte
	lastPath   verso.Path

	deadline time.Time // the read deadline last set
	idleSent time.Time // when hs.ConnState last heard that c is idle

	// The timeouts (docs/OPERATIONS.md), as net/http applies them: the
	// first request's head is due headerTimeout after the accept, a later
	// one's headerTimeout after its first bytes; between requests, the
	// idle timeout; a body, the Server's body limits from the end of its
	// head.
	answered bool      // a request on the connection has been answered
	headBy   time.Time // when the head being read is due; zero: none begun
	bodyFrom time.Time // when the body being read began; zero: none
	timedOut bool      // the last read missed its deadline

	// While an event loop serves the connection (fastloop_linux.go).
	lc     *loopConn
	fd     int
	inLoop bool
	used   time.Time // when a request last came
}

func (fc *fastConn) serve() {
	if !fc.f.on {
		fc.handOver()
		return
	}
	if fc.rbuf == nil { // else it comes from a loop, with what it had read
		fc.rbuf = make([]byte, readBufSize)
		fc.wbuf = make([]byte, 0, writeBufSize)
	}
	for {
		if fc.r == fc.w {
			fc.r, fc.w = 0, 0
			if !fc.flush() {
				fc.close()
				return
			}
			if !fc.readMore(true) {
				fc.close()
				return
			}
			continue
		}
		n, st := scanHead(fc.rbuf[fc.r:fc.w])
		switch st {
		case headComplete:
			used := fc.answer(fc.rbuf[fc.r:fc.w], n)
			if used > 0 {
				fc.r += used
				fc.answered, fc.headBy, fc.bodyFrom = true, time.Time{}, time.Time{}
				if len(fc.wbuf) >= flushAt && !fc.flush() {
					fc.close()
					return
				}
				continue
			}
			if used == needBody {
				// A PUT whose body has not all arrived, and fits in
				// rbuf: read on, under the body's deadline and rate.
				// As net/http does while it reads a body before the
				// request's slot, leave the connection evictable to a
				// connection limiter (limits.go).
				if !fc.flush() {
					fc.close()
					return
				}
				if fc.r > 0 {
					fc.w = copy(fc.rbuf, fc.rbuf[fc.r:fc.w])
					fc.r = 0
				}
				if fc.bodyFrom.IsZero() {
					fc.bodyFrom = fc.f.s.body.begin()
				}
				if fc.readMore(false) {
					continue
				}
				if fc.timedOut {
					fc.close() // as net/http: a body too slow ends the connection
					return
				}
				// The client stopped mid-body: net/http sees it as it
				// would have.
			}
		case headIncomplete:
			if fc.headBy.IsZero() && fc.f.headerTimeout > 0 {
				fc.headBy = time.Now().Add(fc.f.headerTimeout) // about when its first bytes came
			}
			if fc.w-fc.r < len(fc.rbuf) {
				// Write out earlier answers first: a client that
				// pipelines may wait for them before sending more.
				if !fc.flush() {
					fc.close()
					return
				}
				if fc.r > 0 {
					fc.w = copy(fc.rbuf, fc.rbuf[fc.r:fc.w])
					fc.r = 0
				}
				if fc.readMore(false) {
					continue
				}
				if fc.r == fc.w || fc.timedOut {
					fc.close() // as net/http, when a head is not in by its timeout
					return
				}
				// The client stopped mid-request (an error or end of
				// input): let net/http see it as it would have.
			}
		}
		fc.handOver()
		return
	}
}

// readMore reads into rbuf[w:]; awaiting says the buffer is empty and the
// connection is between requests. It reports whether anything was read;
// fc.timedOut says whether it failed at its deadline: the idle timeout
// between requests (the header timeout before the first), the head's
// (headBy) or the body's (bodyFrom) while one is being read.
func (fc *fastConn) readMore(awaiting bool) bool {
	now := time.Now()
	var d time.Time
	switch {
	case !fc.bodyFrom.IsZero() && !awaiting:
		d = fc.f.s.body.deadline(fc.bodyFrom, int64(fc.w-fc.r)) // the head counts too: a few bytes' grace
	case !fc.headBy.IsZero():
		d = fc.headBy
	case awaiting && fc.f.idleTimeout > 0:
		d = now.Add(fc.f.idleTimeout)
	}
	if awaiting {
		fc.idle.Store(true)
		defer fc.idle.Store(false)
		if fc.f.closing.Load() {
			return false
		}
	}
	// Deadlines, and the idle state told to hs.ConnState (which a
	// connection limiter uses to choose whom to evict), are kept to within
	// a second of exact, so that a busy connection does not pay for them
	// on every request; the deadline of a head or a body is exact.
	if !d.IsZero() {
		if exact := !awaiting || fc.headBy.Equal(d); exact && !d.Equal(fc.deadline) ||
			d.Sub(fc.deadline) > time.Second || d.Before(fc.deadline) {
			fc.deadline = d
			fc.c.SetReadDeadline(d)
		}
	} else if !fc.deadline.IsZero() {
		fc.deadline = time.Time{}
		fc.c.SetReadDeadline(time.Time{})
	}
	if hook := fc.f.hs.ConnState; hook != nil && awaiting && now.Sub(fc.idleSent) > time.Second {
		fc.idleSent = now
		hook(fc.c, http.StateIdle)
	}
	n, err := fc.c.Read(fc.rbuf[fc.w:])
	fc.w += n
	fc.timedOut = errors.Is(err, os.ErrDeadlineExceeded)
	return n > 0 || (err == nil && fc.w < len(fc.rbuf))
}

// flush writes out the answers in wbuf.
func (fc *fastConn) flush() bool {
	if len(fc.wbuf) == 0 {
		return true
	}
	fc.f.served.Add(fc.n) // before the client can see the answers
	fc.n = 0
	_, err := fc.c.Write(fc.wbuf)
	if cap(fc.wbuf) > flushAt {
		fc.wbuf = make([]byte, 0, writeBufSize) // a large value passed through
	} else {
		fc.wbuf = fc.wbuf[:0]
	}
	return err == nil
}

func (fc *fastConn) close() {
	fc.f.forget(fc)
	fc.c.Close()
}

// handOver gives the connection to net/http, with the bytes read and not
// yet served in front of it. Answers already given are written first, so
// they stay in order.
func (fc *fastConn) handOver() {
	fc.f.forget(fc)
	if !fc.flush() {
		fc.c.Close()
		return
	}
	fc.c.SetDeadline(time.Time{})
	hc := &handedConn{Conn: fc.c, pending: fc.rbuf[fc.r:fc.w], headBy: fc.headBy}
	if !fc.f.handoff.deliver(hc) {
		fc.c.Close()
	}
}

// needBody is what answer returns for a PUT whose body is still arriving.
const needBody = -1

// answer serves the request at the start of in, whose head is in[:n], from
// the fast lane, appending the answer to wbuf. It returns how many bytes
// of in the request took (its head, and a PUT's body); 0, having written
// nothing, when the request is not for the fast lane; needBody when it may
// be but its body has not all arrived.
func (fc *fastConn) answer(in []byte, n int) int {
	req, ok := fastRequest(in[:n])
	if !ok {
		return 0
	}
	p, ok := fc.pathOf(req.target)
	if !ok {
		return 0
	}
	return fc.answerHead(in, n, &req, p)
}

// answerHead is answer for a head fastRequest has already read, whose
// target names the key p (pathOf).
func (fc *fastConn) answerHead(in []byte, n int, req *fastHead, p verso.Path) int {
	method := req.method
	s := fc.f.s
	var ok bool
	if method == http.MethodPut {
		if fc.inLoop {
			return 0 // it waits for its commit: not in a loop
		}
		return fc.put(in, n, req, verso.Path(strings.Clone(string(p)))) // the commit keeps it
	}
	if !s.anonymousCanRead(p) {
		return 0
	}
	start := time.Now()
	var e verso.Entry
	if h := fc.f.heads; h != nil {
		if e, ok = h.HeadEntry(p); !ok {
			return 0
		}
	} else {
		ep, err := s.store.Get(context.Background(), p, verso.Head)
		if err != nil {
			return 0
		}
		e = *ep
	}
	if e.Kind != verso.KindKey {
		return 0
	}
	ct := e.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < ' ' || c == 0x7f {
			return 0 // net/http would rewrite it; let it
		}
	}
	// The same bytes net/http writes for handleGet's answer: its status
	// line, the handler's headers sorted by name, then Date.
	b := fc.wbuf
	b = append(b, "HTTP/1.1 200 OK\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(e.Value)), 10)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, ct...)
	b = append(b, "\r\nEtag: \""...)
	b = strconv.AppendInt(b, int64(e.ModRev), 10)
	b = append(b, "\"\r\nLast-Modified: "...)
	b = append(b, fc.lastModified(e.ModTime)...)
	b = append(b, "\r\nX-Content-Type-Options: nosniff\r\nX-Verso-Revision: "...)
	b = strconv.AppendInt(b, int64(e.ModRev), 10)
	b = append(b, "\r\nDate: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\n\r\n"...)
	if method == http.MethodGet {
		b = append(b, e.Value...)
	}
	fc.wbuf = b
	fc.n++
	f := fc.f
	if method == http.MethodGet {
		f.getCount.Inc()
		f.getLatency.Observe(time.Since(start).Seconds())
	} else {
		f.headCount.Inc()
		f.headLatency.Observe(time.Since(start).Seconds())
	}
	return n
}

// pathOf returns the key a request target names, as fastPath does. The
// key may share target's bytes (fastPathIn): it is for answering this
// request, and whatever keeps it longer must copy it.
//
// A client that asks for the same target again and again gets the key
// made once, as a string of its own. Other keys are not copied: at a
// million keys, a string of each random key read, 200,000 times a second,
// was 16 to 32 bytes of garbage per read, and the heap grew by 100 MB
// between collections (docs/PERFORMANCE.md, Scale). Only the bolt store's
// HeadEntry, which keeps nothing, sees such a key; with other stores the
// key is always copied.
func (fc *fastConn) pathOf(target []byte) (verso.Path, bool) {
	if bytes.Equal(target, fc.lastTarget) {
		if fc.lastPath == "" { // the second time in a row: worth a string
			p, ok := fc.f.s.fastPath(target)
			if !ok {
				return "", false
			}
			fc.lastPath = p
		}
		return fc.lastPath, true
	}
	fc.lastTarget, fc.lastPath = append(fc.lastTarget[:0], target...), ""
	if fc.f.heads == nil {
		return fc.f.s.fastPath(target)
	}
	return fc.f.s.fastPathIn(target)
}

// lastModified returns t as net/http formats Last-Modified, remembering
// the last one formatted.
func (fc *fastConn) lastModified(t time.Time) []byte {
	sec := t.Unix()
	if fc.lm == nil || sec != fc.lmSec {
		fc.lm = appendHTTPDate(fc.lm[:0], t)
		fc.lmSec = sec
	}
	return fc.lm
}

// appendHTTPDate appends t as http.TimeFormat formats it, in a fraction of
// the time time.Format takes (random keys have different times).
func appendHTTPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	hour, min, sec := t.Clock()
	two := func(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }
	b = append(b, t.Weekday().String()[:3]...)
	b = append(b, ", "...)
	b = two(b, day)
	b = append(b, ' ')
	b = append(b, month.String()[:3]...)
	b = append(b, ' ')
	b = two(b, year/100)
	b = two(b, year%100)
	b = append(b, ' ')
	b = two(b, hour)
	b = append(b, ':')
	b = two(b, min)
	b = append(b, ':')
	b = two(b, sec)
	return append(b, " GMT"...)
}

// dateCache holds the Date header of the current second.
type dateCache struct {
	sec int64
	b   []byte
}

var currentDate atomic.Pointer[dateCache]

// httpDate returns the current time as the Date header wants it.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := currentDate.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &dateCache{sec: sec, b: appendHTTPDate(nil, now)}
	currentDate.Store(d)
	return d.b
}

// fastPath returns the key a fast-lane request target names, if the
// Server's ServeHTTP would send it to the tree and nothing about the path
// needs net/http's care. It keeps to what ParsePath accepts unchanged, so
// that its answer is the one handleGet would give.
func (s *Server) fastPath(target []byte) (verso.Path, bool) {
	return s.fastPathOf(target, string(target))
}

// fastPathIn is fastPath without a copy of target: the key it returns may
// share target's bytes, and is valid only while they do not change.
func (s *Server) fastPathIn(target []byte) (verso.Path, bool) {
	if len(target) == 0 {
		return "", false
	}
	return s.fastPathOf(target, unsafe.String(unsafe.SliceData(target), len(target)))
}

// fastPathOf is fastPath, given target also as a string.
func (s *Server) fastPathOf(target []byte, path string) (verso.Path, bool) {
	if bytes.IndexByte(target, '%') >= 0 {
		// Decoded as net/http decodes URL paths; an encoded '/' is
		// refused by requestPath.
		if bytes.Contains(target, []byte("%2f")) || bytes.Contains(target, []byte("%2F")) {
			return "", false
		}
		var err error
		if path, err = url.PathUnescape(path); err != nil {
			return "", false
		}
	}
	if s.mount == "" && (path == "/healthz" || path == "/readyz" || path == "/metrics" || strings.HasPrefix(path, apiPrefix)) {
		return "", false // only then can ServeHTTP's other routes lie in the tree
	}
	rel, ok := s.inMount(path)
	if !ok {
		return "", false
	}
	if cleanPath(rel) {
		return verso.Path(rel), true
	}
	p, err := verso.ParsePath(rel)
	if err != nil {
		return "", false
	}
	return p, true
}

// cleanPath reports whether ParsePath would return s unchanged, for the
// printable ASCII paths that requests usually name; false means "ask
// ParsePath".
func cleanPath(s string) bool {
	if len(s) < 2 || len(s) > verso.MaxPathLen || s[0] != '/' || s[len(s)-1] == '/' {
		return false
	}
	depth, seg := 0, 0 // seg: where the current segment starts
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '/' {
			if c := s[i]; c < '!' || c > '~' {
				return false
			}
			continue
		}
		if i == 0 {
			seg = 1
			continue
		}
		name := s[seg:i]
		if name == "" || name == "." || name == ".." || len(name) > verso.MaxNameLen {
			return false
		}
		depth++
		seg = i + 1
	}
	return depth <= verso.MaxDepth
}

// The states of a request head in the read buffer.
const (
	headIncomplete = iota
	headComplete
	headOther // not for the fast lane: hand it over as it is
)

// scanHead finds the end of the request head at the start of b: it returns
// the head's length when it is complete. A head that could not be a fast
// lane request is headOther as soon as that is clear, so that net/http
// takes it without waiting for the rest.
func scanHead(b []byte) (int, int) {
	if len(b) >= 5 && string(b[:4]) != "GET " && string(b[:5]) != "HEAD " && string(b[:4]) != "PUT " {
		return 0, headOther
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, headIncomplete
		}
		j += i
		if j == 0 || b[j-1] != '\r' {
			return 0, headOther // a bare LF: net/http accepts it, and decides
		}
		if j == i+1 {
			return j + 1, headComplete
		}
		i = j + 1
	}
}

// fastHead is what fastRequest finds in a fast-lane request's head.
type fastHead struct {
	method string
	target []byte
	// A PUT's Content-Length (always given), and its Content-Type as
	// Header.Get would return it ("" when absent).
	contentLength int64
	contentType   []byte
}

// fastRequest checks a complete request head: it says what it found when
// the request is a fast-lane request, a GET or HEAD whose answer from
// handleGet depends only on the method and the path, or a PUT whose answer
// from handlePut depends only on the path, the body and its Content-Type.
// Anything net/http would refuse, or treat specially, or that a handler
// reads, is not.
//
// If handleGet of a key (at head, without a query), or handlePut, comes to
// depend on another request header, add the header to the names refused
// below, and a case to the fast lane's differential test.
func fastRequest(head []byte) (req fastHead, ok bool) {
	// scanHead made sure that every line ends in CRLF; a CR elsewhere is
	// refused with the other control characters.
	eol := bytes.IndexByte(head, '\n')
	line := head[:eol-1]
	switch {
	case bytes.HasPrefix(line, []byte("GET /")):
		req.method, line = http.MethodGet, line[4:]
	case bytes.HasPrefix(line, []byte("HEAD /")):
		req.method, line = http.MethodHead, line[5:]
	case bytes.HasPrefix(line, []byte("PUT /")):
		req.method, line = http.MethodPut, line[4:]
	default:
		return req, false
	}
	put := req.method == http.MethodPut
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return req, false
	}
	req.target = line[:sp]
	for _, c := range req.target {
		if !pathByte[c] {
			return req, false // a query, a fragment, a space, non-ASCII...
		}
	}
	hosts, lengths, types := 0, 0, 0
	rest := head[eol+1 : len(head)-2]
	for len(rest) > 0 {
		eol := bytes.IndexByte(rest, '\n')
		line := rest[:eol-1]
		rest = rest[eol+1:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return req, false
		}
		name := line[:colon]
		for _, c := range name {
			if !tokenByte[c] {
				return req, false
			}
		}
		value := bytes.Trim(line[colon+1:], " \t")
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return req, false
			}
		}
		switch {
		case equalFold(name, "host"):
			hosts++
			for _, c := range value {
				if !hostByte[c] {
					return req, false
				}
			}
		case equalFold(name, "connection"):
			if !equalFold(value, "keep-alive") {
				return req, false
			}
		case put && equalFold(name, "content-length"):
			lengths++
			n, ok := parseLength(value)
			if !ok {
				return req, false
			}
			req.contentLength = n
		case put && equalFold(name, "content-type"):
			types++
			req.contentType = value
		case put && (equalFold(name, "origin") || equalFold(name, "referer") || equalFold(name, "sec-fetch-site")):
			return req, false // a browser's write: checkOrigin decides (origin.go)
		case refusedHeader(name):
			return req, false
		}
	}
	if put && (lengths != 1 || types > 1) {
		return req, false // no length (chunked, or none), or more than one
	}
	return req, hosts == 1
}

// parseLength parses a Content-Length in the one spelling that leaves
// nothing to interpret: decimal digits, without a leading zero unless it
// is 0, and short enough not to overflow.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// refusedHeader reports whether a request header keeps a request out of
// the fast lane: it is about a body, a range or a condition, credentials,
// or the connection.
func refusedHeader(name []byte) bool {
	if len(name) > 3 && equalFold(name[:3], "if-") {
		return true
	}
	for _, h := range refusedHeaders {
		if equalFold(name, h) {
			return true
		}
	}
	return false
}

var refusedHeaders = []string{
	"if", "range", "authorization", "proxy-authorization", "cookie",
	"expect", "content-length", "transfer-encoding", "upgrade", "te", "trailer",
	"x-verso-message", "x-verso-consistent",
}

// equalFold reports whether b is s in any case; s is lower-case ASCII.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Byte classes of the request head.
var pathByte, tokenByte, hostByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		pathByte[c] = alnum || bytes.IndexByte([]byte("-._~!$&'()*+,;=:@/%"), byte(c)) >= 0
		tokenByte[c] = alnum || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), byte(c)) >= 0
		hostByte[c] = alnum || bytes.IndexByte([]byte("-._:[]"), byte(c)) >= 0
	}
}

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
