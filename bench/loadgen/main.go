// Command loadgen is the load generator of verso's benchmark harness
// (bench/run.sh). It is not part of verso.
//
//	loadgen port                       print a free loopback TCP port
//	loadgen write -target verso|etcd -url URL -clients N -duration D
//	                                   durable writes, then a check that
//	                                   every acknowledged one is there
//	loadgen hammer -url URL -n N       N GETs over keep-alive connections
//	loadgen scale -db FILE -keys K -revisions R
//	                                   build a bolt store with K keys and
//	                                   R revisions of history, offline
//	loadgen mem -db FILE -keys K        the Go heap a bolt store holds per key
//	loadgen paths -keys K -n N -mount M
//	                                   a wrk Lua script GETting N random
//	                                   keys of a store built by scale
//
// Every mode prints one line of key=value results on stdout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen port|write|hammer|scale|paths [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "port":
		err = freePort()
	case "write":
		err = writeCmd(args)
	case "hammer":
		err = hammerCmd(args)
	case "scale":
		err = scaleCmd(args)
	case "paths":
		err = pathsCmd(args)
	case "mem":
		err = memCmd(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// ack is one acknowledged write.
type ack struct {
	key   string
	value string
	rev   int64
}

// writer writes to one kind of server and reads back at a revision.
type writer interface {
	setup(ctx context.Context) error
	put(ctx context.Context, key, value string) (rev int64, err error)
	// getAt returns the value of key as of revision rev.
	getAt(ctx context.Context, key string, rev int64) (string, error)
}

func writeCmd(args []string) error {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	target := fs.String("target", "verso", "verso or etcd")
	base := fs.String("url", "", "base URL: http://HOST:PORT/config for verso, http://HOST:PORT for etcd")
	clients := fs.Int("clients", 1, "concurrent writers, each on its own connection")
	dur := fs.Duration("duration", 5*time.Second, "how long to write")
	fs.Parse(args)

	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: *clients + 8, DisableCompression: true,
	}}
	var w writer
	switch *target {
	case "verso":
		w = &versoWriter{hc: hc, base: strings.TrimSuffix(*base, "/")}
	case "etcd":
		w = &etcdWriter{hc: hc, base: strings.TrimSuffix(*base, "/")}
	default:
		return fmt.Errorf("unknown target %q", *target)
	}
	ctx := context.Background()
	if err := w.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	// Every writer starts on a connection of its own, not on the one the
	// setup request left idle: the writers measured send writes only.
	// (verso's fast lane hands a connection that sent another request,
	// such as the setup's MKCOL, to net/http for good, so one writer in
	// sixteen used to pay net/http's cost per PUT; see docs/PERFORMANCE.md.)
	hc.CloseIdleConnections()
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)

	acks := make([][]ack, *clients)
	lat := make([][]time.Duration, *clients)
	var failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(*dur)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Go(func() {
			key := fmt.Sprintf("w%s-%d", run, c)
			for i := 0; time.Now().Before(deadline); i++ {
				value := fmt.Sprintf("%s-%d-%d", run, c, i)
				t0 := time.Now()
				rev, err := w.put(ctx, key, value)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
				acks[c] = append(acks[c], ack{key, value, rev})
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []ack
	var lats []time.Duration
	for c := range acks {
		all = append(all, acks[c]...)
		lats = append(lats, lat[c]...)
	}
	slices.Sort(lats)
	// Every acknowledged write must be its own revision and must read back
	// at that revision.
	revs := map[int64]bool{}
	dup := 0
	for _, a := range all {
		if revs[a.rev] {
			dup++
		}
		revs[a.rev] = true
	}
	var lost, checkErrs atomic.Int64
	var next atomic.Int64
	var vg sync.WaitGroup
	for range 8 {
		vg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(all) {
					return
				}
				a := all[i]
				v, err := w.getAt(ctx, a.key, a.rev)
				switch {
				case err != nil:
					checkErrs.Add(1)
					firstErr.CompareAndSwap(nil, "check: "+err.Error())
				case v != a.value:
					lost.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("check: %s@%d = %q, acknowledged %q", a.key, a.rev, v, a.value))
				}
			}
		})
	}
	vg.Wait()
	fmt.Printf("target=%s clients=%d writes=%d seconds=%.2f rate=%.0f p50_ms=%.2f p99_ms=%.2f failed=%d lost=%d dup_revisions=%d check_errors=%d",
		*target, *clients, len(all), elapsed.Seconds(), float64(len(all))/elapsed.Seconds(),
		ms(pct(lats, 0.50)), ms(pct(lats, 0.99)), failed.Load(), lost.Load(), dup, checkErrs.Load())
	if e, ok := firstErr.Load().(string); ok {
		fmt.Printf(" first_error=%q", e)
	}
	fmt.Println()
	return nil
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// versoWriter PUTs keys below /bench of a verso tree (base is the mount's
// URL) and reads them back with ?rev=.
type versoWriter struct {
	hc   *http.Client
	base string
}

