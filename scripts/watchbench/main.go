// Command watchbench measures verso's watch surface at fleet scale: N
// watchers on one server over loopback, each on its own TCP connection as
// the hosts of a fleet would be, half server-sent event streams and half
// long-polls; and, side by side in the same run, N etcd watchers on one
// etcd member, each on its own gRPC connection. For each N it prints how
// long connecting took, the server's memory per idle watcher, and how
// long one commit took to reach every watcher (p50, p99, max), twice:
//
//   - reads held: the watchers' sockets are out of the client's poller
//     and nobody reads until the server has sent the change to every
//     watcher, as if each were a host of its own; the times are when the
//     server sent each watcher its change, stamped by the kernel in a
//     capture on the loopback interface (needs CAP_NET_RAW). etcd's
//     connections belong to its gRPC client, which reads them all the
//     time: they cannot be held, and its times are from the capture
//     while its watchers read as it comes.
//   - read as it comes: every watcher reads at once, on the same two
//     cores as the server; the times are when each read its change.
//
// With each, the CPU time the server spent per watcher, and, for verso,
// the rate of durable PUTs and a plain GET's p99 with no watcher and with
// N connected.
//
//	go run ./scripts/watchbench -n 1000,4000,10000,16000
//
// Each server runs in its own process (verso: this program, re-run), so
// its memory is measured alone and each process stays within its open-file
// limit (a watcher is one socket on each side). Client connections are
// spread over several loopback source addresses so that ports do not run
// out. Figures are in docs/PERFORMANCE.md under "Watch at fleet scale".
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
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/verso-config/verso/bolt"
	"github.com/verso-config/verso/server"
)

const serveEnv = "WATCHBENCH_SERVE"

func main() {
	if dir := os.Getenv(serveEnv); dir != "" {
		serve(dir)
		return
	}
	sizes := flag.String("n", "1000,4000,10000,16000", "numbers of watchers, comma-separated")
	etcdBin := flag.String("etcd", "etcd", "etcd binary to compare with (\"\" to skip)")
	sources := flag.Int("sources", 16, "loopback source addresses to spread client connections over (127.0.0.2, ...)")
	limit := flag.Duration("timeout", 15*time.Minute, "bound on the whole run")
	verbose = flag.Bool("v", false, "print the quantiles of each delivery for streams and long-polls apart")
	flag.Parse()
	nSources = *sources
	if c, err := startCapture(1); err != nil {
		log.Printf("watchbench: %v: the deliveries with reads held are not measured", err)
		noCapture = true
	} else {
		c.close()
	}
	time.AfterFunc(*limit, func() { log.Fatalf("watchbench: still running after %v", *limit) })
	raiseFileLimit()
	var rows []row
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			log.Fatalf("bad -n %q", f)
		}
		r, err := benchVerso(n)
		if err != nil {
			log.Fatalf("verso, %d watchers: %v", n, err)
		}
		rows = append(rows, r)
		printRow(r)
		if *etcdBin != "" {
			r, err := benchEtcd(*etcdBin, n)
			if err != nil {
				log.Fatalf("etcd, %d watchers: %v", n, err)
			}
			rows = append(rows, r)
			printRow(r)
		}
	}
	fmt.Println()
	printTable(rows)
}

// row is what one run measured.
type row struct {
	system     string
	n          int
	connect    time.Duration
	rssPer     float64 // bytes of server RSS per idle watcher
	heapPer    float64 // bytes of Go heap in use per idle watcher (verso only)
	goroutines float64 // server goroutines per idle watcher (verso only)
	// cpuPer is the server's CPU time (user and system, the kernel's
	// loopback work for its writes included) from the PUT until every
	// watcher had it, per watcher: unlike the delivery times, it hardly
	// grows with other load on the machine.
	cpuPer time.Duration // etcd: to 10 ms over all its watchers
	// read: one commit, the watchers reading as it comes (their reads'
	// times); held: another, the watchers' reads held until the server
	// was done (the arrival times), with the server's CPU per watcher.
	read, held times
	heldCPUPer time.Duration
	putAlone   float64 // durable PUTs per second, no watcher
	putWith    float64 // the same with the watchers connected
	getAlone   time.Duration
	getWith    time.Duration // a plain GET's p99
}

