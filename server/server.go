package server

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/auth"
	"github.com/verso-config/verso/internal/dav"
	"github.com/verso-config/verso/internal/fastlane"
	"github.com/verso-config/verso/internal/httpops"
	"github.com/verso-config/verso/internal/watchhub"
	"github.com/verso-config/verso/svn"
)

// Options configure a Server. The zero value (or nil) gives the defaults.
type Options struct {
	// Mount is the URL path under which the tree is served; default
	// "/config", so the ancestor's URLs (http://HOST/config/ns/key) work.
	Mount string
	// MaxValueSize is the largest value a write may carry, in bytes; default
	// 1 MiB. Larger bodies get 413 and nothing is stored.
	MaxValueSize int64
	// SVNUUID is the repository UUID the svn client sees; default one
	// derived from Mount (svn.Handler.UUID).
	SVNUUID string
	// Logger receives the server's structured logs; default slog.Default().
	Logger *slog.Logger
	// Clock returns the current time (lock expiry); default time.Now.
	Clock func() time.Time
	// Auth authenticates users and holds the path rules (package auth);
	// nil lets everyone do everything, anonymously (access.go).
	Auth *auth.Auth
	// WatchHeartbeat is how often an idle watch stream gets a keepalive
	// comment, so that proxies keep it open; default 15s.
	WatchHeartbeat time.Duration
	// WatchBuffer is how many commits a watcher may fall behind before it
	// is disconnected with the revision to resume from; default 256.
	WatchBuffer int
	// AccessLog, if not nil, receives one line per request in the Apache
	// combined log format, with the authenticated user (internal/httpops).
	AccessLog io.Writer
	// MaxRequests caps the requests answered at once; more get 503 with
	// Retry-After. Watch streams, long-polls and the health endpoints do
	// not count. 0 means no cap. A request takes its slot once the first
	// 64 KiB of its body (all of it, for almost every request) have
	// arrived, so that clients slow to send bodies hold none; one whose
	// body is announced larger than MaxValueSize takes it at once.
	MaxRequests int
	// Console, if not nil, answers every request under /ui/ (package ui):
	// static files that need no user, which reach the tree only through
	// the API.
	Console http.Handler
	// BodyTimeout is how long a request body may take to arrive in full,
	// from the end of the request's head; default 60s, negative for no
	// limit. A body too slow gets 408 and its connection is closed.
	BodyTimeout time.Duration
	// BodyMinRate is the least a request body must average, in bytes a
	// second, once BodyGrace has passed since the end of the request's
	// head; default 1 KiB/s, negative for no minimum.
	BodyMinRate int64
	// BodyGrace is how long a body may send nothing before BodyMinRate
	// applies; default 10s (or BodyTimeout, if shorter). Each request's
	// grace is lengthened by a random part of up to half of it, so that
	// bodies stalled together are not all ended together.
	BodyGrace time.Duration
}

// Header names verso reads and writes. They are documented in docs/HTTP.md.
const (
	// HeaderRevision, on responses, is the revision at which the key last
	// changed (for a namespace: anything below it); on writes, the revision
	// the write made.
	HeaderRevision = fastlane.HeaderRevision
	// HeaderMessage, on write requests, sets the commit message.
	HeaderMessage = "X-Verso-Message"
)

// The defaults of Options.BodyTimeout, BodyMinRate and BodyGrace.
const (
	defaultBodyTimeout = 60 * time.Second
	defaultBodyMinRate = 1 << 10 // bytes a second
	defaultBodyGrace   = 10 * time.Second
)

// maxMessageLen caps a commit message given in HeaderMessage.
const maxMessageLen = 4096

// Server serves one Store over HTTP. It is an http.Handler.
type Server struct {
	store verso.Store
	mount string // without a trailing slash; "" when mounted at the root
	max   int64
	log   *slog.Logger
	now   func() time.Time
	locks dav.Locks // in memory, or in the store's verso.LockTable
	// locksChecked, in tests, runs between a write's lock checks and its
	// commit (lockcommit.go).
	locksChecked func()
	api          *http.ServeMux
	auth         *auth.Auth // nil: everyone may do everything (access.go)

	watch       *watchhub.Hub // watch streams and long-polls (watch.go)
	visibleRevs visibleRevs   // namespaces' revisions as users see them (visible.go)

	ops  *operations        // metrics, access log, request cap (metrics.go)
	body httpops.BodyLimits // how fast request bodies must arrive

	console http.Handler // under /ui/, nil for none
	svn     *svn.Handler // the Subversion client's requests (svn.go)
}