func (v *versoWriter) setup(ctx context.Context) error {
	resp, err := v.do(ctx, "MKCOL", v.base+"/bench", nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusMethodNotAllowed {
		return fmt.Errorf("MKCOL /bench: %s", resp.Status)
	}
	return nil
}

func (v *versoWriter) do(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, err
}

func (v *versoWriter) put(ctx context.Context, key, value string) (int64, error) {
	resp, err := v.do(ctx, http.MethodPut, v.base+"/bench/"+key, []byte(value))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusNoContent {
		return 0, fmt.Errorf("PUT %s: %s", key, resp.Status)
	}
	return strconv.ParseInt(resp.Header.Get("X-Verso-Revision"), 10, 64)
}

func (v *versoWriter) getAt(ctx context.Context, key string, rev int64) (string, error) {
	resp, err := v.do(ctx, http.MethodGet, fmt.Sprintf("%s/bench/%s?rev=%d", v.base, key, rev), nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s?rev=%d: %s", key, rev, resp.Status)
	}
	if got := resp.Header.Get("X-Verso-Revision"); got != strconv.FormatInt(rev, 10) {
		return "", fmt.Errorf("GET %s?rev=%d: last changed at %s, want %d", key, rev, got, rev)
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// etcdWriter speaks to etcd's JSON gateway (v3 API, base64 keys and values).
type etcdWriter struct {
	hc   *http.Client
	base string
}

func (e *etcdWriter) setup(ctx context.Context) error { return nil }

func (e *etcdWriter) post(ctx context.Context, path string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func (e *etcdWriter) put(ctx context.Context, key, value string) (int64, error) {
	var out struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := e.post(ctx, "/v3/kv/put", map[string]string{"key": b64("/bench/" + key), "value": b64(value)}, &out); err != nil {
		return 0, err
	}
	return strconv.ParseInt(out.Header.Revision, 10, 64)
}

func (e *etcdWriter) getAt(ctx context.Context, key string, rev int64) (string, error) {
	var out struct {
		Kvs []struct {
			Value       string `json:"value"`
			ModRevision string `json:"mod_revision"`
		} `json:"kvs"`
	}
	in := map[string]any{"key": b64("/bench/" + key), "revision": strconv.FormatInt(rev, 10)}
	if err := e.post(ctx, "/v3/kv/range", in, &out); err != nil {
		return "", err
	}
	if len(out.Kvs) != 1 {
		return "", fmt.Errorf("range %s@%d: %d keys", key, rev, len(out.Kvs))
	}
	if out.Kvs[0].ModRevision != strconv.FormatInt(rev, 10) {
		return "", fmt.Errorf("range %s@%d: mod_revision %s", key, rev, out.Kvs[0].ModRevision)
	}
	v, err := base64.StdEncoding.DecodeString(out.Kvs[0].Value)
	return string(v), err
}

// hammerCmd sends n GETs of one URL over conns keep-alive connections,
// one request at a time on each, with a minimal client so that the
// server's system calls (traced meanwhile) are what counts.
func hammerCmd(args []string) error {
	fs := flag.NewFlagSet("hammer", flag.ExitOnError)
	raw := fs.String("url", "", "URL to GET")
	n := fs.Int("n", 10000, "requests in all")
	conns := fs.Int("conns", 4, "keep-alive connections")
	fs.Parse(args)
	u, err := url.Parse(*raw)
	if err != nil {
		return err
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n")
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				failed.Add(1)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for next.Add(1) <= int64(*n) {
				if _, err := c.Write(req); err != nil {
					failed.Add(1)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					failed.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("requests=%d seconds=%.2f failed=%d\n", *n, time.Since(start).Seconds(), failed.Load())
	if failed.Load() > 0 {
		return errors.New("some requests failed")
	}
	return nil
}

// The tree scale builds: namespaces /s/nNNNN of perNS keys kNNNN each.
const perNS = 1000

func scalePath(i int) verso.Path {
	return verso.Path(fmt.Sprintf("/s/n%04d/k%04d", i/perNS, i%perNS))
}

// scaleCmd builds a store with keys keys and revisions revisions through
// the bolt store's own Commit, from many goroutines at once so that group
// commit writes thousands of revisions per bbolt transaction. Revisions
// after the keys exist each change one key, going through the keys in path
// order, so each bbolt transaction touches neighbouring pages.
func scaleCmd(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	db := fs.String("db", "", "bolt file to create")
	keys := fs.Int("keys", 1_000_000, "keys")
	revisions := fs.Int("revisions", 10_000_000, "revisions in all")
	workers := fs.Int("workers", 512, "concurrent commits")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the build to `FILE`")
	fs.Parse(args)
	if err := startProfile(*cpuprofile); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	if *keys%perNS != 0 {
		return fmt.Errorf("keys must be a multiple of %d", perNS)
	}
	nss := *keys / perNS
	if *revisions < 1+nss {
		return fmt.Errorf("need at least %d revisions to create %d keys", 1+nss, *keys)
	}
	start := time.Now()
	st, err := bolt.Open(*db, &bolt.Options{MaxBatch: *workers})
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpMkcol, Path: "/s"}}}); err != nil {
		return err
	}
	// One revision per namespace, holding its keys, a few at a time: a
	// bbolt transaction of hundreds of thousands of puts is slow.
	err = parallel(nss, 4, func(n int) error {
		ops := []verso.Op{{Kind: verso.OpMkcol, Path: verso.Path(fmt.Sprintf("/s/n%04d", n))}}
		for k := range perNS {
			i := n*perNS + k
			ops = append(ops, verso.Op{Kind: verso.OpPut, Path: scalePath(i), Value: value(i)})
		}
		_, err := st.Commit(ctx, &verso.Txn{Message: "create", Ops: ops})
		return err
	})
	if err != nil {
		return err
	}
	history := *revisions - 1 - nss
	err = parallel(history, *workers, func(j int) error {
		i := j % *keys
		_, err := st.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: scalePath(i), Value: value(j + *keys)}}})
		if j > 0 && j%1_000_000 == 0 {
			fmt.Fprintf(os.Stderr, "loadgen scale: %d revisions, %.0fs\n", j, time.Since(start).Seconds())
		}
		return err
	})
	if err != nil {
		return err
	}
	head, _ := st.Head(ctx)
	if err := st.Close(); err != nil {
		return err
	}
	fi, err := os.Stat(*db)
	if err != nil {
		return err
	}
	fmt.Printf("keys=%d revisions=%d seconds=%.1f file_bytes=%d\n", *keys, head, time.Since(start).Seconds(), fi.Size())
	return nil
}

