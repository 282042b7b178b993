package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/fastlane"
)

// Front serves a Server's port with the fast lane (internal/fastlane) in
// front of net/http: plain GETs, HEADs and PUTs of keys are answered there,
// everything else by the Server through the http.Server.
type Front = fastlane.Front

// NewFront returns a front for s, handing the requests its lane does not
// answer to hs, whose Handler serves them (usually s itself, perhaps
// wrapped). The lane is off (every connection goes to hs) when s writes an
// access log, which the lane does not, or when s's store cannot read
// entries at head without allocating (verso.HeadReader). It takes PUTs only
// for a store with no separate consistent read: handlePut checks the
// current entry through getConsistent, which for such a store is the lane's
// HeadEntry.
func NewFront(s *Server, hs *http.Server) *Front {
	heads, _ := s.store.(verso.HeadReader)
	_, consistent := s.store.(verso.ConsistentReader)
	return fastlane.New(fastlane.Config{
		Server: laneServer{s},
		Heads:  heads,
		HTTP:   hs,
		Log:    s.log,
		Off:    s.ops.access != nil,
		Puts:   !consistent,
	})
}

// laneServer is what the fast lane asks of a Server (fastlane.Server): the
// parts of ServeHTTP, handleGet and handlePut that it shares.
type laneServer struct{ s *Server }

var _ fastlane.Server = laneServer{}

// TreePath is the routing dispatch uses for the tree (treePath), so the
// lane answers only what serveTree would.
func (ls laneServer) TreePath(path string) (string, bool) { return ls.s.treePath(path) }

func (ls laneServer) AnonymousMay(p verso.Path, write bool) bool {
	if write {
		return ls.s.auth.Allowed("", p, Write.rights())
	}
	return ls.s.anonymousCanRead(p)
}

// Put is handlePut for a request with nothing but a body and perhaps a
// Content-Type, and no credentials: its checks in its order, with the
// request slot ServeHTTP would take. It declines (ok false, nothing done)
// whenever handlePut would do anything else, or the commit fails.
func (ls laneServer) Put(p verso.Path, value []byte, contentType string) (rev verso.Revision, created, ok bool) {
	s := ls.s
	if int64(len(value)) > s.max {
		return 0, false, false
	}
	// An import or a PUT on a namespace (405) are net/http's; so is
	// anything a lock protects, since a request without an If header
	// submits no token.
	heads, _ := s.store.(verso.HeadReader)
	if heads == nil {
		return 0, false, false
	}
	cur, exists := heads.HeadEntry(p)
	if exists && cur.Kind != verso.KindKey {
		return 0, false, false
	}
	if s.locks.Confirm(p, false, !exists, nil) != nil {
		return 0, false, false
	}
	ops := s.ops
	if ops.requests != nil {
		select {
		case ops.requests <- struct{}{}:
			defer func() { <-ops.requests }()
		default:
			return 0, false, false // net/http answers 503, or serves it if a slot is free by then
		}
	}
	ops.httpInFlight.Inc()
	c, err := s.store.Commit(context.Background(), &verso.Txn{
		Message: "PUT " + string(p),
		Ops:     []verso.Op{{Kind: verso.OpPut, Path: p, Value: value, ContentType: detectType(contentType, value)}},
	})
	ops.httpInFlight.Dec()
	if err != nil {
		return 0, false, false
	}
	ops.commits.Inc()
	return c.Rev, len(c.Changes) > 0 && c.Changes[0].Action == verso.Added, true
}

func (ls laneServer) Metrics(method string, status int) (prometheus.Counter, prometheus.Observer) {
	code := strconv.Itoa(status)
	return ls.s.ops.httpRequests.WithLabelValues(method, code), ls.s.ops.httpDuration.WithLabelValues(method, code)
}

func (ls laneServer) BodyStart() time.Time { return ls.s.body.begin() }

func (ls laneServer) BodyDeadline(start time.Time, n int64) time.Time {
	return ls.s.body.deadline(start, n)
}
