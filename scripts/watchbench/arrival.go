package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// clientConn is a watcher's TCP connection whose reads can be held, so
// that the watchers' reading does not share the server's two cores during
// a delivery: the client then stands in for a fleet of hosts with
// processors of their own, and the capture (capture.go) says when each
// watcher's change was sent.
//
// Holding has two parts. While reads are held (holdReads), a Read waits
// before it takes data off the socket. And a detached connection is out
// of the runtime's poller altogether (its socket is kept on a descriptor
// of its own), so data arriving wakes no thread of the client either: on
// loopback that wake-up is most of what a client's reading costs, and on
// a real fleet it happens on the host, not beside the server.
type clientConn struct {
	tc   *net.TCPConn
	rc   syscall.RawConn
	raw  int // the socket while detached, -1 otherwise
	addr netip.AddrPort
	free bool // never held: a gRPC client's, which reads all the time
}

// held is closed when held reads may go on; nil when reads are not held.
var held atomic.Pointer[chan struct{}]

// holdReads makes every Read wait before taking data off its socket, until
// releaseReads.
func holdReads() {
	ch := make(chan struct{})
	held.Store(&ch)
}

func releaseReads() {
	if ch := held.Swap(nil); ch != nil {
		close(*ch)
	}
}

func (c *clientConn) wait() {
	if ch := held.Load(); ch != nil && !c.free {
		<-*ch
	}
}

func (c *clientConn) Read(p []byte) (int, error) {
	c.wait()
	var (
		n   int
		err error
	)
	// A reader already parked in the poller is woken by the data, but
	// waits here, before reading it, while reads are held.
	rerr := c.rc.Read(func(fd uintptr) bool {
		c.wait()
		n, err = syscall.Read(int(fd), p)
		return err != syscall.EAGAIN
	})
	switch {
	case rerr != nil:
		return 0, rerr
	case err != nil:
		return 0, err
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// detach takes the socket out of the runtime's poller. No Read may be
// running.
func (c *clientConn) detach() error {
	var derr error
	if err := c.rc.Control(func(fd uintptr) { c.raw, derr = syscall.Dup(int(fd)) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	return c.tc.Close() // the socket stays open on c.raw
}

// attach puts a detached socket back in the poller.
func (c *clientConn) attach() error {
	f := os.NewFile(uintptr(c.raw), "watcher")
	nc, err := net.FileConn(f)
	f.Close()
	c.raw = -1
	if err != nil {
		return err
	}
	c.tc = nc.(*net.TCPConn)
	c.rc, err = c.tc.SyscallConn()
	return err
}

func (c *clientConn) Write(p []byte) (int, error) { return c.tc.Write(p) }
func (c *clientConn) Close() error {
	if c.raw >= 0 {
		syscall.Close(c.raw)
	}
	return c.tc.Close()
}
func (c *clientConn) LocalAddr() net.Addr                { return c.tc.LocalAddr() }
func (c *clientConn) RemoteAddr() net.Addr               { return c.tc.RemoteAddr() }
func (c *clientConn) SetDeadline(t time.Time) error      { return c.tc.SetDeadline(t) }
func (c *clientConn) SetReadDeadline(t time.Time) error  { return c.tc.SetReadDeadline(t) }
func (c *clientConn) SetWriteDeadline(t time.Time) error { return c.tc.SetWriteDeadline(t) }

// local is the client's address, as the capture sees it.
func (c *clientConn) local() netip.AddrPort { return c.addr }

// dial connects to addr from the next loopback source address.
func dial(ctx context.Context, addr string) (*clientConn, error) {
	i := dialSeq.Add(1)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(i%uint32(nSources)/250), byte(2+i%uint32(nSources)%250))}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	rc, err := tc.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	ap := tc.LocalAddr().(*net.TCPAddr).AddrPort()
	return &clientConn{tc: tc, rc: rc, raw: -1, addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
}
