package httpops

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestListener_WokenWhenEvictable: an Accept that found every connection
// busy (none evictable) makes room as soon as one becomes evictable (its
// request reads its body, or it is idle), not only once one closes, which
// for a stalled body is at the body timeout.
func TestListener_WokenWhenEvictable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		evictable func(l *Listener, c net.Conn, ctx context.Context)
	}{
		{"reading its body", func(l *Listener, c net.Conn, ctx context.Context) { readingBody(ctx, true) }},
		{"idle", func(l *Listener, c net.Conn, ctx context.Context) { l.ConnState(c, http.StateIdle) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l := NewListener(tl, 1, NewMetrics(slog.New(slog.DiscardHandler)))
			defer l.Close()

			ca, err := net.Dial("tcp", tl.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer ca.Close()
			a, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ctx := l.ConnContext(context.Background(), a)
			l.ConnState(a, http.StateNew)
			l.ConnState(a, http.StateActive) // its head is read: busy

			cb, err := net.Dial("tcp", tl.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := l.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			time.Sleep(100 * time.Millisecond) // Accept finds no connection evictable, and waits
			select {
			case c := <-accepted:
				c.Close()
				t.Fatal("a connection got in while the only other was busy")
			default:
			}

			start := time.Now()
			tc.evictable(l, a, ctx)
			select {
			case c := <-accepted:
				c.Close()
				if d := time.Since(start); d > evictGrace+time.Second {
					t.Errorf("got in %v after the other became evictable", d)
				}
			case <-time.After(evictGrace + 2*time.Second):
				t.Fatalf("not accepted %v after the other connection became evictable", time.Since(start).Round(time.Millisecond))
			}
		})
	}
}
