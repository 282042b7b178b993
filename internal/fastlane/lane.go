// Package fastlane serves verso's port with a fast lane in front of
// net/http: the plainest requests of the curl contract (a GET or HEAD of a
// key at head, a PUT of a whole small body) are answered here, everything
// else is handed to net/http.
//
// Reading a key is what verso does most, and net/http's per-request work
// (a goroutine-safe ResponseWriter, a header map, a context, a buffered
// reader per request) costs more than the read itself. Front accepts the
// connections itself and reads each request's head from its own buffer.
// What it answers is decided by allow-lists (request.go): the methods GET,
// HEAD and PUT, HTTP/1.1, a target that is a path, and request headers in
// allowedHeaders. The key is found by the Server (its mount and routes)
// and checked by verso.ParsePath; the answer's head is built by the same
// function as net/http's handlers use (head.go). A GET or HEAD of a key
// that anonymous clients may read is answered from the store's
// verso.HeadReader; a PUT is handed to the Server's Put (put.go).
//
// Anything else (another method, header or path, a query, credentials,
// HTTP/1.0, anything the lane does not fully understand, a PUT the Server
// declines) hands the connection over to the http.Server: the bytes read
// so far, unparsed, are replayed in front of the connection, so net/http
// sees exactly what the client sent. From then on net/http owns that
// connection for the rest of its life.
//
// On Linux, event loops serve the lane's connections (loop_linux.go),
// read them in batches and prefetch their lookups; each of these, and the
// loops' thread lock, can be switched off (Front.Loops, Front.Tricks) so
// that a benchmark can measure it.
package fastlane

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verso-config/verso"
)

// Server is what the lane needs of the server whose requests it answers.
// The server's handlers answer the same requests through net/http; these
// methods are the parts of them the lane shares.
type Server interface {
	// TreePath returns the part of a decoded URL path below the mount
	// point, when the server answers that path from its tree (and not
	// from one of its other routes); the lane parses it with
	// verso.ParsePath.
	TreePath(urlPath string) (rel string, ok bool)
	// AnonymousMay reports whether a request without credentials may
	// read p (write p, if write).
	AnonymousMay(p verso.Path, write bool) bool
	// Put does what the PUT handler does for a PUT with no condition,
	// lock token, message or credentials. ok is false when it did nothing
	// and net/http is to answer the request. A write it refuses (the
	// commit refused it, or a limit did) is answered by the lane:
	// PutResult.Refused is then the answer the handler gives.
	Put(req PutRequest) (_ PutResult, ok bool)
	// Metrics returns the counter and the latency observer of requests
	// of method answered with status.
	Metrics(method string, status int) (prometheus.Counter, prometheus.Observer)
	// BodyStart returns when a body whose head ended now is timed from;
	// BodyDeadline when such a body must have sent more than n bytes
	// (zero: never).
	BodyStart() time.Time
	BodyDeadline(start time.Time, n int64) time.Time
}

// PutRequest is a PUT the lane asks the Server to do.
type PutRequest struct {
	Path        verso.Path
	Value       []byte // the whole body
	ContentType string // the Content-Type header, "" when absent
	Host        string // the Host header
}

// PutResult is what the Server's Put did: the commit's revision, and
// whether it created the key; or, if Refused is not nil, nothing, and
// Refused is the answer to send.
type PutResult struct {
	Rev     verso.Revision
	Created bool
	Refused *Answer
}

// Answer is an answer made by the Server's handlers (writeError) for the
// lane to send: the status, header and body they gave their
// ResponseWriter, the body in one Write. The lane writes it as net/http
// would (appendAnswer).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Config is what New needs.
type Config struct {
	Server Server
	// Heads reads the store's entries at head; nil turns the lane off
	// (every connection is handed over).
	Heads verso.HeadReader
	// HTTP serves what the lane hands over; the lane takes its idle and
	// header timeouts from it (IdleTimeout, then ReadTimeout;
	// ReadHeaderTimeout, then ReadTimeout), and tells its ConnState.
	HTTP *http.Server
	Log  *slog.Logger
	// Off hands every connection over at once (for an access log, which
	// the lane does not write).
	Off bool
	// Puts lets the lane take PUTs (for a store whose head reads are
	// exact: see the server's NewFront).
	Puts bool
}

// Tricks switches off, one at a time, what the event loops do for speed
// (loop_linux.go), so that a benchmark can measure each on and off. The
// zero value keeps them all.
type Tricks struct {
	NoLockThread bool // let a loop's goroutine move between threads
}