func printRow(r row) {
	fmt.Printf("%-5s %6d watchers: connected in %v; %.2f KiB RSS per watcher; "+
		"one commit read by all in p50 %v, p99 %v, max %v, with %v of server CPU per watcher; "+
		"reads held: sent to all in p50 %v, p99 %v, max %v, with %v",
		r.system, r.n, r.connect.Round(time.Millisecond), r.rssPer/1024,
		ms(r.read.p50), ms(r.read.p99), ms(r.read.max), us(r.cpuPer),
		ms(r.held.p50), ms(r.held.p99), ms(r.held.max), us(r.heldCPUPer))
	if r.system == "verso" {
		fmt.Printf("; heap %.2f KiB and %.2f goroutines per watcher; PUT %.0f/s alone, %.0f/s with watchers; GET p99 %v alone, %v with watchers",
			r.heapPer/1024, r.goroutines, r.putAlone, r.putWith, ms(r.getAlone), ms(r.getWith))
	}
	fmt.Println()
}

func printTable(rows []row) {
	fmt.Println("| watchers | server | connected in | RSS per idle watcher | one commit, sent (verso: reads held): p50 / p99 / max | one commit, read as it comes: p50 / p99 / max | server CPU per watcher (read as it comes) | durable PUT/s alone → with watchers | GET p99 alone → with watchers |")
	fmt.Println("|---:|---|---:|---:|---|---|---:|---|---|")
	for _, r := range rows {
		put, get := "", ""
		if r.system == "verso" {
			put = fmt.Sprintf("%.0f → %.0f", r.putAlone, r.putWith)
			get = fmt.Sprintf("%v → %v", ms(r.getAlone), ms(r.getWith))
		}
		fmt.Printf("| %d | %s | %.2f s | %.2f KiB | %v / %v / %v | %v / %v / %v | %s | %s | %s |\n",
			r.n, r.system, r.connect.Seconds(), r.rssPer/1024,
			ms(r.held.p50), ms(r.held.p99), ms(r.held.max),
			ms(r.read.p50), ms(r.read.p99), ms(r.read.max), us(r.cpuPer), put, get)
	}
}

func us(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1e3)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–" // not measured
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// raiseFileLimit sets the soft open-file limit to the hard one.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

var verbose *bool

// noCapture: no capture can be made here, so the deliveries with reads
// held are not measured.
var noCapture bool

var (
	nSources int
	dialSeq  atomic.Uint32
)

// serve is the child: a verso server on a bolt file in dir. It prints its
// address, then answers "mem" on stdin with its memory, until stdin ends:
// idle memory, after a collection and with what it freed given back to
// the system, so that the leftovers of a burst of connections (their
// request buffers, their handlers' stacks) are not counted as watchers'.
func serve(dir string) {
	raiseFileLimit()
	if f := os.Getenv("WATCHBENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
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
		if sc.Text() == "cpu" {
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			fmt.Printf("cpu=%d\n", ru.Utime.Nano()+ru.Stime.Nano())
			continue
		}
		debug.FreeOSMemory()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Printf("heap=%d goroutines=%d rss=%d\n", m.HeapInuse, runtime.NumGoroutine(), rss(os.Getpid()))
	}
	srv.Close()
	st.Close()
}

