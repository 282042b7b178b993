//go:build linux

package fastlane

import (
	"errors"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/verso-config/verso"
)

// The fast lane's event loops (Linux).
//
// With a goroutine per connection, every request that arrives wakes that
// connection's goroutine through the Go runtime's poller, and with more
// than one P the scheduler wakes another thread to run it: on a machine
// whose clients share its cores, those wake-ups cost more CPU than the
// answers, and they make the tail (bench/run.sh: p99 3 to 6x nginx's at two
// Ps, under nginx's at one). An event loop, as nginx has, serves every
// ready connection in turn from one epoll set: one wait for many requests,
// no goroutine switch per request, and the loop goes on without waking
// anyone while requests keep coming.
//
// The loop's connections are accepted by rawListener, so their
// descriptors are not in the runtime's poller (which would otherwise be
// woken for every request too); the loop's own epoll descriptor is, so a
// loop with nothing to do parks as any goroutine does, and no thread is
// held in a system call. A connection leaves its loop for a goroutine of
// its own (conn.serve, as without loops) as soon as it needs more than
// a loop gives: a request that is not a plain read of a key at head (a
// PUT, anything for net/http), a request split across reads, or an answer
// the socket cannot take at once. At that point its descriptor is given to
// Go's net package (net.FileConn), and everything after is as it is
// without loops.

// loopsFor returns how many loops f runs: f.Loops, or half of GOMAXPROCS
// (at least one), leaving the other Ps to net/http, the committer and,
// where clients share the machine, to them.
func (f *Front) loopsFor() int {
	if f.Loops != 0 {
		return f.Loops
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// startLoops (called with f.mu held) starts f's loops if ln accepts TCP
// connections (directly or through a connection limiter), and returns the
// listener to accept from: ln, now accepting through rawListener, or ln
// unchanged when the connections are to be served a goroutine each.
func (f *Front) startLoops(ln net.Listener) net.Listener {
	n := f.loopsFor()
	if !f.on || n < 0 {
		return ln
	}
	lim, _ := ln.(InnerListener)
	base := ln
	if lim != nil {
		base = lim.Inner()
	}
	tl, ok := base.(*net.TCPListener)
	if !ok {
		return ln
	}
	rl, err := newRawListener(tl)
	if err != nil {
		f.log.Warn("fast lane: serving a goroutine per connection", "err", err)
		return ln
	}
	for range n {
		l, err := newLoop(f)
		if err != nil {
			f.log.Warn("fast lane: serving a goroutine per connection", "err", err)
			for _, l := range f.loops {
				l.stop()
			}
			rl.file.Close()
			f.loops = nil
			return ln
		}
		f.loops = append(f.loops, l)
	}
	if lim != nil {
		lim.SetInner(rl) // before anything accepts from lim
		return lim
	}
	return rl
}

// toLoop gives fc to the next loop; false if fc's connection is not one
// a loop can serve (or the loops are stopping).
func (f *Front) toLoop(fc *conn) bool {
	if len(f.loops) == 0 {
		return false
	}
	lc := loopConnOf(fc.c)
	if lc == nil {
		return false
	}
	l := f.loops[f.nextLoop%len(f.loops)]
	f.nextLoop++
	return l.add(fc, lc)
}

// stopLoops tells the loops to close their connections (all of them idle:
// a loop finishes what it reads before it reads again) and waits for them.
func (f *Front) stopLoops() {
	f.mu.Lock()
	loops := f.loops
	f.mu.Unlock()
	for _, l := range loops {
		l.stop()
	}
	for _, l := range loops {
		<-l.done
	}
}

// stop tells l to close its connections and end, waking it if it waits.
func (l *loop) stop() {
	l.stopping.Store(true)
	l.file.SetReadDeadline(aLongTimeAgo)
}

// loopConnOf finds the loopConn under c's wrappers.
func loopConnOf(c net.Conn) *loopConn {
	for {
		switch cc := c.(type) {
		case *loopConn:
			return cc
		case interface{ InnerConn() net.Conn }: // a connection limiter's
			c = cc.InnerConn()
		default:
			return nil
		}
	}
}

// loop is one event loop: an epoll set of connections it serves.
type loop struct {
	f        *Front
	epfd     int
	file     *os.File // epfd, in the runtime's poller: readable when a connection is
	rc       syscall.RawConn
	stopping atomic.Bool
	done     chan struct{}

	mu    sync.Mutex
	conns map[int]*conn // by descriptor
	dead  bool          // the loop has ended: add no more

	// Used by the loop's goroutine only.
	events   []unix.EpollEvent
	n        int // events the last wait found
	rbuf     []byte
	wbuf     []byte
	deadline time.Time // the wake-up set on file, for idle connections
}

func newLoop(f *Front) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	file := os.NewFile(uintptr(epfd), "fastlane-loop")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, err
	}
	l := &loop{
		f:      f,
		epfd:   epfd,
		file:   file,
		rc:     rc,
		done:   make(chan struct{}),
		conns:  map[int]*conn{},
		events: make([]unix.EpollEvent, 128),
		rbuf:   make([]byte, readBufSize),
		wbuf:   make([]byte, 0, writeBufSize),
	}
	go l.run()
	return l, nil
}

