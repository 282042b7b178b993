// Package server is verso's HTTP surface: the WebDAV tree under the mount
// point (by default /config), the JSON API under /api/v1, and the health
// endpoints. It depends only on the verso.Store interface.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/verso-config/verso"
)

// Options configure a Server. The zero value (or nil) gives the defaults.
type Options struct {
	// Mount is the URL path under which the tree is served; default "/config".
	Mount string
	// MaxValueSize is the largest value a write may carry, in bytes; default
	// 1 MiB. Larger bodies get 413 and nothing is stored.
	MaxValueSize int64
	// Logger receives the server's structured logs; default slog.Default().
	Logger *slog.Logger
	// Clock returns the current time (lock expiry); default time.Now.
	Clock func() time.Time
}

// Server serves one Store over HTTP. It is an http.Handler.
type Server struct {
	store verso.Store
	opts  Options
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Server for store.
func New(store verso.Store, opts *Options) *Server {
	s := &Server{store: store}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Mount == "" {
		s.opts.Mount = "/config"
	}
	if s.opts.MaxValueSize <= 0 {
		s.opts.MaxValueSize = 1 << 20
	}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.now = s.opts.Clock
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// ServeHTTP dispatches a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented yet", http.StatusNotImplemented)
}