// Front serves a port: the lane, and net/http behind it. It serves plain
// TCP only: with TLS, serve the http.Server directly.
//
// The lane's answers are counted in the Server's Metrics (as GET or HEAD
// with status 200, as PUT with 201 or 204). Reads take no request slot,
// since each is answered from memory without waiting; the Server's Put
// decides about a PUT's.
type Front struct {
	srv   Server
	hs    *http.Server
	log   *slog.Logger
	heads verso.HeadReader
	on    bool // false: hand every connection over at once
	puts  bool

	// The metrics of the lane's answers.
	getCount, headCount, createdCount, replacedCount         prometheus.Counter
	getLatency, headLatency, createdLatency, replacedLatency prometheus.Observer

	idleTimeout   time.Duration // between requests on a connection
	headerTimeout time.Duration // from a request's first byte to its whole head

	handoff *handoffListener
	served  atomic.Uint64 // requests the lane answered

	closing atomic.Bool // set by Shutdown and Close

	// Loops is how many event loops serve the lane's connections on
	// Linux (loop_linux.go): 0 for half of GOMAXPROCS, at least one; -1
	// for none, a goroutine per connection. Set it before Serve.
	Loops int
	// Tricks switches the loops' other tricks off. Set it before Serve.
	Tricks Tricks

	loops    []*loop
	nextLoop int // the loop for the next connection

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	shutOnce sync.Once
}