// add makes fc one of l's connections.
func (l *loop) add(fc *conn, lc *loopConn) bool {
	lc.mu.Lock()
	if lc.fd < 0 || lc.shut || lc.inner.Load() != nil {
		lc.mu.Unlock()
		return false
	}
	lc.loop = l
	fd := lc.fd
	lc.mu.Unlock()
	fc.lc, fc.fd, fc.inLoop = lc, fd, true
	fc.used = time.Now()
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		l.unlink(fc)
		return false
	}
	l.conns[fd] = fc
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.mu.Lock()
		delete(l.conns, fd)
		l.mu.Unlock()
		l.unlink(fc)
		return false
	}
	return true
}

func (l *loop) run() {
	// A loop keeps its own thread. Unlocked, a loop resumed after parking
	// ran on whichever thread the scheduler woke for it, and random reads
	// at scale fell, run after run, into a state where loop and client
	// keep waking each other (docs/PERFORMANCE.md, Scale, has the
	// measurements, and bench/tricks.sh measures it again).
	if !l.f.Tricks.NoLockThread {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	defer close(l.done)
	defer l.file.Close()
	// wait is what the runtime's poller calls once l.file is readable.
	var werr error
	wait := func(fd uintptr) bool {
		l.n, werr = unix.EpollWait(int(fd), l.events, 0)
		return l.n > 0 || (werr != nil && werr != unix.EINTR)
	}
	for !l.stopping.Load() {
		// The read deadline on l.file wakes the loop each second, busy
		// or not, to close idle connections.
		now := time.Now()
		if !now.Before(l.deadline) {
			l.expire(now)
			l.deadline = now.Add(time.Second)
			l.file.SetReadDeadline(l.deadline)
			if l.stopping.Load() {
				break // stopLoops's wake-up may have been overwritten
			}
		}
		// wait runs at once, and only when nothing is ready does the
		// loop park until the runtime's poller finds l.file readable.
		err := l.rc.Read(wait)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil || (werr != nil && werr != unix.EINTR) {
			if !l.stopping.Load() {
				l.f.log.Error("fast lane: waiting for connections", "err", errors.Join(err, werr))
			}
			break
		}
		l.round(time.Now())
	}
	l.mu.Lock()
	l.dead = true
	left := make([]*conn, 0, len(l.conns))
	for _, fc := range l.conns {
		left = append(left, fc)
	}
	l.mu.Unlock()
	for _, fc := range left {
		l.drop(fc)
	}
}

// round serves the connections the last wait found ready, one after
// another: it reads what a connection sent and answers it before it reads
// the next. (Reading a batch first and prefetching its lookups, so that
// their cache misses overlapped, was measured and removed: it did not gain
// the 5% a trick must; docs/PERFORMANCE.md, What each read-path trick pays.)
func (l *loop) round(now time.Time) {
	for i := range l.n {
		fd := int(l.events[i].Fd)
		l.mu.Lock()
		fc := l.conns[fd]
		l.mu.Unlock()
		if fc == nil {
			continue
		}
		k, err := unix.Read(fd, l.rbuf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil || k <= 0 {
			l.drop(fc) // the client closed, or the connection failed
			continue
		}
		rc := readyConn{fc: fc, in: l.rbuf[:k:k]}
		if n, st := scanHead(rc.in); st == headComplete {
			if req, ok := parseRequest(rc.in[:n]); ok {
				if p, ok := fc.pathOf(req.target); ok {
					rc.req, rc.n, rc.p = req, n, p
				}
			}
		}
		l.serve(&rc, now)
	}
}

// readyConn is a connection read in this round, about to be answered.
type readyConn struct {
	fc  *conn
	in  []byte     // what it sent, in the loop's read buffer
	req request    // in's first request, when p is not ""
	n   int        // the length of its head
	p   verso.Path // the key it names (pathOf: it may share in's bytes)
}

// serve answers the requests in what a connection sent and writes the
// answers; a connection that needs more than that leaves for a goroutine
// of its own.
func (l *loop) serve(rc *readyConn, now time.Time) {
	fc, in := rc.fc, rc.in
	fd, k := fc.fd, len(in)
	fc.used = now
	fc.wbuf = l.wbuf[:0]
	r := 0
	for r < k {
		var used int
		if r == 0 && rc.p != "" {
			used = fc.answerParsed(in, rc.n, &rc.req, rc.p)
		} else if n, st := scanHead(in[r:]); st == headComplete {
			used = fc.answer(in[r:], n)
		}
		if used <= 0 {
			break
		}
		r += used
		fc.answered, fc.headBy = true, time.Time{}
		if len(fc.wbuf) >= flushAt {
			break // large answers: the rest from a goroutine, which writes as it goes
		}
	}
	out := fc.wbuf
	fc.wbuf = nil
	if cap(out) <= flushAt {
		l.wbuf = out[:0]
	}
	w := 0
	if len(out) > 0 {
		l.f.served.Add(fc.n) // before the client can see the answers
		fc.n = 0
		var err error
		w, err = unix.Write(fd, out)
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			l.drop(fc)
			return
		}
		w = max(w, 0)
	}
	if r == k && w == len(out) {
		if hook := l.f.hs.ConnState; hook != nil && now.Sub(fc.idleSent) > time.Second {
			fc.idleSent = now
			hook(fc.c, http.StateIdle)
		}
		return
	}
	l.leave(fc, in[r:], out[w:])
}

// leave moves fc to a goroutine of its own, with the bytes read and not
// served, and the answers not yet written.
func (l *loop) leave(fc *conn, in, out []byte) {
	l.remove(fc)
	l.unlink(fc)
	fc.rbuf = make([]byte, readBufSize)
	fc.r, fc.w = 0, copy(fc.rbuf, in)
	fc.wbuf = append(make([]byte, 0, max(writeBufSize, len(out))), out...)
	go fc.serve()
}

// drop closes fc's connection.
func (l *loop) drop(fc *conn) {
	l.remove(fc)
	l.unlink(fc)
	fc.close()
}

// remove takes fc out of l's set.
func (l *loop) remove(fc *conn) {
	l.mu.Lock()
	delete(l.conns, fc.fd)
	l.mu.Unlock()
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fc.fd, nil)
}

