package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

// BenchmarkWatchFanout: one commit delivered to many parked watchers, each
// on its own loopback connection, read by its client; an op is one commit
// until every watcher has it. The streams stay; the long-polls, answered
// and closed, are opened again between commits, outside the timer.
//
//	go test -run '^$' -bench WatchFanout -cpuprofile cpu.out ./server/
func BenchmarkWatchFanout(b *testing.B) {
	for _, c := range []struct {
		name           string
		streams, polls int
	}{{"streams=2000", 2000, 0}, {"polls=2000", 0, 2000}} {
		b.Run(c.name, func(b *testing.B) { benchFanout(b, c.streams, c.polls) })
	}
}

func benchFanout(b *testing.B, streams, polls int) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "verso.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	put := func(v string) {
		b.Helper()
		if _, err := st.Commit(ctx, &verso.Txn{Author: "bench", Ops: []verso.Op{{Kind: verso.OpPut, Path: "/app/k", Value: []byte(v)}}}); err != nil {
			b.Fatal(err)
		}
	}
	srv := server.New(st, nil)
	hs := httptest.NewServer(srv)
	defer func() {
		srv.Close()
		hs.Close()
		st.Close()
	}()
	if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/app"}}}); err != nil {
		b.Fatal(err)
	}
	put("0")
	// parked waits until /metrics counts n watchers.
	parked := func(n int) {
		line := fmt.Sprintf("verso_watchers %d\n", n)
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			resp, err := hs.Client().Get(hs.URL + "/metrics")
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), line) {
				return
			}
		}
		b.Fatalf("/metrics never said %q", strings.TrimSpace(line))
	}
	addr := strings.TrimPrefix(hs.URL, "http://")
	open := func(req string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "%s HTTP/1.1\r\nHost: verso\r\n\r\n", req)
		return c, bufio.NewReaderSize(c, 512)
	}
	// until reads rd up to a line that starts with prefix.
	until := func(rd *bufio.Reader, prefix string) error {
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, prefix) {
				return nil
			}
		}
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	rds := make([]*bufio.Reader, 0, streams)
	for range streams {
		c, rd := open("GET /api/v1/watch?path=/app")
		if err := until(rd, "id: "); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		rds = append(rds, rd)
	}
	pollRds := make([]*bufio.Reader, polls)
	pollConns := make([]net.Conn, polls)
	defer func() {
		for _, c := range pollConns {
			if c != nil {
				c.Close()
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		head, err := st.Head(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for j := range polls {
			if pollConns[j] != nil {
				pollConns[j].Close()
			}
			pollConns[j], pollRds[j] = open(fmt.Sprintf("GET /config/app/k?index=%d&wait=1m", head))
		}
		parked(streams + polls)
		var wg sync.WaitGroup
		errs := make(chan error, streams+polls)
		for _, rd := range rds {
			wg.Go(func() {
				if err := until(rd, "event: commit"); err != nil {
					errs <- err
				}
			})
		}
		for _, rd := range pollRds {
			wg.Go(func() {
				if err := until(rd, "HTTP/1.1 200 "); err != nil {
					errs <- err
				}
			})
		}
		time.Sleep(50 * time.Millisecond) // let every reader block
		b.StartTimer()
		put(fmt.Sprint(i + 1))
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
}
