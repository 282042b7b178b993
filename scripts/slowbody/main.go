// Command slowbody checks that clients whose request bodies stall do not
// keep others out of a verso server (docs/OPERATIONS.md, "Slow clients").
//
//	go run ./scripts/slowbody                        # 5,000 stalled bodies, 30 s, the defaults
//	go run ./scripts/slowbody -stalled 1000 -for 10s -- --max-conns 2048
//
// It builds verso, starts `verso serve --users FILE` on 127.0.0.1 in a
// data directory of its own (with any flags given after --), and opens
// -stalled anonymous connections that each send a PROPFIND head and one
// byte of its 100-byte body, then nothing; each connection the server
// ends is opened again at once, so that -stalled of them press on the
// server all along. Meanwhile another client, on a new connection each
// time, alternates a plain GET of a key and an authenticated PUT of one,
// every -every. It prints the latencies of both (p50, p99, max) and what
// became of the stalled connections, and exits 1 if a request failed or
// either p99 exceeds -p99 (1s).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	stalled := flag.Int("stalled", 5000, "stalled connections to hold")
	dur := flag.Duration("for", 30*time.Second, "how long to measure, once the stalled connections are open")
	every := flag.Duration("every", 20*time.Millisecond, "time between two measured requests")
	goal := flag.Duration("p99", time.Second, "the p99 latency each kind of request must stay within")
	verso := flag.String("verso", "", "verso binary to run (default: build ./cmd/verso)")
	flag.Parse()
	if err := run(*stalled, *dur, *every, *goal, *verso, flag.Args()); err != nil {
		log.Fatal(err)
	}
}

const (
	user     = "probe"
	password = "probe-secret"
)

func run(stalled int, dur, every, goal time.Duration, bin string, serveFlags []string) error {
	dir, err := os.MkdirTemp("", "slowbody")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "verso")
		build := exec.Command("go", "build", "-o", bin, "./cmd/verso")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build verso (run from the repository's root): %w", err)
		}
	}
	users := filepath.Join(dir, "users")
	pw := exec.Command(bin, "passwd", users, user)
	pw.Stdin = strings.NewReader(password + "\n")
	if out, err := pw.CombinedOutput(); err != nil {
		return fmt.Errorf("verso passwd: %v: %s", err, out)
	}

	args := append([]string{"serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--users", users}, serveFlags...)
	srv := exec.Command(bin, args...)
	stderr, err := srv.StderrPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			} else if !strings.Contains(sc.Text(), "level=INFO") {
				fmt.Fprintln(os.Stderr, "verso:", sc.Text())
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		return errors.New("verso serve did not say where it listens within 30s")
	}
	base := "http://" + addr + "/config"
	fmt.Printf("verso serve %s on %s\n", strings.Join(serveFlags, " "), addr)

	// The probe client: a new connection for every request.
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	if code, _, err := do(cl, "PUT", base+"/k", true); err != nil || code/100 != 2 {
		return fmt.Errorf("seeding PUT: %d %v", code, err)
	}

	// The stalled bodies.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var open, opened, ended, failed atomic.Int64
	var wg sync.WaitGroup
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	head := "PROPFIND /config/ HTTP/1.1\r\nHost: " + addr + "\r\nDepth: 1\r\nContent-Type: application/xml\r\nContent-Length: 100\r\n\r\n<"
	for range stalled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					failed.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				opened.Add(1)
				open.Add(1)
				done := make(chan struct{})
				go func() {
					select {
					case <-ctx.Done():
					case <-done:
					}
					c.Close()
				}()
				io.WriteString(c, head)
				io.Copy(io.Discard, c) // until the server ends it
				close(done)
				open.Add(-1)
				if ctx.Err() == nil {
					ended.Add(1)
				}
			}
		}()
	}
	rampUntil := time.Now().Add(30 * time.Second)
	for open.Load() < int64(stalled) && time.Now().Before(rampUntil) {
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("%d stalled connections open (%d dial errors)\n", open.Load(), failed.Load())

	// The measured requests.
	var gets, puts []time.Duration
	var errs []string
	minOpen := open.Load()
	end := time.Now().Add(dur)
	for i := 0; time.Now().Before(end); i++ {
		method, auth := "GET", false
		if i%2 == 1 {
			method, auth = "PUT", true
		}
		start := time.Now()
		code, _, err := do(cl, method, base+"/k", auth)
		d := time.Since(start)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", method, err))
		case code/100 != 2:
			errs = append(errs, fmt.Sprintf("%s: status %d", method, code))
		case method == "GET":
			gets = append(gets, d)
		default:
			puts = append(puts, d)
		}
		minOpen = min(minOpen, open.Load())
		time.Sleep(every)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("load average at the end: %s", load)
	fmt.Printf("during %v: stalled connections open: at least %d, ended by the server %d, opened in all %d, dial errors %d\n",
		dur, minOpen, ended.Load(), opened.Load(), failed.Load())
	stop()
	wg.Wait()

	ok := len(errs) == 0
	for _, k := range []struct {
		name string
		ds   []time.Duration
	}{{"GET (anonymous)", gets}, {"PUT (authenticated)", puts}} {
		if len(k.ds) == 0 {
			fmt.Printf("%-20s no answer\n", k.name)
			ok = false
			continue
		}
		slices.Sort(k.ds)
		p50, p99 := pct(k.ds, 50), pct(k.ds, 99)
		fmt.Printf("%-20s n=%d p50=%v p99=%v max=%v\n", k.name, len(k.ds),
			p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), k.ds[len(k.ds)-1].Round(10*time.Microsecond))
		if p99 > goal {
			ok = false
		}
	}
	for i, e := range errs {
		if i == 10 {
			fmt.Printf("... %d failed requests in all\n", len(errs))
			break
		}
		fmt.Println("failed:", e)
	}
	if !ok {
		return fmt.Errorf("goal missed: every request answered 2xx with p99 within %v", goal)
	}
	fmt.Printf("goal met: every request answered 2xx, p99 within %v\n", goal)
	return nil
}

// do makes one request and reads its answer.
func do(cl *http.Client, method, url string, auth bool) (int, []byte, error) {
	var body io.Reader
	if method == "PUT" {
		body = strings.NewReader(time.Now().Format(time.RFC3339Nano))
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, nil, err
	}
	if auth {
		req.SetBasicAuth(user, password)
	}
	start := time.Now()
	var connected time.Duration
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		ConnectDone: func(string, string, error) { connected = time.Since(start) },
	}))
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if d := time.Since(start); d > slowReport {
		fmt.Printf("slow %s: %v, of which %v to connect\n", method, d.Round(time.Millisecond), connected.Round(time.Millisecond))
	}
	return resp.StatusCode, b, err
}

// slowReport: requests slower than this are reported one by one.
const slowReport = 500 * time.Millisecond

// pct returns the p-th percentile of sorted ds.
func pct(ds []time.Duration, p int) time.Duration {
	i := (len(ds)*p + 99) / 100
	return ds[max(0, min(len(ds)-1, i-1))]
}