// unlink tells fc's connection that no loop serves it any more: from now
// on it is an ordinary net.Conn.
func (l *loop) unlink(fc *conn) {
	fc.lc.mu.Lock()
	fc.lc.loop = nil
	fc.lc.mu.Unlock()
	fc.inLoop = false
}

// expire closes the connections idle for longer than the idle timeout,
// and those that have not sent a whole request since their accept within
// the header timeout (as net/http does; a head begun leaves the loop, and
// conn.readMore holds it to the same deadline).
func (l *loop) expire(now time.Time) {
	timeout := l.f.idleTimeout
	var idle []*conn
	l.mu.Lock()
	for _, fc := range l.conns {
		if !fc.answered && !fc.headBy.IsZero() && now.After(fc.headBy) ||
			fc.answered && timeout > 0 && now.Sub(fc.used) > timeout {
			idle = append(idle, fc)
		}
	}
	l.mu.Unlock()
	for _, fc := range idle {
		l.drop(fc)
	}
}

// rawListener accepts connections from a TCP listener itself, so that
// their descriptors stay out of the runtime's poller until a connection
// leaves its loop (see above). It waits for connections through a
// duplicate of the listener's descriptor, which is in the poller.
type rawListener struct {
	*net.TCPListener
	file *os.File // the duplicate
	rc   syscall.RawConn
}

func newRawListener(tl *net.TCPListener) (*rawListener, error) {
	trc, err := tl.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup, derr := -1, error(nil)
	if err := trc.Control(func(fd uintptr) {
		dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	file := os.NewFile(uintptr(dup), "listener") // non-blocking, as the listener is
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, err
	}
	return &rawListener{TCPListener: tl, file: file, rc: rc}, nil
}

func (l *rawListener) Accept() (net.Conn, error) {
	for {
		var fd int
		var sa unix.Sockaddr
		var aerr error
		err := l.rc.Read(func(lfd uintptr) bool {
			fd, sa, aerr = unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return aerr != unix.EAGAIN
		})
		if err != nil {
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
		}
		switch aerr {
		case nil:
		case unix.EINTR, unix.ECONNABORTED:
			continue // as Go's net package does
		default:
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", aerr)}
		}
		// What Go's net package sets on the connections it accepts.
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9)
		return &loopConn{fd: fd, laddr: l.Addr(), raddr: tcpAddr(sa)}, nil
	}
}

