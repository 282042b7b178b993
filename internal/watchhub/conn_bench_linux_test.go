package watchhub

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync"
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

// BenchmarkFanoutWrite: one commit's fan-out to 8,000 parked loopback
// connections, written as writeAll does (a goroutine per core, each
// writing to its share in turn), with the scheduler told of each write
// (syscall.Write) and without (writeNow). Each op makes one fan-out of
// each, in alternating order, and reports the time of each (ms), their
// ratio, and the process's thread switches during each.
//
//	go test -run '^$' -bench FanoutWrite ./internal/watchhub/
func BenchmarkFanoutWrite(b *testing.B) {
	const n = 8000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	servers := make([]syscall.RawConn, n)
	clients := make([]net.Conn, n)
	for i := range n {
		if clients[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer server.Close()
		defer clients[i].Close()
		servers[i] = rawOf(server, true)
	}
	event := bytes.Repeat([]byte("e"), 200)
	buf := make([]byte, len(event))
	workers := runtime.GOMAXPROCS(0)
	// fanout writes event to every connection with write, and returns
	// the time it took and the thread switches in it.
	fanout := func(write func(int, []byte) (int, error)) (time.Duration, int64) {
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t0 := time.Now()
		var wg sync.WaitGroup
		for k := range workers {
			wg.Go(func() {
				for i := k; i < n; i += workers {
					servers[i].Write(func(fd uintptr) bool {
						if _, err := write(int(fd), event); err != nil {
							b.Error(err)
						}
						return true
					})
				}
			})
		}
		wg.Wait()
		took := time.Since(t0)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		for _, c := range clients {
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
		return took, r1.Nvcsw + r1.Nivcsw - r0.Nvcsw - r0.Nivcsw
	}
	var told, raw time.Duration
	var toldSw, rawSw int64
	for i := range b.N {
		for k := range 2 {
			if (i+k)%2 == 0 {
				t, sw := fanout(syscall.Write)
				told, toldSw = told+t, toldSw+sw
			} else {
				t, sw := fanout(writeNow)
				raw, rawSw = raw+t, rawSw+sw
			}
		}
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(per(told), "syscall-ms")
	b.ReportMetric(per(raw), "writeNow-ms")
	b.ReportMetric(raw.Seconds()/told.Seconds(), "ratio")
	b.ReportMetric(float64(toldSw)/float64(b.N), "syscall-switches")
	b.ReportMetric(float64(rawSw)/float64(b.N), "writeNow-switches")
}