// rss returns the resident set size of process pid, in bytes.
func rss(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type memStats struct{ heap, goroutines, rss int64 }

// load measures the rate of PUTs (4 clients, for d) to a path no watcher
// watches, and the p99 of plain GETs one after another.
func load(base string, d time.Duration) (float64, time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	do := func(method, path, body string) error {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return nil
	}
	var puts atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	end := time.Now().Add(d)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				if err := do("PUT", fmt.Sprintf("/config/load/k%d", w), strconv.Itoa(i)); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				puts.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, 0, err
	}
	var lat []time.Duration
	for range 1000 {
		t0 := time.Now()
		if err := do("GET", "/config/load/k0", ""); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return float64(puts.Load()) / d.Seconds(), lat[len(lat)*99/100], nil
}

func benchVerso(n int) (row, error) {
	r := row{system: "verso", n: n}
	dir, err := os.MkdirTemp("", "watchbench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), serveEnv+"="+dir)
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return r, err
	}
	defer child.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	if !out.Scan() {
		return r, fmt.Errorf("server printed no address")
	}
	addr := out.Text()
	mem := func() memStats {
		fmt.Fprintln(stdin, "mem")
		out.Scan()
		var m memStats
		fmt.Sscanf(out.Text(), "heap=%d goroutines=%d rss=%d", &m.heap, &m.goroutines, &m.rss)
		return m
	}
	// cpu returns the CPU time (user and system) the server has used.
	cpu := func() time.Duration {
		fmt.Fprintln(stdin, "cpu")
		out.Scan()
		var ns int64
		fmt.Sscanf(out.Text(), "cpu=%d", &ns)
		return time.Duration(ns)
	}
	base := "http://" + addr
	for _, c := range [][3]string{{"MKCOL", "/config/bench", ""}, {"MKCOL", "/config/load", ""}, {"PUT", "/config/bench/key", "0"}} {
		req, _ := http.NewRequest(c[0], base+c[1], strings.NewReader(c[2]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return r, err
		}
		resp.Body.Close()
	}
	if r.putAlone, r.getAlone, err = load(base, 2*time.Second); err != nil {
		return r, err
	}
	head, err := headOf(base)
	if err != nil {
		return r, err
	}
	// One watcher of each kind first, so the hub runs before the baseline.
	var ws []*watcher
	defer func() {
		for _, w := range ws {
			w.conn.Close()
		}
	}()
	for i := range 2 {
		w, err := dialVerso(addr, i%2 == 1, head)
		if err != nil {
			return r, err
		}
		ws = append(ws, w)
	}
	time.Sleep(500 * time.Millisecond)
	before := mem()

	start := time.Now()
	more, err := connectAll(n, func(i int) (*watcher, error) { return dialVerso(addr, i%2 == 1, head) })
	ws = append(ws, more...)
	if err != nil {
		return r, fmt.Errorf("connect watchers: %w", err)
	}
	r.connect = time.Since(start)
	time.Sleep(2 * time.Second)
	idle := mem()
	r.rssPer = float64(idle.rss-before.rss) / float64(n)
	r.heapPer = float64(idle.heap-before.heap) / float64(n)
	r.goroutines = float64(idle.goroutines-before.goroutines) / float64(n)
	if r.putWith, r.getWith, err = load(base, 2*time.Second); err != nil {
		return r, err
	}

	put := func(v string) func() error {
		return func() error {
			req, _ := http.NewRequest("PUT", base+"/config/bench/key", strings.NewReader(v))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		}
	}
	if r.held, r.heldCPUPer, err = deliver(more, portOf(addr), put("1"), true, cpu); err != nil {
		return r, err
	}
	// The answered long-polls ask again, past the revision they had.
	if head, err = headOf(base); err != nil {
		return r, err
	}
	for i := 1; i < len(more); i += 2 {
		more[i].conn.Close()
		if more[i], err = dialVerso(addr, true, head); err != nil {
			return r, err
		}
		ws[2+i] = more[i] // to be closed at the end
	}
	time.Sleep(2 * time.Second)
	r.read, r.cpuPer, err = deliver(more, portOf(addr), put("2"), false, cpu)
	return r, err
}

// connectAll opens n watchers, a few hundred at a time.
func connectAll(n int, open func(i int) (*watcher, error)) ([]*watcher, error) {
	ws := make([]*watcher, n)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range ws {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w, err := open(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			ws[i] = w
		})
	}
	wg.Wait()
	ws = slices.DeleteFunc(ws, func(w *watcher) bool { return w == nil })
	return ws, first
}

// times are the quantiles of when one commit reached every watcher, after
// it was sent.
type times struct{ p50, p99, max time.Duration }

// deliver sends one commit (put) past watchers ws of the server on port,
// waits until every one has it and returns the quantiles and the server's
// CPU time per watcher meanwhile.
//
// Without hold, every watcher reads at once and the times are those of
// their reads. With hold, the watchers' sockets are detached (those that
// can be) and no watcher reads until the server is idle again (its CPU
// time stops growing); the times are when the server sent each watcher
// its change, from a capture on the loopback interface.
func deliver(ws []*watcher, port uint16, put func() error, hold bool, cpu func() time.Duration) (t times, cpuPer time.Duration, err error) {
	if hold && noCapture {
		return t, 0, nil // and the commit is not made: the next one is the first
	}
	var capt *capture
	if hold {
		holdReads()
		defer releaseReads()
		for _, w := range ws {
			if w.sock != nil {
				if err := w.sock.detach(); err != nil {
					return t, 0, err
				}
			}
		}
		if capt, err = startCapture(port); err != nil {
			return t, 0, err
		}
	}
	got := make([]chan time.Time, len(ws))
	for i, w := range ws {
		got[i] = make(chan time.Time, 1)
		go func() {
			if at, ok := w.await(); ok {
				got[i] <- at
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let every reader block
	cpu0 := cpu()
	t0 := time.Now()
	if err := put(); err != nil {
		return t, 0, err
	}
	if hold {
		// The delivery is over once the server is idle again: under an
		// eighth of a core (its sweep of parked sockets costs about 3 µs
		// a watcher a second), or after 20 s.
		for last := cpu0; time.Since(t0) < 20*time.Second; {
			time.Sleep(200 * time.Millisecond)
			now := cpu()
			if now-last < 25*time.Millisecond && time.Since(t0) > time.Second {
				break
			}
			last = now
		}
		cpuPer = (cpu() - cpu0) / time.Duration(len(ws))
		for _, w := range ws {
			if w.sock != nil {
				if err := w.sock.attach(); err != nil {
					return t, 0, err
				}
			}
		}
		releaseReads()
	}
	lat := make([]time.Duration, len(got))
	timeout := time.After(60 * time.Second)
	for i := range got {
		select {
		case at := <-got[i]:
			lat[i] = at.Sub(t0)
		case <-timeout:
			return t, 0, fmt.Errorf("watcher %d got no event within 60s", i)
		}
	}
	if !hold {
		cpuPer = (cpu() - cpu0) / time.Duration(len(ws))
	} else {
		sent, err := capt.sent(t0)
		if err != nil {
			return t, 0, err
		}
		for i, w := range ws {
			at, ok := sent[w.local()]
			if !ok {
				return t, 0, fmt.Errorf("no segment to watcher %d (%v) was captured", i, w.local())
			}
			lat[i] = at.Sub(t0)
		}
	}
	if *verbose {
		// Even watchers are streams, odd ones long-polls (etcd: all
		// watches).
		for k, name := range []string{"even", "odd"} {
			var l []time.Duration
			for i := k; i < len(lat); i += 2 {
				l = append(l, lat[i])
			}
			slices.Sort(l)
			var q []string
			for _, p := range []float64{0, .01, .1, .25, .5, .75, .9, .99, 1} {
				q = append(q, ms(l[int(p*float64(len(l)-1))]))
			}
			log.Printf("held %v, %s watchers: min, p1, p10, p25, p50, p75, p90, p99, max: %s", hold, name, strings.Join(q, " "))
		}
	}
	t.p50, t.p99, t.max = quantiles(lat)
	return t, cpuPer, nil
}

func portOf(addr string) uint16 {
	return netip.MustParseAddrPort(addr).Port()
}

func quantiles(lat []time.Duration) (p50, p99, max time.Duration) {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	return q(0.50), q(0.99), lat[len(lat)-1]
}

func headOf(base string) (int64, error) {
	resp, err := http.Get(base + "/config/bench/key")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64)
}

// watcher is one client: a raw verso watch stream or long-poll, or an
// etcd watch.
type watcher struct {
	conn  io.Closer
	await func() (time.Time, bool) // waits for the next change; when it was read
	local func() netip.AddrPort    // the client's address
	// sock is the client's socket, which a held delivery detaches (nil:
	// it cannot be, its reads only wait).
	sock *clientConn
}

// dialVerso opens a watch stream of /bench (poll false), read up to its
// first (id-only) event, or a long-poll of /bench/key waiting past index.
func dialVerso(addr string, poll bool, index int64) (*watcher, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	rd := bufio.NewReaderSize(conn, 512)
	if poll {
		fmt.Fprintf(conn, "GET /config/bench/key?index=%d&wait=10m HTTP/1.1\r\nHost: %s\r\n\r\n", index, addr)
		return &watcher{conn: conn, await: func() (time.Time, bool) {
			line, err := rd.ReadString('\n')
			return time.Now(), err == nil && strings.Contains(line, " 200 ")
		}, local: conn.local, sock: conn}, nil
	}
	fmt.Fprintf(conn, "GET /api/v1/watch?path=/bench HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", addr)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		conn.Close()
		return nil, fmt.Errorf("watch answered %q: %v", status, err)
	}
	if err := until(rd, []byte("id: ")); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Time{})
	return &watcher{conn: conn, await: func() (time.Time, bool) {
		err := until(rd, []byte("event: commit"))
		return time.Now(), err == nil
	}, local: conn.local, sock: conn}, nil
}

// until reads lines until one starts with prefix.
func until(rd *bufio.Reader, prefix []byte) error {
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
		if bytes.HasPrefix(line, prefix) {
			return nil
		}
	}
}

