package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	*httpops.Metrics
	access   *httpops.AccessLog // nil when there is no access log
	requests chan struct{}      // a slot per request in flight; nil: no cap
}

func newOperations(s *Server, o *Options) *operations {
	store := []prometheus.Collector{
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
	}
	if sz, ok := s.store.(sizer); ok {
		store = append(store, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "verso_store_size_bytes",
			Help: "Size of the store's data file.",
		}, func() float64 { return float64(sz.Size()) }))
	}
	ops := &operations{Metrics: httpops.NewMetrics(s.log, store...)}
	if o.AccessLog != nil {
		ops.access = httpops.NewAccessLog(o.AccessLog)
	}
	if o.MaxRequests > 0 {
		ops.requests = make(chan struct{}, o.MaxRequests)
	}
	return ops
}

// ServeHTTP answers a request: the operations endpoints (/metrics), then
// everything else through dispatch, measured, logged and held to the cap
// on concurrent requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ops := s.ops
	start := time.Now()
	info := &requestInfo{srv: s, start: start}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	rec := &httpops.Recorder{ResponseWriter: w}
	long := longLived(r)
	if long {
		ops.Watchers.Inc()
		defer ops.Watchers.Dec()
	}
	ops.InFlight.Inc()
	defer func() {
		ops.InFlight.Dec()
		if info.parked {
			return // counted and logged when the watch hub answers it
		}
		e := &httpops.Entry{Start: start, Status: rec.Status, Bytes: rec.Bytes}
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
		ops.Metrics.ServeHTTP(rec, r)
		return
	}
	// The body first, without a slot (httpops.BodyLimits).
	if err := s.body.Read(w, r, s.max); err != nil {
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
			ops.Rejected.Inc()
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
	ops.Metrics.Observe(method, e.Status, e.Start, long, commit)
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

// Listener caps the client connections of an http.Server: see
// httpops.Listener.
type Listener = httpops.Listener

// Listener wraps ln so that at most max client connections are open at
// once (max <= 0: no cap, but connections are still counted in the
// metrics). See the Listener type.
func (s *Server) Listener(ln net.Listener, max int) *Listener {
	return httpops.NewListener(ln, max, s.ops.Metrics)
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

// requestInfo travels in the context of every request (ServeHTTP puts it
// there), so that what is learnt while answering it reaches the access log
// even though handlers work on requests derived from the one ServeHTTP saw.
type requestInfo struct {
	user   string     // the authenticated user, once known
	srv    *Server    // for answers that depend on what the user may read (schema.go)
	start  time.Time  // when the request arrived
	parked bool       // a long-poll the watch hub answers later (watch.go)
	locks  lockChecks // the lock checks its write made (lockcommit.go)
}

type requestInfoKey struct{}

// noteUser records the authenticated user of the request whose context is
// ctx, for the access log. Authentication calls it once it knows the user.
func noteUser(ctx context.Context, user string) {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		ri.user = user
	}
}