// New returns a Server for store.
func New(store verso.Store, opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Mount == "" {
		o.Mount = "/config"
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.WatchHeartbeat <= 0 {
		o.WatchHeartbeat = defaultWatchHeartbeat
	}
	if o.WatchBuffer <= 0 {
		o.WatchBuffer = defaultWatchBuffer
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = defaultBodyTimeout
	}
	if o.BodyMinRate == 0 {
		o.BodyMinRate = defaultBodyMinRate
	}
	if o.BodyGrace <= 0 {
		o.BodyGrace = defaultBodyGrace
		if o.BodyTimeout > 0 {
			o.BodyGrace = min(o.BodyGrace, o.BodyTimeout)
		}
	}
	s := &Server{
		store: store,
		mount: strings.TrimSuffix(o.Mount, "/"),
		max:   o.MaxValueSize,
		log:   o.Logger,
		now:   o.Clock,
		auth:  o.Auth,

		console: o.Console,

		body: httpops.BodyLimits{Timeout: max(o.BodyTimeout, 0), Rate: max(o.BodyMinRate, 0), Grace: o.BodyGrace},
	}
	_, consistent := store.(verso.ConsistentReader)
	if lt, ok := store.(verso.LockTable); ok && consistent {
		s.locks = dav.NewSharedLocks(lt, o.Clock)
	} else {
		s.locks = dav.NewLockManager(o.Clock)
	}
	s.ops = newOperations(s, &o)
	s.watch = s.newWatchHub(o.WatchBuffer, o.WatchHeartbeat)
	s.svn = s.newSVN(o.SVNUUID)
	s.api = s.routes()
	return s
}

// dispatch answers a request (ServeHTTP, in metrics.go, measures and logs
// it first): the health endpoints and the JSON API first, then the tree.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch path {
	case "/healthz":
		s.handleHealth(w, r)
		return
	case "/readyz":
		s.handleReady(w, r)
		return
	}
	if err := checkOrigin(r); err != nil { // no writes from other sites' pages (origin.go)
		writeError(w, r, s.log, err)
		return
	}
	if s.console != nil && (path == "/ui" || strings.HasPrefix(path, "/ui/")) {
		s.console.ServeHTTP(w, r)
		return
	}
	r, err := s.identify(r) // who asks, once for every check (access.go)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if strings.HasPrefix(path, apiPrefix) {
		s.api.ServeHTTP(w, r)
		return
	}
	if rel, ok := s.treePath(path); ok {
		if s.serveSVN(w, r, rel) {
			return
		}
		s.serveTree(w, r, rel)
		return
	}
	writeError(w, r, s.log, errorf(http.StatusNotFound, "not found: the configuration tree is under %s/", s.mount))
}

// inMount returns the part of a URL path below the mount point.
func (s *Server) inMount(urlPath string) (string, bool) {
	if s.mount == "" {
		return urlPath, true
	}
	rest, ok := strings.CutPrefix(urlPath, s.mount)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return rest, true
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// handleReady answers 200 when the store is open and accepts commits
// (storeReady, in metrics.go), 503 otherwise.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := s.storeReady(r.Context()); err != nil {
		writeError(w, r, s.log, errorf(http.StatusServiceUnavailable, "not ready: %v", err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}

// treePath is the path below the mount of a request for path when the tree
// answers it, and false when /metrics (ServeHTTP), the health endpoints,
// the JSON API or the console do, or path is outside the mount. dispatch
// and the fast lane both route by it, so the two cannot disagree.
func (s *Server) treePath(path string) (string, bool) {
	if path == "/metrics" || path == "/healthz" || path == "/readyz" || strings.HasPrefix(path, apiPrefix) ||
		s.console != nil && (path == "/ui" || strings.HasPrefix(path, "/ui/")) {
		return "", false
	}
	return s.inMount(path)
}
