package httpops

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of the HTTP surface, with the Go
// runtime's and the process's, served by ServeHTTP (at /metrics).
type Metrics struct {
	handler  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// InFlight is the number of requests being answered now.
	InFlight prometheus.Gauge
	// Rejected counts the requests refused with 503 because the cap on
	// concurrent requests was reached.
	Rejected prometheus.Counter
	// Commits counts the revisions committed through the HTTP surface.
	Commits prometheus.Counter
	// Watchers is the number of open watch streams and long-polls,
	// exported as verso_watchers.
	Watchers prometheus.Gauge

	conns         prometheus.Gauge
	connsAccepted prometheus.Counter
	connsEvicted  prometheus.Counter
}

// latencyBuckets suit a service whose reads are answered from memory in
// well under a millisecond and whose writes wait for an fsync.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics returns the HTTP surface's metrics, served with more (the
// store's, say). Errors serving them go to log.
func NewMetrics(log *slog.Logger, more ...prometheus.Collector) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verso_http_requests_total",
			Help: "HTTP requests answered, by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "verso_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and status code (watch streams and long-polls left out).",
			Buckets: latencyBuckets,
		}, []string{"method", "code"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verso_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		Rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verso_http_requests_rejected_total",
			Help: "HTTP requests refused with 503 because --max-requests were in flight.",
		}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{
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
		Watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verso_watchers",
			Help: "Open watch streams and long-polls.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.InFlight, m.Rejected,
		m.Commits, m.conns, m.connsAccepted, m.connsEvicted, m.Watchers,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(more...)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}})
	return m
}

// slogPrinter lets promhttp report errors to the server's log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("serving metrics", "err", fmt.Sprint(v...))
}

// ServeHTTP serves the metrics in Prometheus' text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Observe counts a request answered with status, which arrived at start:
// in the latency histogram unless it is long-lived (a watch stream or a
// long-poll), and in the commits if it made one. Methods outside the HTTP
// and WebDAV ones verso answers are counted as OTHER.
func (m *Metrics) Observe(method string, status int, start time.Time, long, commit bool) {
	l, code := methodLabel(method), strconv.Itoa(status)
	m.requests.WithLabelValues(l, code).Inc()
	if !long {
		m.duration.WithLabelValues(l, code).Observe(time.Since(start).Seconds())
	}
	if commit {
		m.Commits.Inc()
	}
}

// Request returns the request counter and the latency histogram of
// method and status, for a front that counts its requests itself.
func (m *Metrics) Request(method string, status int) (prometheus.Counter, prometheus.Observer) {
	code := strconv.Itoa(status)
	return m.requests.WithLabelValues(method, code), m.duration.WithLabelValues(method, code)
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

// Recorder is a ResponseWriter that remembers the status and counts the
// bytes of the body, for the metrics and the access log.
type Recorder struct {
	http.ResponseWriter
	Status int   // the status written, once one is
	Bytes  int64 // of the body written
}

func (r *Recorder) WriteHeader(code int) {
	if r.Status == 0 && code >= 200 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.Bytes += int64(n)
	return n, err
}

// Flush sends what is buffered (watch streams need it).
func (r *Recorder) Flush() {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
