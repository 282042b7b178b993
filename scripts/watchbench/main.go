// Command watchbench measures verso's watch surface: N concurrent watchers
// (server-sent event streams) on one server over loopback, one write, and
// the time until every watcher has its event (p50, p99, max), plus the
// server's memory per idle watcher.
//
//	go run ./scripts/watchbench -n 10000
//
// The server runs in a child process (this program, re-run), so that its
// memory is measured alone and each process stays within the open-file
// limit (a watcher is one socket on each side). Figures are in
// docs/PERFORMANCE.md under "Watch".
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

const serveEnv = "WATCHBENCH_SERVE"

func main() {
	if dir := os.Getenv(serveEnv); dir != "" {
		serve(dir)
		return
	}
	n := flag.Int("n", 10000, "number of watchers")
	writes := flag.Int("writes", 3, "writes to time, one after another")
	flag.Parse()
	if err := bench(*n, *writes); err != nil {
		log.Fatal(err)
	}
}

// serve is the child: a verso server on a bolt file in dir. It prints its
// address, then answers "mem" on stdin with its memory, until stdin ends.
func serve(dir string) {
	st, err := bolt.Open(filepath.Join(dir, "verso.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := server.New(st, &server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go http.Serve(ln, srv)
	fmt.Println(ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Printf("heap=%d stack=%d sys=%d goroutines=%d rss=%d\n",
			m.HeapInuse, m.StackInuse, m.Sys, runtime.NumGoroutine(), rss())
	}
	srv.Close()
	st.Close()
}

// rss returns the resident set size of this process, in bytes.
func rss() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type memStats struct {
	heap, stack, sys, goroutines, rss int64
}

func bench(n, writes int) error {
	dir, err := os.MkdirTemp("", "watchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), serveEnv+"="+dir)
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer child.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	if !out.Scan() {
		return fmt.Errorf("server printed no address")
	}
	addr := out.Text()
	mem := func() memStats {
		fmt.Fprintln(stdin, "mem")
		out.Scan()
		var m memStats
		fmt.Sscanf(out.Text(), "heap=%d stack=%d sys=%d goroutines=%d rss=%d", &m.heap, &m.stack, &m.sys, &m.goroutines, &m.rss)
		return m
	}
	base := "http://" + addr
	do := func(method, path, body string) (time.Duration, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return 0, fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return time.Since(start), nil
	}
	if _, err := do("MKCOL", "/config/bench", ""); err != nil {
		return err
	}
	if _, err := do("PUT", "/config/bench/key", "0"); err != nil {
		return err
	}
	var alone []string
	for i := range writes {
		d, err := do("PUT", "/config/bench/key", "before-"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		alone = append(alone, d.Round(10*time.Microsecond).String())
	}
	fmt.Printf("PUT with no watchers answered in %s\n", strings.Join(alone, ", "))
	// One watch first, so the hub is running before the baseline.
	warm, err := dialWatch(addr)
	if err != nil {
		return err
	}
	defer warm.conn.Close()
	before := mem()

	// Connect the watchers, a few hundred at a time.
	fmt.Printf("connecting %d watchers on one server over loopback (GOMAXPROCS %d)\n", n, runtime.GOMAXPROCS(0))
	ws := make([]*watcher, n)
	start := time.Now()
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var dialErr error
	for i := range ws {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w, err := dialWatch(addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && dialErr == nil {
				dialErr = err
			}
			ws[i] = w
		})
	}
	wg.Wait()
	if dialErr != nil {
		return fmt.Errorf("connect watchers: %w", dialErr)
	}
	defer func() {
		for _, w := range ws {
			w.conn.Close()
		}
	}()
	fmt.Printf("connected in %v\n", time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	idle := mem()
	per := func(a, b int64) string { return fmt.Sprintf("%.1f KiB", float64(b-a)/float64(n)/1024) }
	fmt.Printf("server memory per idle watcher: RSS %s, Go heap %s, goroutine stacks %s; %.1f goroutines per watcher\n",
		per(before.rss, idle.rss), per(before.heap, idle.heap), per(before.stack, idle.stack),
		float64(idle.goroutines-before.goroutines)/float64(n))

	for round := 1; round <= writes; round++ {
		got := make([]chan time.Time, n)
		for i, w := range ws {
			got[i] = make(chan time.Time, 1)
			go w.awaitCommit(got[i])
		}
		time.Sleep(200 * time.Millisecond) // let every reader block
		t0 := time.Now()
		commit, err := do("PUT", "/config/bench/key", strconv.Itoa(round))
		if err != nil {
			return err
		}
		lat := make([]time.Duration, n)
		for i := range got {
			select {
			case at := <-got[i]:
				lat[i] = at.Sub(t0)
			case <-time.After(30 * time.Second):
				return fmt.Errorf("watcher %d got no event within 30s", i)
			}
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[int(p*float64(n-1))].Round(10 * time.Microsecond) }
		fmt.Printf("write %d: PUT answered in %v; every watcher had the event after p50 %v, p99 %v, max %v\n",
			round, commit.Round(10*time.Microsecond), q(0.50), q(0.99), lat[n-1].Round(10*time.Microsecond))
	}
	return nil
}

// watcher is one raw watch stream.
type watcher struct {
	conn net.Conn
	rd   *bufio.Reader
}

// dialWatch opens a watch of /bench and reads up to the stream's first
// (id-only) event.
func dialWatch(addr string) (*watcher, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(conn, "GET /api/v1/watch?path=/bench HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", addr)
	w := &watcher{conn: conn, rd: bufio.NewReaderSize(conn, 1024)}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, err := w.rd.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		conn.Close()
		return nil, fmt.Errorf("watch answered %q: %v", status, err)
	}
	if err := w.until([]byte("id: ")); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Time{})
	return w, nil
}

// until reads lines until one starts with prefix.
func (w *watcher) until(prefix []byte) error {
	for {
		line, err := w.rd.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
		if bytes.HasPrefix(line, prefix) {
			return nil
		}
	}
}

// awaitCommit reads until the next commit event and sends when it came.
func (w *watcher) awaitCommit(at chan<- time.Time) {
	if w.until([]byte("event: commit")) == nil {
		at <- time.Now()
	}
}
