package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/verso-config/verso/internal/httpops"
)

// Optional interfaces of a Store that the operations surface uses when the
// backend has them (the bolt store has all three).
type (
	// sizer reports the size of the store's data, in bytes.
	sizer interface{ Size() int64 }
	// writableChecker says whether the store accepts commits now.
	writableChecker interface{ Writable() error }
	// backuper writes a consistent snapshot of the store.
	backuper interface {
		Backup(ctx context.Context, w io.Writer) (int64, error)
	}
)

// operations is what the server does around every request, for whoever
// runs it: Prometheus metrics, the access log and the cap on concurrent
// requests. ServeHTTP goes through it; the metrics are served at /metrics.
type operations struct {
	reg      *prometheus.Registry
	metrics  http.Handler
	access   *httpops.AccessLog // nil when there is no access log
	requests chan struct{}      // a slot per request in flight; nil: no cap

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	httpInFlight  prometheus.Gauge
	httpRejected  prometheus.Counter
	commits       prometheus.Counter
	conns         prometheus.Gauge
	connsEvicted  prometheus.Counter
	connsAccepted prometheus.Counter

	// watchers is the number of open watch streams and long-polls (the
	// requests longLived picks out), exported as verso_watchers.
	watchers prometheus.Gauge
}

// latencyBuckets suit a service whose reads are answered from memory in
// well under a millisecond and whose writes wait for an fsync.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newOperations(s *Server, o *Options) *operations {
	reg := prometheus.NewRegistry()
	ops := &operations{
		reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verso_http_requests_total",
			Help: "HTTP requests answered, by method and status code.",
		}, []string{"method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "verso_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and status code (watch streams and long-polls left out).",
			Buckets: latencyBuckets,
		}, []string{"method", "code"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verso_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		httpRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verso_http_requests_rejected_total",
			Help: "HTTP requests refused with 503 because --max-requests were in flight.",
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verso_commits_total",
			Help: "Revisions committed through this server's HTTP surface.",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verso_http_connections",
			Help: "Open client connections.",
		}),
		connsAccepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verso_http_connections_accepted_total",
			Help: "Client connections accepted.",
		}),
		connsEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verso_http_connections_evicted_total",
			Help: "Idle or header-reading connections closed to make room under --max-conns.",
		}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verso_watchers",
			Help: "Open watch streams and long-polls.",
		}),
	}
	reg.MustRegister(ops.httpRequests, ops.httpDuration, ops.httpInFlight, ops.httpRejected,
		ops.commits, ops.conns, ops.connsAccepted, ops.connsEvicted, ops.watchers,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "verso_head_revision",
			Help: "The newest revision of the store.",
		}, func() float64 {
			head, err := s.store.Head(context.Background())
			if err != nil {
				return -1
			}
			return float64(head)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "verso_store_writable",
			Help: "1 if the store accepts commits, 0 if not (the /readyz check).",
		}, func() float64 {
			if s.storeReady(context.Background()) != nil {
				return 0
			}
			return 1
		}),
	)
	if sz, ok := s.store.(sizer); ok {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "verso_store_size_bytes",
			Help: "Size of the store's data file.",
		}, func() float64 { return float64(sz.Size()) }))
	}
	ops.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})
	if o.AccessLog != nil {
		ops.access = httpops.NewAccessLog(o.AccessLog)
	}
	if o.MaxRequests > 0 {
		ops.requests = make(chan struct{}, o.MaxRequests)
	}
	return ops
}

// slogPrinter lets promhttp report errors to the server's log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) {
	p.s.log.Warn("serving metrics", "err", fmt.Sprint(v...))
}

