package server

import (
	"context"
	"net/http"
	"net/url"
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
// whenever handlePut would do anything else. A write refused by the value
// limit or by the commit (a schema, a missing namespace) it answers as
// handlePut does, with writeError's answer; a failure of the server's
// (5xx: a store closed, damaged or out of space) it leaves to net/http.
func (ls laneServer) Put(req fastlane.PutRequest) (fastlane.PutResult, bool) {
	s, p, value := ls.s, req.Path, req.Value
	// An import or a PUT on a namespace (405) are net/http's; so is
	// anything a lock protects, since a request without an If header
	// submits no token.
	heads, _ := s.store.(verso.HeadReader)
	if heads == nil {
		return fastlane.PutResult{}, false
	}
	cur, exists := heads.HeadEntry(p)
	if exists && cur.Kind != verso.KindKey {
		return fastlane.PutResult{}, false
	}
	// The parent's membership is checked whether or not the key exists
	// here: on a cluster this server's copy of the tree may not have a
	// delete through another server yet, so a lock on the namespace's
	// members sends the PUT to net/http, whose consistent read decides.
	var checked lockChecks
	if s.locks.Sync(context.Background()) != nil ||
		checked.check(s, func() error { return s.locks.Confirm(p, false, true, nil) }) != nil {
		return fastlane.PutResult{}, false
	}
	ops := s.ops
	if ops.requests != nil {
		select {
		case ops.requests <- struct{}{}:
			defer func() { <-ops.requests }()
		default:
			return fastlane.PutResult{}, false // net/http answers 503, or serves it if a slot is free by then
		}
	}
	ops.InFlight.Inc()
	defer ops.InFlight.Dec()
	if int64(len(value)) > s.max {
		return ls.refused(req, errorf(http.StatusRequestEntityTooLarge, "value of %d bytes exceeds the limit of %d bytes", len(value), s.max))
	}
	// A lock granted since the check is found by the commit, which then
	// refuses it, nothing done (lockcommit.go).
	c, err := s.commitChecked(context.Background(), &verso.Txn{
		Message: "PUT " + string(p),
		Ops:     []verso.Op{{Kind: verso.OpPut, Path: p, Value: value, ContentType: detectType(req.ContentType, value)}},
	}, &checked)
	if statusOf(err) == http.StatusLocked {
		// A lock granted since the check: net/http checks the locks as
		// handlePut does (the lane's check is stricter), nothing done.
		return fastlane.PutResult{}, false
	}
	if err != nil {
		return ls.refused(req, err)
	}
	ops.Commits.Inc()
	return fastlane.PutResult{Rev: c.Rev, Created: len(c.Changes) > 0 && c.Changes[0].Action == verso.Added}, true
}

// refused is the answer of handlePut and serveTree to req when its write
// fails with err, for the lane to send; ok is false (net/http is to
// answer) for a failure of the server's own.
func (ls laneServer) refused(req fastlane.PutRequest, err error) (fastlane.PutResult, bool) {
	s := ls.s
	r := &http.Request{
		Method: http.MethodPut,
		URL:    &url.URL{Path: s.mount + string(req.Path)},
		Proto:  "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{},
		Host:   req.Host,
	}
	if req.ContentType != "" {
		r.Header.Set("Content-Type", req.ContentType)
	}
	// As ServeHTTP and identify leave it: an anonymous request.
	r = r.WithContext(context.WithValue(context.Background(), requestInfoKey{}, &requestInfo{srv: s, start: time.Now()}))
	err = s.explainNoParent(r, req.Path, err)
	if statusOf(err) >= 500 {
		return fastlane.PutResult{}, false
	}
	var a answerRecorder
	writeError(&a, r, s.log, err)
	return fastlane.PutResult{Refused: &a.Answer}, true
}

// answerRecorder is the ResponseWriter of an answer the lane sends
// (fastlane.Answer).
type answerRecorder struct{ fastlane.Answer }

func (a *answerRecorder) Header() http.Header {
	if a.Answer.Header == nil {
		a.Answer.Header = http.Header{}
	}
	return a.Answer.Header
}

func (a *answerRecorder) WriteHeader(status int) {
	if a.Status == 0 {
		a.Status = status
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	a.Body = append(a.Body, b...)
	return len(b), nil
}

func (ls laneServer) Metrics(method string, status int) (prometheus.Counter, prometheus.Observer) {
	return ls.s.ops.Request(method, status)
}

func (ls laneServer) BodyStart() time.Time { return ls.s.body.Begin() }

func (ls laneServer) BodyDeadline(start time.Time, n int64) time.Time {
	return ls.s.body.Deadline(start, n)
}