// benchEtcd runs one etcd member on loopback and n watchers of one key,
// each on its own gRPC connection.
func benchEtcd(bin string, n int) (row, error) {
	r := row{system: "etcd", n: n}
	dir, err := os.MkdirTemp("", "watchbench-etcd-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	client, peer := freePort(), freePort()
	cmd := exec.Command(bin, "--data-dir", dir, "--name", "bench",
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "bench=http://"+peer, "--log-level", "error")
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH=")
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// newConn returns a client connection and, once it has connected,
	// its socket.
	newConn := func() (*grpc.ClientConn, *atomic.Pointer[clientConn], error) {
		var sock atomic.Pointer[clientConn]
		cc, err := grpc.NewClient("passthrough:///"+client,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				c, err := dial(ctx, addr)
				if err != nil {
					return nil, err
				}
				// gRPC owns the connection and reads it all the time:
				// its reads cannot be held.
				c.free = true
				sock.Store(c)
				return c, nil
			}))
		return cc, &sock, err
	}
	admin, _, err := newConn()
	if err != nil {
		return r, err
	}
	defer admin.Close()
	kv := pb.NewKVClient(admin)
	key := []byte("/bench/key")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = kv.Put(ctx, &pb.PutRequest{Key: key, Value: []byte("0")})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("etcd does not answer: %v", err)
		}
	}
	openWatch := func(int) (*watcher, error) {
		cc, sock, err := newConn()
		if err != nil {
			return nil, err
		}
		stream, err := pb.NewWatchClient(cc).Watch(context.Background())
		if err == nil {
			err = stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: key}}})
		}
		if err == nil {
			_, err = stream.Recv() // created
		}
		if err != nil {
			cc.Close()
			return nil, err
		}
		return &watcher{conn: cc, await: func() (time.Time, bool) {
			for {
				resp, err := stream.Recv()
				if err != nil {
					return time.Time{}, false
				}
				if len(resp.Events) > 0 {
					return time.Now(), true
				}
			}
		}, local: func() netip.AddrPort { return sock.Load().local() }}, nil
	}
	warm, err := openWatch(0)
	if err != nil {
		return r, err
	}
	defer warm.conn.Close()
	time.Sleep(500 * time.Millisecond)
	before := rss(cmd.Process.Pid)
	start := time.Now()
	ws, err := connectAll(n, openWatch)
	defer func() {
		for _, w := range ws {
			w.conn.Close()
		}
	}()
	if err != nil {
		return r, fmt.Errorf("connect watchers: %w", err)
	}
	r.connect = time.Since(start)
	time.Sleep(2 * time.Second)
	r.rssPer = float64(rss(cmd.Process.Pid)-before) / float64(n)

	put := func(v string) func() error {
		return func() error {
			_, err := kv.Put(context.Background(), &pb.PutRequest{Key: key, Value: []byte(v)})
			return err
		}
	}
	cpu := func() time.Duration { return procCPU(cmd.Process.Pid) }
	if r.held, r.heldCPUPer, err = deliver(ws, portOf(client), put("1"), true, cpu); err != nil {
		return r, err
	}
	r.read, r.cpuPer, err = deliver(ws, portOf(client), put("2"), false, cpu)
	return r, err
}

// procCPU returns the CPU time (user and system) process pid has used, to
// the kernel's clock tick (10 ms).
func procCPU(pid int) time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// The fields after the command, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// freePort returns a loopback address that was free a moment ago.
func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