// ServeHTTP answers a request: the operations endpoints (/metrics), then
// everything else through dispatch, measured, logged and held to the cap
// on concurrent requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ops := s.ops
	start := time.Now()
	info := &requestInfo{srv: s, start: start}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	rec := &recorder{ResponseWriter: w}
	long := longLived(r)
	if long {
		ops.watchers.Inc()
		defer ops.watchers.Dec()
	}
	ops.httpInFlight.Inc()
	defer func() {
		ops.httpInFlight.Dec()
		if info.parked {
			return // counted and logged when the watch hub answers it
		}
		e := &httpops.Entry{Start: start, Status: rec.status, Bytes: rec.bytes}
		if e.Status == 0 {
			// Nothing written: net/http answers 200 with no body, unless
			// the handler panicked (then the connection is cut).
			e.Status = http.StatusOK
		}
		commit := e.Status/100 == 2 && isWrite(r.Method) && rec.Header().Get(HeaderRevision) != ""
		if ops.access != nil {
			e.FromRequest(r, info.user)
		}
		ops.observe(r.Method, e, long, commit)
	}()

	if r.URL.Path == "/metrics" {
		ops.metrics.ServeHTTP(rec, r)
		return
	}
	// The body first, without a slot (limits.go).
	if err := s.readBody(w, r); err != nil {
		rec.Header().Set("Connection", "close")
		if statusOf(err) != http.StatusRequestTimeout {
			err = errorf(http.StatusBadRequest, "reading the request body: %v", err)
		}
		writeError(rec, r, s.log, err)
		return
	}
	if ops.requests != nil && !long && !isProbe(r.URL.Path) {
		select {
		case ops.requests <- struct{}{}:
			defer func() { <-ops.requests }()
		default:
			ops.httpRejected.Inc()
			rec.Header().Set("Retry-After", "1")
			writeError(rec, r, s.log, errorf(http.StatusServiceUnavailable,
				"too many requests in flight (%d); retry shortly", cap(ops.requests)))
			return
		}
	}
	s.dispatch(rec, r)
}

// observe counts a request answered with e.Status in the metrics (in the
// latency histogram unless it is long-lived, in the commits if it made one)
// and writes e to the access log, if there is one. A front that answers
// requests without ServeHTTP calls it too, with e filled in.
func (ops *operations) observe(method string, e *httpops.Entry, long, commit bool) {
	m, code := methodLabel(method), strconv.Itoa(e.Status)
	ops.httpRequests.WithLabelValues(m, code).Inc()
	if !long {
		ops.httpDuration.WithLabelValues(m, code).Observe(time.Since(e.Start).Seconds())
	}
	if commit {
		ops.commits.Inc()
	}
	if ops.access != nil {
		ops.access.Log(e)
	}
}

// longLived reports whether r may stay open for minutes by design (a watch
// stream or a long-poll), so that it neither counts against the cap on
// concurrent requests nor skews the latency histogram.
func longLived(r *http.Request) bool {
	if r.URL.Path == apiPrefix+"watch" {
		return true
	}
	q := r.URL.RawQuery
	return q != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(strings.Contains(q, "index=") || strings.Contains(q, "wait="))
}

// isProbe reports whether p is a health endpoint, which must answer even
// when the server is saturated.
func isProbe(p string) bool { return p == "/healthz" || p == "/readyz" }

// isWrite reports whether a method may commit.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND":
		return false
	}
	return true
}

// methodLabel keeps the method label of the metrics to a known set.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPost,
		http.MethodOptions, http.MethodPatch, "MKCOL", "COPY", "MOVE", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK":
		return m
	}
	return "OTHER"
}

// storeReady returns nil if the store answers and accepts commits.
func (s *Server) storeReady(ctx context.Context) error {
	if _, err := s.store.Head(ctx); err != nil {
		return err
	}
	if wc, ok := s.store.(writableChecker); ok {
		if err := wc.Writable(); err != nil {
			return err
		}
	}
	return nil
}

// recorder is the ResponseWriter handlers see: it remembers the status and
// counts the bytes of the body for the metrics and the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush sends what is buffered (watch streams need it).
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestInfo travels in the context of every request (ServeHTTP puts it
// there), so that what is learnt while answering it reaches the access log
// even though handlers work on requests derived from the one ServeHTTP saw.
type requestInfo struct {
	user   string    // the authenticated user, once known
	srv    *Server   // for answers that depend on what the user may read (schema.go)
	start  time.Time // when the request arrived
	parked bool      // a long-poll the watch hub answers later (watch.go)
}

type requestInfoKey struct{}

// noteUser records the authenticated user of the request whose context is
// ctx, for the access log. Authentication calls it once it knows the user.
func noteUser(ctx context.Context, user string) {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		ri.user = user
	}
}