// Close closes the listener and the duplicate, which ends a waiting Accept.
func (l *rawListener) Close() error {
	l.file.Close()
	return l.TCPListener.Close()
}

func tcpAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return &net.TCPAddr{}
}

// loopConn is a connection rawListener accepted. While a loop serves it,
// only the loop reads and writes it, through its descriptor; Close from
// elsewhere (a connection limiter making room, Front.Close) shuts the
// socket down and leaves closing the descriptor to the loop, which sees
// the connection end. Once it has left its loop, its descriptor is handed
// to Go's net package on first use, and the methods of net.Conn are those
// of the *net.TCPConn that results.
type loopConn struct {
	inner atomic.Pointer[net.Conn] // once made

	mu    sync.Mutex
	fd    int   // -1 once closed, or handed to inner
	loop  *loop // the loop serving it, if any
	shut  bool  // Close was called while a loop served it
	laddr net.Addr
	raddr net.Addr
}

// conn returns the connection as Go's net package serves it, making it
// the first time.
func (c *loopConn) conn() (net.Conn, error) {
	if p := c.inner.Load(); p != nil {
		return *p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.inner.Load(); p != nil {
		return *p, nil
	}
	if c.fd < 0 || c.loop != nil {
		return nil, net.ErrClosed
	}
	f := os.NewFile(uintptr(c.fd), "")
	nc, err := net.FileConn(f) // a duplicate of the descriptor
	f.Close()
	c.fd = -1
	if err != nil {
		return nil, err
	}
	c.inner.Store(&nc)
	return nc, nil
}

func (c *loopConn) Read(p []byte) (int, error) {
	nc, err := c.conn()
	if err != nil {
		return 0, err
	}
	return nc.Read(p)
}

func (c *loopConn) Write(p []byte) (int, error) {
	nc, err := c.conn()
	if err != nil {
		return 0, err
	}
	return nc.Write(p)
}

func (c *loopConn) Close() error {
	if p := c.inner.Load(); p != nil {
		return (*p).Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.inner.Load(); p != nil {
		return (*p).Close()
	}
	if c.fd < 0 {
		return net.ErrClosed
	}
	if c.loop != nil {
		// The loop may be using the descriptor: end the connection, and
		// let the loop close the descriptor when it sees the end.
		if !c.shut {
			c.shut = true
			unix.Shutdown(c.fd, unix.SHUT_RDWR)
		}
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// CloseWrite half-closes the connection (net/http does, before closing a
// connection whose request body it did not read).
func (c *loopConn) CloseWrite() error {
	nc, err := c.conn()
	if err != nil {
		return err
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *loopConn) LocalAddr() net.Addr  { return c.laddr }
func (c *loopConn) RemoteAddr() net.Addr { return c.raddr }

func (c *loopConn) SetDeadline(t time.Time) error {
	nc, err := c.conn()
	if err != nil {
		return err
	}
	return nc.SetDeadline(t)
}

func (c *loopConn) SetReadDeadline(t time.Time) error {
	nc, err := c.conn()
	if err != nil {
		return err
	}
	return nc.SetReadDeadline(t)
}

func (c *loopConn) SetWriteDeadline(t time.Time) error {
	nc, err := c.conn()
	if err != nil {
		return err
	}
	return nc.SetWriteDeadline(t)
}

// LoopConns returns how many connections each event loop serves now, one
// number a loop (none without loops): for tests and diagnostics.
func (f *Front) LoopConns() []int {
	f.mu.Lock()
	loops := f.loops
	f.mu.Unlock()
	n := make([]int, len(loops))
	for i, l := range loops {
		l.mu.Lock()
		n[i] = len(l.conns)
		l.mu.Unlock()
	}
	return n
}

// PauseLoop holds event loop i (as a connection's arrival does for a
// moment) until the function it returns is called, so that a test can
// have requests arrive together.
func (f *Front) PauseLoop(i int) (resume func()) {
	f.mu.Lock()
	l := f.loops[i]
	f.mu.Unlock()
	l.mu.Lock()
	return l.mu.Unlock
}