// value is a 20-byte value, like the one the read benchmarks serve.
func value(i int) []byte { return fmt.Appendf(nil, "v%019d", i) }

// parallel runs fn(0..n-1) on workers goroutines, in order of start.
func parallel(n, workers int, fn func(int) error) error {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || firstErr.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// pathsCmd writes a wrk Lua script that GETs n keys of a scale store at
// random, each request preformatted so that wrk's own cost stays low.
func pathsCmd(args []string) error {
	fs := flag.NewFlagSet("paths", flag.ExitOnError)
	keys := fs.Int("keys", 1_000_000, "keys in the store")
	n := fs.Int("n", 10000, "distinct keys to request")
	mount := fs.String("mount", "/config", "mount point")
	fs.Parse(args)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintln(w, "local paths = {")
	for range *n {
		fmt.Fprintf(w, "  %q,\n", *mount+string(scalePath(rand.IntN(*keys))))
	}
	fmt.Fprintf(w, "}\nlocal reqs = {}\nlocal i = 0\n")
	fmt.Fprintf(w, "init = function(args)\n  for j, p in ipairs(paths) do reqs[j] = wrk.format(\"GET\", p) end\nend\n")
	fmt.Fprintf(w, "request = function()\n  i = i %% #reqs + 1\n  return reqs[i]\nend\n")
	return nil
}

// startProfile starts a CPU profile into the file path, if path is not
// "". pprof.StopCPUProfile ends it (and does nothing if none was started).
func startProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return pprof.StartCPUProfile(f)
}

// memCmd opens a store and reports the live Go heap it holds per key once
// loaded, which is what the head cache costs.
func memCmd(args []string) error {
	fs := flag.NewFlagSet("mem", flag.ExitOnError)
	db := fs.String("db", "", "bolt file")
	keys := fs.Int("keys", 1_000_000, "keys in the store")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of Open to `FILE`")
	fs.Parse(args)
	if err := startProfile(*cpuprofile); err != nil {
		return err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	st, err := bolt.Open(*db, nil)
	if err != nil {
		return err
	}
	opened := time.Since(start)
	pprof.StopCPUProfile()
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	fmt.Printf("keys=%d open_seconds=%.2f heap_bytes=%d heap_per_key=%d heap_objects_per_key=%.1f\n",
		*keys, opened.Seconds(), live, live/int64(*keys), float64(after.HeapObjects-before.HeapObjects)/float64(*keys))
	runtime.KeepAlive(st)
	return st.Close()
}
