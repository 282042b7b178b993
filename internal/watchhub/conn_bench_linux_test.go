package watchhub

import (
	"bytes"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkConnDelivery: the server's CPU for one delivery on a parked
// loopback connection, measured on the delivering thread alone
// (cpu-ns/op, steadier than the time when other work shares the cores):
// an event written to a stream, a long-poll's answer, and the answer with
// the close that follows it (which sends the end of the stream). The
// kernel's loopback work for the client's side is in it; the client's own
// reading is not.
//
//	go test -run '^$' -bench ConnDelivery ./internal/watchhub/
func BenchmarkConnDelivery(b *testing.B) {
	event := bytes.Repeat([]byte("e"), 200)
	answer := bytes.Repeat([]byte("a"), 300)
	for _, c := range []struct {
		name    string
		deliver func(*Conn)
	}{
		{"event", func(c *Conn) { c.Send(event) }},
		{"answer", func(c *Conn) { c.Send(answer) }},
		{"answer+close", func(c *Conn) { c.Send(answer); c.Close(nil) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			const batch = 500
			var cpu time.Duration
			b.StopTimer()
			for done := 0; done < b.N; done += batch {
				cpu += deliverAll(b, ln, min(batch, b.N-done), c.deliver)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// deliverAll makes n parked connections to ln and returns the CPU time
// of delivering to each of them in turn on one thread, timed.
func deliverAll(b *testing.B, ln net.Listener, n int, deliver func(*Conn)) time.Duration {
	conns := make([]*Conn, n)
	clients := make([]net.Conn, n)
	for i := range n {
		var err error
		if clients[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = New(server, 1, nil)
	}
	runtime.LockOSThread()
	b.StartTimer()
	t0 := threadCPU()
	for _, c := range conns {
		deliver(c)
	}
	cpu := threadCPU() - t0
	b.StopTimer()
	runtime.UnlockOSThread()
	for i, c := range conns {
		c.Abort()
		clients[i].Close()
	}
	return cpu
}

// threadCPU returns the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