// New returns a Front for cfg.
func New(cfg Config) *Front {
	s, hs := cfg.Server, cfg.HTTP
	f := &Front{
		srv:           s,
		hs:            hs,
		log:           cfg.Log,
		heads:         cfg.Heads,
		on:            !cfg.Off && cfg.Heads != nil,
		puts:          cfg.Puts,
		idleTimeout:   hs.IdleTimeout,
		headerTimeout: hs.ReadHeaderTimeout,
		conns:         map[*conn]struct{}{},
		handoff:       newHandoffListener(),
		Tricks:        builtTricks,
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	f.getCount, f.getLatency = s.Metrics(http.MethodGet, http.StatusOK)
	f.headCount, f.headLatency = s.Metrics(http.MethodHead, http.StatusOK)
	f.createdCount, f.createdLatency = s.Metrics(http.MethodPut, http.StatusCreated)
	f.replacedCount, f.replacedLatency = s.Metrics(http.MethodPut, http.StatusNoContent)
	if f.idleTimeout <= 0 {
		f.idleTimeout = hs.ReadTimeout
	}
	if f.headerTimeout <= 0 {
		f.headerTimeout = hs.ReadTimeout
	}
	return f
}

// Served returns how many requests the lane has answered itself (the
// count is brought up to date as a connection writes its answers, before
// its client can read them).
func (f *Front) Served() uint64 { return f.served.Load() }

// Serve accepts connections on ln until Shutdown or Close, or until Accept
// fails; it returns http.ErrServerClosed after Shutdown or Close, like
// http.Server.Serve. ln may be a listener that wraps another (a connection
// limiter): see InnerListener.
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
		fc := &conn{f: f, c: c}
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

// InnerListener is a listener that wraps another, such as a connection
// limiter: the event loops accept from the TCP listener it wraps in their
// own way, and put a listener of theirs in its place. The connections it
// returns give the one they wrap by a method InnerConn() net.Conn.
type InnerListener interface {
	net.Listener
	Inner() net.Listener
	SetInner(net.Listener)
}

// Shutdown stops accepting connections, closes the lane's idle ones,
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

// Close closes the listener and every connection at once, the lane's and
// net/http's.
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

func (f *Front) forget(fc *conn) {
	f.mu.Lock()
	delete(f.conns, fc)
	f.mu.Unlock()
}

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// The sizes of a lane connection's buffers. A request head that does not
// fit in readBufSize goes to net/http, which has its own limit.
const (
	readBufSize  = 4 << 10
	writeBufSize = 4 << 10
	flushAt      = 64 << 10 // write out pipelined answers beyond this
)

// conn is one connection while the lane serves it.
type conn struct {
	f    *Front
	c    net.Conn
	rbuf []byte // rbuf[r:w] is read and not yet served
	r, w int
	wbuf []byte // answers not yet written
	n    uint64 // answers in wbuf
	idle atomic.Bool

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

	// While an event loop serves the connection (loop_linux.go).
	lc     *loopConn
	fd     int
	inLoop bool
	used   time.Time // when a request last came
}

func (fc *conn) serve() {
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
				// connection limiter.
				if !fc.flush() {
					fc.close()
					return
				}
				if fc.r > 0 {
					fc.w = copy(fc.rbuf, fc.rbuf[fc.r:fc.w])
					fc.r = 0
				}
				if fc.bodyFrom.IsZero() {
					fc.bodyFrom = fc.f.srv.BodyStart()
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
func (fc *conn) readMore(awaiting bool) bool {
	now := time.Now()
	var d time.Time
	switch {
	case !fc.bodyFrom.IsZero() && !awaiting:
		d = fc.f.srv.BodyDeadline(fc.bodyFrom, int64(fc.w-fc.r)) // the head counts too: a few bytes' grace
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
func (fc *conn) flush() bool {
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

func (fc *conn) close() {
	fc.f.forget(fc)
	fc.c.Close()
}

// handOver gives the connection to net/http, with the bytes read and not
// yet served in front of it. Answers already given are written first, so
// they stay in order.
func (fc *conn) handOver() {
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

// answer serves the request at the start of in, whose head is in[:n],
// appending the answer to wbuf. It returns how many bytes of in the
// request took (its head, and a PUT's body); 0, having written nothing,
// when the request is net/http's; needBody when it may be the lane's but
// its body has not all arrived.
func (fc *conn) answer(in []byte, n int) int {
	req, ok := parseRequest(in[:n])
	if !ok {
		return 0
	}
	p, ok := fc.pathOf(req.target)
	if !ok {
		return 0
	}
	return fc.answerParsed(in, n, &req, p)
}

// answerParsed is answer for a head parseRequest has already read, whose
// target names the key p (pathOf).
func (fc *conn) answerParsed(in []byte, n int, req *request, p verso.Path) int {
	f := fc.f
	if req.method == http.MethodPut {
		if fc.inLoop {
			return 0 // it waits for its commit: not in a loop
		}
		return fc.put(in, n, req, verso.Path(strings.Clone(string(p)))) // the commit keeps it
	}
	if !f.srv.AnonymousMay(p, false) {
		return 0
	}
	start := time.Now()
	e, ok := f.heads.HeadEntry(p)
	if !ok || e.Kind != verso.KindKey {
		return 0
	}
	b, ok := appendKeyHead(fc.wbuf, &e)
	if !ok {
		return 0 // net/http would write another head; let it
	}
	if req.method == http.MethodGet {
		b = append(b, e.Value...)
	}
	fc.wbuf = b
	fc.n++
	if req.method == http.MethodGet {
		f.getCount.Inc()
		f.getLatency.Observe(time.Since(start).Seconds())
	} else {
		f.headCount.Inc()
		f.headLatency.Observe(time.Since(start).Seconds())
	}
	return n
}

// pathOf returns the key a request target names. The key may share
// target's bytes: it is for answering this request (HeadEntry keeps
// nothing), and whatever keeps it longer must copy it.
//
// A client that asks for the same target again and again gets the key
// made once, as a string of its own. Other keys are not copied: at a
// million keys, a string of each random key read was garbage enough to
// grow the heap by 100 MB between collections (docs/PERFORMANCE.md, Scale).
func (fc *conn) pathOf(target []byte) (verso.Path, bool) {
	if string(target) == string(fc.lastTarget) {
		if fc.lastPath == "" { // the second time in a row: worth a string
			p, ok := fc.f.keyOf(string(target))
			if !ok {
				return "", false
			}
			fc.lastPath = p
		}
		return fc.lastPath, true
	}
	fc.lastTarget, fc.lastPath = append(fc.lastTarget[:0], target...), ""
	if len(target) == 0 {
		return "", false
	}
	return fc.f.keyOf(unsafe.String(unsafe.SliceData(target), len(target)))
}

// keyOf returns the key a request target (a path, checked by
// parseRequest) names, if the server would answer it from its tree: the
// target decoded as net/http decodes URL paths, below the mount point
// (Server.TreePath), parsed by verso.ParsePath. An encoded '/' is net/http's
// to refuse.
func (f *Front) keyOf(target string) (verso.Path, bool) {
	path := target
	if strings.IndexByte(target, '%') >= 0 {
		if strings.Contains(target, "%2f") || strings.Contains(target, "%2F") {
			return "", false
		}
		var err error
		if path, err = url.PathUnescape(target); err != nil {
			return "", false
		}
	}
	rel, ok := f.srv.TreePath(path)
	if !ok {
		return "", false
	}
	p, err := verso.ParsePath(rel)
	if err != nil {
		return "", false
	}
	return p, true
}
